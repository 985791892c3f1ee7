package vmclient

import (
	"bytes"
	"errors"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
)

// Verdict is what an upstream answer means for the data sent.
type Verdict uint8

const (
	// Accepted: any 2xx. The data is stored.
	Accepted Verdict = iota
	// Retryable: 429 and 5xx (overloaded or failing), and every transport
	// error (down, refusing, timing out). Keep the data and send it again.
	Retryable
	// Permanent: every other answer (400, 409, other 4xx, 1xx and 3xx): the
	// upstream refuses this data for good; sending it again fails again.
	Permanent
)

func (v Verdict) String() string {
	switch v {
	case Accepted:
		return "accepted"
	case Retryable:
		return "retryable"
	}
	return "permanent"
}

// Classify returns the verdict of a status code. It is the one place that
// decides what is retried: remote-write senders keep and retry a block on
// 429 and 5xx and drop it on 4xx, and slogate does the same with its own
// writes and maps forwarded answers accordingly.
func Classify(code int) Verdict {
	switch {
	case code/100 == 2:
		return Accepted
	case code == fasthttp.StatusTooManyRequests || code >= 500:
		return Retryable
	}
	return Permanent
}

// StatusError is an upstream answer that is not an acceptance.
type StatusError struct {
	Code int
	// Body is the first line of the answer, at most 1 KiB.
	Body string
}

func (e *StatusError) Error() string {
	return "upstream answered " + strconv.Itoa(e.Code) + ": " + e.Body
}

// IsRetryable reports whether an error of this package means "keep the data
// and try again": a transport error or a retryable status.
func IsRetryable(err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		return Classify(se.Code) == Retryable
	}
	return err != nil
}

// TransportReason names a transport error for self-metrics: "timeout",
// "too_large" (an answer over MaxResponseBodySize) or "connect".
func TransportReason(err error) string {
	switch {
	case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, fasthttp.ErrDialTimeout):
		return "timeout"
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return "too_large"
	}
	return "connect"
}

// RetryAfter is the Retry-After value (whole seconds) for a sender asked to
// come back: the upstream's own when resp carries a positive number of
// seconds, else def rounded to seconds. Never 0: a sender retrying at once
// would only add load to an upstream that is already failing. resp may be
// nil.
func RetryAfter(resp *fasthttp.Response, def time.Duration) string {
	if resp != nil {
		if v := resp.Header.Peek("Retry-After"); len(v) > 0 {
			if n, err := strconv.Atoi(string(v)); err == nil && n > 0 {
				return string(v)
			}
		}
	}
	return strconv.Itoa(int(max(def.Round(time.Second), time.Second) / time.Second))
}

// FirstLine returns b up to its first newline, at most max bytes: enough of
// an error body for a log line or an answer.
func FirstLine(b []byte, max int) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	if len(b) > max {
		b = b[:max]
	}
	return b
}
