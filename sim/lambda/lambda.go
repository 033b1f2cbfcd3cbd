// Package lambda stands in for the AWS Lambda functions that ECS lifecycle
// hooks invoke. There is no code to run: an invocation becomes a
// contract.EventHookInvoked event on the world's event stream, and whoever owns the
// function (the scenario engine, judging a gate by its own measurements)
// answers it over HTTP, as the function's return value:
//
//	POST /_meshsim/hooks/{invocationId}
//	{"hookStatus": "SUCCEEDED" | "FAILED", "reason": "..."}
//
// An invocation nobody answers within the timeout fails, as a Lambda hook
// that errors or returns no status does (ECS then rolls back).
package lambda

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/meshsim/meshsim/sim/awsproto"
	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/ecs"
	"github.com/meshsim/meshsim/sim/events"
)

// Functions answers ECS lifecycle hook invocations from the outside. It
// implements ecs.HookRunner and, for the answers, http.Handler.
type Functions struct {
	bus     *events.Bus
	timeout time.Duration

	mu      sync.Mutex
	pending map[string]chan ecs.HookResult
}

// New returns Functions that publish invocations on bus and fail those not
// answered within timeout (default 30s, wall time).
func New(bus *events.Bus, timeout time.Duration) *Functions {
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	return &Functions{bus: bus, timeout: timeout, pending: make(map[string]chan ecs.HookResult)}
}

var _ ecs.HookRunner = (*Functions)(nil)

// RunHook implements ecs.HookRunner: it publishes the invocation and waits
// for its answer.
func (f *Functions) RunHook(ctx context.Context, h ecs.HookInvocation) (ecs.HookResult, error) {
	id := newID()
	answer := make(chan ecs.HookResult, 1)
	f.mu.Lock()
	f.pending[id] = answer
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.pending, id)
		f.mu.Unlock()
	}()

	f.bus.Emit(events.Event{Source: contract.SourceLambda, Type: contract.EventHookInvoked, Resource: h.TargetARN, Detail: map[string]string{
		"invocationId":      id,
		"function":          h.TargetARN,
		"stage":             h.Stage,
		"hookId":            h.HookID,
		"cluster":           h.Cluster,
		"service":           h.Service,
		"serviceDeployment": h.ServiceDeploymentARN,
		"targetRevision":    h.TargetServiceRevisionARN,
		"productionWeights": weights(h.ProductionTrafficWeights),
	}})
	t := time.NewTimer(f.timeout)
	defer t.Stop()
	select {
	case r := <-answer:
		return r, nil
	case <-t.C:
		return ecs.HookResult{Status: ecs.HookFailed, Reason: fmt.Sprintf("function %s did not answer within %s", h.TargetARN, f.timeout)}, nil
	case <-ctx.Done():
		return ecs.HookResult{}, ctx.Err()
	}
}

// ServeHTTP takes the answer to an invocation: POST contract.HookPathPrefix+ID.
func (f *Functions) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, contract.HookPathPrefix)
	if r.Method != http.MethodPost {
		awsproto.WriteRESTError(w, awsproto.Errorf(http.StatusMethodNotAllowed, "BadRequestException", "answer a hook invocation with POST %s{invocationId}", contract.HookPathPrefix))
		return
	}
	var body contract.HookAnswer
	if err := awsproto.Decode(r, &body, "BadRequestException"); err != nil {
		awsproto.WriteRESTError(w, err)
		return
	}
	status := ecs.HookStatus(body.HookStatus)
	if status != ecs.HookSucceeded && status != ecs.HookFailed {
		awsproto.WriteRESTError(w, awsproto.Errorf(http.StatusBadRequest, "BadRequestException", "hookStatus must be SUCCEEDED or FAILED, not %q", body.HookStatus))
		return
	}
	f.mu.Lock()
	answer, ok := f.pending[id]
	delete(f.pending, id)
	f.mu.Unlock()
	if !ok {
		awsproto.WriteRESTError(w, awsproto.Errorf(http.StatusNotFound, "ResourceNotFoundException", "no hook invocation %q is waiting for an answer", id))
		return
	}
	answer <- ecs.HookResult{Status: status, Reason: body.Reason}
	f.bus.Emit(events.Event{Source: contract.SourceLambda, Type: contract.EventHookAnswered, Detail: map[string]string{
		"invocationId": id, "hookStatus": string(status), "reason": body.Reason,
	}})
	awsproto.WriteREST(w, struct{}{})
}

// weights renders revision weights as "arn=pct,..." in ARN order.
func weights(m map[string]float64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%g", k, m[k])
	}
	return strings.Join(parts, ",")
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
