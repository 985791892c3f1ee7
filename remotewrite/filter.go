package remotewrite

import "fmt"

// AppendWithout appends src, a decompressed WriteRequest, to dst without
// the TimeSeries of which drop reports a metric name (the first __name__ or
// any later label VictoriaMetrics could take for the name), and returns the
// extended slice and how many series it left out. Every other byte (the kept series,
// metadata, unknown fields) is copied unchanged, in order. A series without
// a name is kept. Errors wrap ErrMalformed; dst is then returned unchanged.
//
// It is the rare path of the write proxy (a body that holds forged
// synthetic series): the common path forwards the original bytes.
func AppendWithout(dst, src []byte, drop func(name []byte) bool) ([]byte, int, error) {
	d0 := len(dst)
	dropped := 0
	run := 0 // src[run:i] is kept and not yet appended
	for i := 0; i < len(src); {
		start := i
		field, wt, n := readTag(src[i:])
		if n <= 0 {
			return dst[:d0], 0, malformed("WriteRequest", "bad field tag")
		}
		i += n
		if field != 1 || wt != wireBytes {
			rest, err := skipField(src[i:], wt)
			if err != nil {
				return dst[:d0], 0, fmt.Errorf("cannot skip WriteRequest field %d: %w", field, err)
			}
			i = len(src) - len(rest)
			continue
		}
		msg, rest, err := readBytes(src[i:])
		if err != nil {
			return dst[:d0], 0, fmt.Errorf("cannot read TimeSeries: %w", err)
		}
		i = len(src) - len(rest)
		forged, err := dropSeries(msg, drop)
		if err != nil {
			return dst[:d0], 0, err
		}
		if forged {
			dst = append(dst, src[run:start]...)
			run = i
			dropped++
		}
	}
	return append(dst, src[run:]...), dropped, nil
}

// dropSeries reports whether drop names any metric name of a TimeSeries
// message: its first __name__ or any later label VictoriaMetrics could
// take for the name (see WriteRequest.Unmarshal).
func dropSeries(msg []byte, drop func([]byte) bool) (bool, error) {
	var name []byte
	skip, forged := false, false
	seen := func(n []byte) bool {
		if drop(n) {
			forged = true
		}
		return false
	}
	for len(msg) > 0 {
		field, wt, n := readTag(msg)
		if n <= 0 {
			return false, malformed("TimeSeries", "bad field tag")
		}
		msg = msg[n:]
		if wt != wireBytes {
			var err error
			if msg, err = skipField(msg, wt); err != nil {
				return false, fmt.Errorf("cannot skip TimeSeries field %d: %w", field, err)
			}
			continue
		}
		v, rest, err := readBytes(msg)
		if err != nil {
			return false, fmt.Errorf("cannot read TimeSeries field %d: %w", field, err)
		}
		msg = rest
		if field == 1 {
			if err := scanLabel(v, &name, &skip, seen, nil); err != nil {
				return false, err
			}
		}
	}
	return forged, nil
}
