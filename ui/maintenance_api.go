package ui

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/slogate/slogate/maintenance"
	"github.com/slogate/slogate/store"
)

// maxMaintenanceBody bounds a maintenance request body while it is read.
// A larger body is read and discarded (in a fixed buffer) for at most
// maxMaintenanceDrain before the 413, so that a sender still writing reads
// the answer instead of a reset connection; past it the connection is
// closed.
const (
	maxMaintenanceBody  = 64 << 10
	maxMaintenanceDrain = 10 * time.Second
)

// Token is a bearer token of the mutating API calls and its name, which
// the audit log records as the actor of each change.
type Token struct {
	Name, Secret string
}

// MaintenanceAPI serves /slogate/api/v1/maintenance.
type MaintenanceAPI struct {
	Store *store.Maintenance
	// Tokens are the bearer tokens for mutations; none refuses them (403).
	Tokens []Token
	Now    func() time.Time
}

// MaintenanceWindowJSON is a maintenance window as the API shows it.
type MaintenanceWindowJSON struct {
	ID      string `json:"id"`
	Source  string `json:"source"` // "config" or "api"
	Created string `json:"created"`
	maintenance.Spec
	// Active says whether the window covers now; Next is the start of the
	// next occurrence within 90 days (absent when none).
	Active  bool    `json:"active"`
	Next    *string `json:"next,omitempty"`
	NextEnd *string `json:"nextEnd,omitempty"`
}

// maintenancePath is the base path of the maintenance API.
const maintenancePath = "/slogate/api/v1/maintenance"

// Handle serves maintenancePath and the paths below it.
func (a *MaintenanceAPI) Handle(ctx *fasthttp.RequestCtx) {
	const base = maintenancePath
	path := string(ctx.Path())
	switch {
	case path == base:
		switch {
		case ctx.IsGet() || ctx.IsHead():
			a.list(ctx)
		case ctx.IsPost():
			if actor, ok := a.authorized(ctx); ok {
				a.create(ctx, actor)
			}
		default:
			methodNotAllowed(ctx, "GET, POST")
		}
	case path == base+"/audit":
		if !ctx.IsGet() && !ctx.IsHead() {
			methodNotAllowed(ctx, "GET")
			return
		}
		writeJSON(ctx, fasthttp.StatusOK, map[string]any{"entries": a.Store.Audit()})
	case strings.HasPrefix(path, base+"/"):
		id := strings.TrimPrefix(path, base+"/")
		switch {
		case ctx.IsGet():
			for _, m := range a.Store.List() {
				if m.ID == id {
					writeJSON(ctx, fasthttp.StatusOK, a.windowJSON(m))
					return
				}
			}
			apiError(ctx, fasthttp.StatusNotFound, "", "no such maintenance window: "+id)
		case ctx.IsDelete():
			if actor, ok := a.authorized(ctx); ok {
				a.delete(ctx, id, actor)
			}
		case ctx.IsPut():
			if actor, ok := a.authorized(ctx); ok {
				a.update(ctx, id, actor)
			}
		default:
			methodNotAllowed(ctx, "GET, PUT, DELETE")
		}
	default:
		ctx.Error("not found\n", fasthttp.StatusNotFound)
	}
}

