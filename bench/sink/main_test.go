package main

import "testing"

func TestCheckLoopback(t *testing.T) {
	f := func(addr string, ok bool) {
		t.Helper()
		if err := checkLoopback(addr); (err == nil) != ok {
			t.Errorf("checkLoopback(%q) = %v, want ok=%v", addr, err, ok)
		}
	}
	f("127.0.0.1:0", true)
	f("localhost:8428", true)
	f("[::1]:8428", true)
	f(":8428", false)
	f("0.0.0.0:8428", false)
	f("10.1.2.3:8428", false)
	f("127.0.0.1", false)
}
