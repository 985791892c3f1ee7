package testenv

import (
	"testing"
	"time"
)

// pollInterval is how often Eventually re-checks its condition.
const pollInterval = 100 * time.Millisecond

// Eventually calls check until it returns nil and fails the test with the
// last error when timeout passes first. check runs at least once, on the
// calling goroutine, so it may call t.Fatal itself for errors that no
// amount of waiting fixes.
func Eventually(t testing.TB, timeout time.Duration, check func() error) {
	t.Helper()
	if err := Poll(timeout, check); err != nil {
		t.Fatalf("condition not met within %s: %s", timeout, err)
	}
}

// Poll calls check until it returns nil or timeout passes and returns the
// last error. It does not touch a testing.TB, so it works in goroutines.
func Poll(timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(pollInterval)
	}
}
