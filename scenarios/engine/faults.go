package engine

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/meshsim/meshsim/scenarios"
	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/sidecar/admin"
)

// Faults breaks tasks in the ways only the runtime can: the docker runtime
// kills, pauses and disconnects containers. Every method takes an ECS task
// id. (stop-task needs none of this: it is ECS's StopTask; nor do delay,
// drop and heal: the engine asks the task's sidecar through its admin API.)
type Faults interface {
	Kill(ctx context.Context, taskID string) error
	Pause(ctx context.Context, taskID string) error
	Unpause(ctx context.Context, taskID string) error
	Disconnect(ctx context.Context, taskID string) error
	Reconnect(ctx context.Context, taskID string) error
}

// CheckFaults reports a fault of sc that f (nil for none) cannot carry out.
func CheckFaults(sc *scenarios.Scenario, f Faults) error {
	for _, flt := range sc.Faults {
		if !flt.Action.AnyRuntime() && f == nil {
			return fmt.Errorf("%s: fault %q needs a runtime that can do it (--runtime docker); stop-task, delay, drop and heal work on every runtime", flt.Pos, flt.Action)
		}
	}
	return nil
}

// faults fires the scenario's faults: those tied to a step when the step
// begins, those at a time after the load starts. Each fault waits and
// strikes on a goroutine of its own, started with the faults' context;
// stop cancels it and waits for every one.
type faults struct {
	sc      *scenarios.Scenario
	wld     *world
	runtime Faults
	// event records what a fault did, dated when it struck (the
	// report places it in the step in force then).
	event func(at time.Time, typ contract.EventType, resource string, detail map[string]string)
	admin *http.Client // for the sidecars' admin API

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	fired   []bool
	stopped bool
}

// adminTimeout bounds one call to a sidecar's admin API; strikeTimeout
// one fault's calls all together.
const (
	adminTimeout  = 5 * time.Second
	strikeTimeout = 15 * time.Second
)

// startFaults schedules the faults of sc until ctx ends or stop is called:
// those at a time now, those tied to a step when stepBegan names it.
func startFaults(ctx context.Context, sc *scenarios.Scenario, wld *world, runtime Faults, event func(time.Time, contract.EventType, string, map[string]string)) *faults {
	fs := &faults{sc: sc, wld: wld, runtime: runtime, event: event, fired: make([]bool, len(sc.Faults)),
		// Straight to the task's address (never an HTTP_PROXY), one
		// connection per call so that none is left open.
		admin: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: adminTimeout},
	}
	fs.ctx, fs.cancel = context.WithCancel(ctx)
	for i, f := range sc.Faults {
		if f.Step == "" {
			fs.fire(i, f.At)
		}
	}
	return fs
}

// stepBegan fires the faults waiting for a step named name.
func (fs *faults) stepBegan(name string) {
	for i, f := range fs.sc.Faults {
		if f.Step != "" && (name == f.Step || strings.HasPrefix(name, f.Step)) {
			fs.fire(i, f.After)
		}
	}
}

// stop cancels the faults not yet carried out and waits for those under
// way.
func (fs *faults) stop() {
	fs.mu.Lock()
	fs.stopped = true
	fs.mu.Unlock()
	fs.cancel()
	fs.wg.Wait()
}

// fire schedules fault i after the given delay, once.
func (fs *faults) fire(i int, after time.Duration) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.fired[i] || fs.stopped {
		return
	}
	fs.fired[i] = true
	f := fs.sc.Faults[i]
	fs.wg.Add(1)
	go func() {
		defer fs.wg.Done()
		t := time.NewTimer(after)
		defer t.Stop()
		select {
		case <-fs.ctx.Done():
			return
		case <-t.C:
		}
		// A fault that has begun striking finishes (within its own
		// limit) even if the run stops meanwhile: stop waits for it, and
		// the run records what it did rather than a cancelled call.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(fs.ctx), strikeTimeout)
		defer cancel()
		fs.inject(ctx, f)
	}()
}

// inject picks the fault's tasks through the ECS API and breaks them.
func (fs *faults) inject(ctx context.Context, f scenarios.Fault) {
	struck := time.Now()
	tasks, err := fs.tasks(ctx, f)
	if err == nil && len(tasks) == 0 {
		err = fmt.Errorf("no running task of %s %s", f.Service, f.Version)
	}
	if err != nil {
		fs.event(struck, contract.EventFaultError, "", map[string]string{"action": string(f.Action), "service": f.Service, "error": err.Error(), "source": f.Pos.String()})
		return
	}
	for _, t := range tasks {
		err := fs.act(ctx, f, t)
		detail := map[string]string{"action": string(f.Action), "service": f.Service, "version": f.Version, "task": t.id, "source": f.Pos.String()}
		switch f.Action {
		case scenarios.FaultDelay:
			detail["delay"] = f.Delay.String()
		case scenarios.FaultDrop:
			detail["percent"] = strconv.FormatFloat(f.Percent, 'g', -1, 64)
		}
		if err != nil {
			detail["error"] = err.Error()
		}
		fs.event(struck, contract.EventFaultInjected, t.arn, detail)
	}
}

