// Package e2e holds slogate's end-to-end tests: the slogate binary, built by
// the test, between the real VictoriaMetrics (single node and cluster),
// vmagent, vmalert, Sloth's CLI, Caddy and Chromium, all on 127.0.0.1 with free ports and
// stopped when the test ends. Every number is checked against a brute-force
// reference computed from what the test sent.
//
// The tests talk to slogate only over HTTP, as users do: they import
// internal/testenv for processes and remotewrite for encoding requests, and
// no other slogate package.
package e2e
