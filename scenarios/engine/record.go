package engine

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/poll"
)

// eventsSettle is how long recording goes on after the run asks it to
// stop, so that the last events (deregistrations, task stops) arrive.
const eventsSettle = 300 * time.Millisecond

// recordEvents copies the fakes' event stream (GET /_meshsim/events) into
// the run directory, and hands each event to on, reconnecting after the
// last event seen if the stream breaks, until the returned stop is called;
// stop lets the last events arrive and returns once recording has stopped.
func recordEvents(endpoint string, out *rundir.Writer, on func(rundir.Event)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		var since uint64
		_ = poll.Until(ctx, 200*time.Millisecond, func(ctx context.Context) (bool, error) {
			since = streamEvents(ctx, endpoint, since, out, on)
			return false, nil // the stream ends only with ctx
		})
	}()
	return func() {
		t := time.NewTimer(eventsSettle)
		defer t.Stop()
		<-t.C
		cancel()
		<-done
	}
}

func streamEvents(ctx context.Context, endpoint string, since uint64, out *rundir.Writer, on func(rundir.Event)) uint64 {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/_meshsim/events?since=%d", strings.TrimRight(endpoint, "/"), since), nil)
	if err != nil {
		return since
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return since
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var e rundir.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			continue
		}
		since = e.Seq
		_ = out.Event(e)
		on(e)
	}
	return since
}

// recordCalls returns an SDK middleware option that records each AWS call
// the engine makes (service, operation, duration, error) as an event.
func recordCalls(record func(rundir.Event)) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("meshsimRecordCall",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				start := time.Now()
				o, md, err := next.HandleInitialize(ctx, in)
				detail := map[string]string{
					"service":   awsmiddleware.GetServiceID(ctx),
					"operation": awsmiddleware.GetOperationName(ctx),
					"duration":  time.Since(start).String(),
				}
				if err != nil {
					detail["error"] = err.Error()
				}
				record(rundir.Event{Time: start, Source: contract.SourceEngine, Type: contract.EventAWSCall, Detail: detail})
				return o, md, err
			}), middleware.After)
	}
}