type faultTask struct{ arn, id, ip string }

func (fs *faults) act(ctx context.Context, f scenarios.Fault, t faultTask) error {
	faults := fs.runtime
	switch f.Action {
	case scenarios.FaultDelay, scenarios.FaultDrop, scenarios.FaultHeal:
		return fs.sidecarFault(ctx, f, t)
	case scenarios.FaultStopTask:
		_, err := fs.wld.aws.ECS.StopTask(ctx, &ecs.StopTaskInput{
			Cluster: aws.String(fs.sc.Cluster), Task: aws.String(t.arn), Reason: aws.String("meshsim fault: stop-task"),
		})
		return err
	case scenarios.FaultKill:
		return faults.Kill(ctx, t.id)
	case scenarios.FaultPause:
		return faults.Pause(ctx, t.id)
	case scenarios.FaultUnpause:
		return faults.Unpause(ctx, t.id)
	case scenarios.FaultDisconnect:
		return faults.Disconnect(ctx, t.id)
	case scenarios.FaultReconnect:
		return faults.Reconnect(ctx, t.id)
	}
	return fmt.Errorf("unknown fault action %q", f.Action)
}

// sidecarFault sets or clears a fault at the task's sidecar through its
// admin API, on the task's address.
func (fs *faults) sidecarFault(ctx context.Context, f scenarios.Fault, t faultTask) error {
	if t.ip == "" {
		return fmt.Errorf("task %s: DescribeTasks shows no privateIPv4Address", t.id)
	}
	addr := net.JoinHostPort(t.ip, strconv.Itoa(contract.AdminPort))
	switch f.Action {
	case scenarios.FaultDelay:
		return admin.SetDelay(ctx, fs.admin, addr, f.Delay)
	case scenarios.FaultDrop:
		return admin.SetDropPercent(ctx, fs.admin, addr, f.Percent)
	}
	return admin.ClearFaults(ctx, fs.admin, addr)
}

// privateIPv4 returns the task's address from its ENI attachment, or "".
func privateIPv4(t ecstypes.Task) string {
	for _, a := range t.Attachments {
		for _, d := range a.Details {
			if aws.ToString(d.Name) == "privateIPv4Address" && aws.ToString(d.Value) != "" {
				return aws.ToString(d.Value)
			}
		}
	}
	return ""
}

// tasks returns the first Count running tasks (by ARN) of the fault's
// service and version.
func (fs *faults) tasks(ctx context.Context, f scenarios.Fault) ([]faultTask, error) {
	w := fs.wld
	svc, _ := fs.sc.Service(f.Service)
	var found []faultTask
	for _, u := range w.units() {
		if u.service != svc || (len(fs.sc.Rollout.Deployments) == 0 && f.Version != "" && u.version.Name != f.Version) {
			continue
		}
		list, err := w.aws.ECS.ListTasks(ctx, &ecs.ListTasksInput{
			Cluster: aws.String(fs.sc.Cluster), ServiceName: aws.String(u.name), DesiredStatus: ecstypes.DesiredStatusRunning,
		})
		if err != nil {
			return nil, fmt.Errorf("ecs ListTasks %s: %w", u.name, err)
		}
		if len(list.TaskArns) == 0 {
			continue
		}
		out, err := w.aws.ECS.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(fs.sc.Cluster), Tasks: list.TaskArns})
		if err != nil {
			return nil, fmt.Errorf("ecs DescribeTasks %s: %w", u.name, err)
		}
		for _, t := range out.Tasks {
			if aws.ToString(t.LastStatus) != "RUNNING" {
				continue
			}
			if f.Version != "" && w.taskDefinitions[aws.ToString(t.TaskDefinitionArn)] != f.Version {
				continue
			}
			arn := aws.ToString(t.TaskArn)
			found = append(found, faultTask{arn: arn, id: arn[strings.LastIndex(arn, "/")+1:], ip: privateIPv4(t)})
		}
	}
	sort.Slice(found, func(i, j int) bool { return found[i].arn < found[j].arn })
	if len(found) > f.Count {
		found = found[:f.Count]
	}
	return found, nil
}
