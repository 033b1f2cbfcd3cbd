package main

import (
	"strings"
	"testing"
)

// TestCapacityBadInput checks that meshsim capacity refuses bad flags and
// services with exit 2 and a message naming the flag, before anything
// starts.
func TestCapacityBadInput(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"capacity", "bookingapp-canary", "--service", "nope"}, `--service "nope" is not a service of scenario bookingapp-canary`},
		{[]string{"capacity", "bookingapp-canary", "--service", "movie", "--version", "v9"}, `--version "v9" is not a version of service movie`},
		{[]string{"capacity", "capacity-movie", "--slo", "200ms"}, `--slo "200ms": want pNN=DURATION`},
		{[]string{"capacity", "capacity-movie", "--error-budget", "120%"}, `--error-budget "120%"`},
		{[]string{"capacity", "capacity-movie", "--target-rate", "-5"}, "--target-rate must be between"},
		{[]string{"capacity", "capacity-movie", "--max-tasks", "0"}, "--max-tasks must be between 1 and 64"},
		{[]string{"capacity", "capacity-movie", "--step", "10ms"}, "--step must be between 500ms and 10m"},
		{[]string{"capacity", "capacity-movie", "--runtime", "vm"}, `--runtime "vm": want inproc or docker`},
		{[]string{"capacity", "grpc-echo-blue-green"}, "speaks gRPC: capacity sweeps drive HTTP load only"},
		{[]string{"capacity", "no-such-scenario"}, "no-such-scenario"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args[1:], " "), func(t *testing.T) {
			_, stderr, code := execute(t, tc.args...)
			if code != exitBadInput || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, exitBadInput, tc.want)
			}
		})
	}
}