// authorized checks the bearer token in constant time against every
// token (no early exit: the time taken does not say which one nearly
// matched) and returns the name of the one that matched. Without a token
// file every mutation is refused: an open write API on an SLA figure is not
// a safe default.
func (a *MaintenanceAPI) authorized(ctx *fasthttp.RequestCtx) (actor string, ok bool) {
	if len(a.Tokens) == 0 {
		apiError(ctx, fasthttp.StatusForbidden, "", "maintenance changes are disabled: start slogate with -api.tokenFile=<file holding a bearer token>")
		return "", false
	}
	got, hasBearer := bytes.CutPrefix(ctx.Request.Header.Peek("Authorization"), []byte("Bearer "))
	got = bytes.TrimSpace(got)
	match := -1
	for i, t := range a.Tokens {
		if subtle.ConstantTimeCompare(got, []byte(t.Secret)) == 1 {
			match = i
		}
	}
	if !hasBearer || match < 0 {
		apiError(ctx, fasthttp.StatusUnauthorized, "", "missing or wrong bearer token (Authorization: Bearer <token>)")
		ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="slogate"`)
		return "", false
	}
	return a.Tokens[match].Name, true
}

func (a *MaintenanceAPI) list(ctx *fasthttp.RequestCtx) {
	ms := a.Store.List()
	out := make([]MaintenanceWindowJSON, len(ms))
	for i, m := range ms {
		out[i] = a.windowJSON(m)
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"windows": out, "retroactiveLimit": a.Store.Limit().String()})
}

// readBody reads a request body of at most maxMaintenanceBody bytes,
// answering 413/400 itself. The server streams request bodies, so the
// limit holds while reading: a larger body, also a chunked one without a
// Content-Length, costs no more memory than the limit.
func readBody(ctx *fasthttp.RequestCtx) ([]byte, bool) {
	const tooLarge = "body larger than 64 KiB"
	if !ctx.Request.IsBodyStream() {
		body := ctx.Request.Body()
		if len(body) > maxMaintenanceBody {
			apiError(ctx, fasthttp.StatusRequestEntityTooLarge, "", tooLarge)
			return nil, false
		}
		return body, true
	}
	stream := ctx.RequestBodyStream()
	var body []byte
	if ctx.Request.Header.ContentLength() <= maxMaintenanceBody {
		var err error
		if body, err = io.ReadAll(io.LimitReader(stream, maxMaintenanceBody+1)); err != nil {
			apiError(ctx, fasthttp.StatusBadRequest, "", "cannot read request body: "+err.Error())
			return nil, false
		}
		if len(body) <= maxMaintenanceBody {
			return body, true
		}
	}
	for start := time.Now(); ; {
		if _, err := io.CopyN(io.Discard, stream, 1<<20); err != nil {
			break
		}
		if time.Since(start) > maxMaintenanceDrain {
			ctx.SetConnectionClose()
			break
		}
	}
	apiError(ctx, fasthttp.StatusRequestEntityTooLarge, "", tooLarge)
	return nil, false
}

// readSpec decodes a request body into a spec, answering 400/413 itself.
func readSpec(ctx *fasthttp.RequestCtx) (maintenance.Spec, bool) {
	var spec maintenance.Spec
	body, ok := readBody(ctx)
	if !ok {
		return spec, false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		field := ""
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			field = te.Field
		}
		apiError(ctx, fasthttp.StatusBadRequest, field, "cannot parse maintenance window JSON: "+err.Error())
		return spec, false
	}
	return spec, true
}

func (a *MaintenanceAPI) create(ctx *fasthttp.RequestCtx, actor string) {
	spec, ok := readSpec(ctx)
	if !ok {
		return
	}
	m, err := a.Store.Create(spec, actor)
	if err != nil {
		storeError(ctx, err)
		return
	}
	ctx.Response.Header.Set("Location", "/slogate/api/v1/maintenance/"+m.ID)
	writeJSON(ctx, fasthttp.StatusCreated, a.windowJSON(m))
}

func (a *MaintenanceAPI) update(ctx *fasthttp.RequestCtx, id, actor string) {
	spec, ok := readSpec(ctx)
	if !ok {
		return
	}
	m, err := a.Store.Update(id, spec, actor)
	if err != nil {
		storeError(ctx, err)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, a.windowJSON(m))
}

func (a *MaintenanceAPI) delete(ctx *fasthttp.RequestCtx, id, actor string) {
	q := ctx.QueryArgs()
	author, reason := string(q.Peek("author")), string(q.Peek("reason"))
	body, ok := readBody(ctx)
	if !ok {
		return
	}
	if len(body) > 0 {
		var b struct{ Author, Reason string }
		if err := json.Unmarshal(body, &b); err != nil {
			apiError(ctx, fasthttp.StatusBadRequest, "", "cannot parse body: "+err.Error())
			return
		}
		author, reason = b.Author, b.Reason
	}
	m, err := a.Store.Delete(id, author, reason, actor)
	if err != nil {
		storeError(ctx, err)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, a.windowJSON(m))
}

// storeError maps store errors to status codes: validation errors (the
// window is well-formed JSON but not a valid window, or too old) are 422
// and name the field.
func storeError(ctx *fasthttp.RequestCtx, err error) {
	var fe *maintenance.FieldError
	switch {
	case errors.As(err, &fe):
		apiError(ctx, fasthttp.StatusUnprocessableEntity, fe.Field, err.Error())
	case errors.Is(err, store.ErrTooManyWindows):
		apiError(ctx, fasthttp.StatusUnprocessableEntity, "", err.Error())
	case errors.Is(err, store.ErrNotFound):
		apiError(ctx, fasthttp.StatusNotFound, "", err.Error())
	case errors.Is(err, store.ErrFromConfig):
		apiError(ctx, fasthttp.StatusConflict, "", err.Error())
	default:
		apiError(ctx, fasthttp.StatusInternalServerError, "", err.Error())
	}
}

// apiError answers {"error": msg, "field": field}.
func apiError(ctx *fasthttp.RequestCtx, code int, field, msg string) {
	body := map[string]string{"error": msg}
	if field != "" {
		body["field"] = field
	}
	writeJSON(ctx, code, body)
}

func (a *MaintenanceAPI) windowJSON(m *maintenance.Window) MaintenanceWindowJSON {
	now := a.Now()
	w := MaintenanceWindowJSON{ID: m.ID, Source: m.Source, Created: m.Created.UTC().Format(time.RFC3339), Spec: m.Spec()}
	iv := m.AppendIntervals(nil, now.UnixMilli(), now.Add(90*24*time.Hour).UnixMilli())
	if len(iv) > 0 {
		if iv[0].Start <= now.UnixMilli() {
			w.Active = true
		}
		s := time.UnixMilli(iv[0].Start).UTC().Format(time.RFC3339)
		e := time.UnixMilli(iv[0].End).UTC().Format(time.RFC3339)
		w.Next, w.NextEnd = &s, &e
	}
	return w
}
