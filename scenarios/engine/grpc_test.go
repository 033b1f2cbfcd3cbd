package engine_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshsim/meshsim/scenarios"
)

// TestGRPCEchoBlueGreen runs the gRPC echo tutorial with short steps: unary
// calls follow the route's weights, and the long-lived streams, routed when
// they opened, all stay on 0.9 even once 1.0 has 100% of the weight.
func TestGRPCEchoBlueGreen(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end rehearsal; skipped with -short")
	}
	sc, err := scenarios.Builtin("grpc-echo-blue-green")
	if err != nil {
		t.Fatal(err)
	}
	// Half the scenario's rate and a fifth of its streams; the routing is
	// judged (weight-binomial, no-message-lost), not whether a host busy
	// with other work answered every call within its deadline (the
	// instrument's limits judge that).
	sc.Load.Rate, sc.Load.Streams = 100, 40
	for i := range sc.Rollout.Steps {
		sc.Rollout.Steps[i].Bake = 2 * time.Second
	}
	sc.Asserts = slices.DeleteFunc(sc.Asserts, func(a scenarios.Assertion) bool { return a.Kind == "no-failed-requests" })
	_, rep := runScenario(t, sc)
	if !rep.Passed() {
		t.Errorf("assertions failed: %+v", rep.Assertions)
	}
	// A quarter of the calls planned (100/s for 6 s).
	if rep.Run.Totals.Requests < 150 {
		t.Errorf("only %d unary calls", rep.Run.Totals.Requests)
	}
	last := rep.Steps[len(rep.Steps)-1]
	if last.Streams == nil {
		t.Fatal("no stream figures in the last step")
	}
	for _, v := range last.Streams.Versions {
		if v.Version == "1.0" && v.AtEnd > 0 {
			t.Errorf("%d streams moved to 1.0; a stream should stay where it opened", v.AtEnd)
		}
		if v.Version == "0.9" && v.AtEnd != 40 {
			t.Errorf("%d streams on 0.9 at the end, want all 40", v.AtEnd)
		}
	}
}

// TestGRPCStreamsRolling runs the streaming rolling update: the graceful
// tasks end their streams with a drain status, the abrupt ones reset them,
// and every stream resumes on a new task without losing a message.
func TestGRPCStreamsRolling(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end rehearsal; skipped with -short")
	}
	sc, err := scenarios.Builtin("grpc-streams-rolling")
	if err != nil {
		t.Fatal(err)
	}
	sc.Load.Streams = 30
	_, rep := runScenario(t, sc)
	if !rep.Passed() {
		t.Errorf("assertions failed: %+v", rep.Assertions)
	}
	kinds := map[string]int{}
	for _, s := range rep.Steps {
		if s.Streams == nil {
			continue
		}
		for k, n := range s.Streams.BreaksByKind {
			if strings.HasPrefix(s.Name, "graceful-drain") {
				kinds["graceful:"+k] += n
			} else if strings.HasPrefix(s.Name, "abrupt-exit") {
				kinds["abrupt:"+k] += n
			}
		}
	}
	if kinds["graceful:drained"] != 30 {
		t.Errorf("graceful drain: breaks %v, want 30 drained", kinds)
	}
	if kinds["abrupt:drained"] != 0 || kinds["abrupt:rst-stream"]+kinds["abrupt:reset"]+kinds["abrupt:eof"] != 30 {
		t.Errorf("abrupt exit: breaks %v, want 30 resets", kinds)
	}
	st := rep.Run.Streams
	if st == nil || st.Resumed != 60 || st.NeverResumed != 0 || st.Lost != 0 {
		t.Errorf("stream totals %+v", st)
	}
	for _, a := range rep.Assertions {
		if a.Kind == "streams-resumed-within" && strings.Contains(a.Message, "slowest 0.00 ms") {
			t.Errorf("resumptions judged without their reconnect times: %s", a.Message)
		}
	}
}
