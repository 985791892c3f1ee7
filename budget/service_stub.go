package budget

// EvaluateServices returns the status of every service SLI of tenant t at
// eval time at (Unix ms). (Placeholder until the engine evaluates
// services: it returns none.)
func (e *Engine) EvaluateServices(t Tenant, at int64) []ServiceStatus {
	return e.AppendServiceStatus(nil, t, at)
}

// AppendServiceStatus is EvaluateServices appending to dst. (Placeholder:
// it appends nothing.)
func (e *Engine) AppendServiceStatus(dst []ServiceStatus, t Tenant, at int64) []ServiceStatus {
	return dst
}
