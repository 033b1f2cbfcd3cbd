package ecs_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/meshsim/meshsim/sim/ecs"
	"github.com/meshsim/meshsim/sim/events"
	"github.com/meshsim/meshsim/sim/poll/polltest"
)

// The tests in this file check the ECS fake's time-dependent logic to the
// tick inside a synctest bubble, where time is a fake clock that moves
// only when every goroutine waits: a busy machine cannot make them flaky.
// Their runtime, clockRuntime, runs no process: it reports health and
// exits on timers, as a container's health checks and its answer to
// SIGTERM would.

// clockRuntime is a Runtime whose containers are timers: a container with
// a health check reports HEALTHY after its first interval, or UNHEALTHY
// after retries intervals when its environment has HEALTH=fail; on Stop,
// a container with SIGTERM=ignore exits 137 when its grace runs out, the
// others exit 0 at once. Images starting with "missing" fail to start.
type clockRuntime struct {
	log *callLog
	mu  sync.Mutex
	ip  int
	run map[string]*clockTask
}

type clockTask struct {
	spec   ecs.TaskSpec
	report func(ecs.TaskReport)
	stop   chan struct{} // closed by Stop: no more reports
	done   sync.WaitGroup
}

func (r *clockRuntime) Start(ctx context.Context, spec ecs.TaskSpec, report func(ecs.TaskReport)) (ecs.Started, error) {
	for _, c := range spec.Containers {
		if strings.HasPrefix(c.Image, "missing") {
			return ecs.Started{}, fmt.Errorf("CannotPullContainerError: no image %s", c.Image)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ip++
	t := &clockTask{spec: spec, report: report, stop: make(chan struct{})}
	r.run[spec.TaskID] = t
	for _, c := range spec.Containers {
		if h := c.HealthCheck; h != nil {
			status, after := ecs.HealthHealthy, h.Interval
			if c.Env["HEALTH"] == "fail" {
				status, after = ecs.HealthUnhealthy, time.Duration(h.Retries)*h.Interval
			}
			t.done.Go(func() {
				timer := time.NewTimer(after)
				defer timer.Stop()
				select {
				case <-timer.C:
					report(ecs.TaskReport{Container: c.Name, Health: status})
				case <-t.stop:
				}
			})
		}
	}
	return ecs.Started{IP: fmt.Sprintf("10.0.0.%d", r.ip)}, nil
}

func (r *clockRuntime) Stop(ctx context.Context, taskID string, grace time.Duration) error {
	r.log.add("stop " + taskID)
	defer r.log.add("stopped " + taskID)
	r.mu.Lock()
	t := r.run[taskID]
	delete(r.run, taskID)
	r.mu.Unlock()
	if t == nil {
		return errors.New("no such task")
	}
	for _, c := range t.spec.Containers {
		code := 0
		if c.Env["SIGTERM"] == "ignore" {
			time.Sleep(grace)
			code = 137
		}
		t.report(ecs.TaskReport{Container: c.Name, Exit: &ecs.ContainerExit{Code: code, Reason: "stopped"}})
	}
	close(t.stop)
	t.done.Wait()
	return nil
}

// clockWorld is an ECS fake on a clockRuntime with a recording registry,
// its event bus and an SDK client that talks to it in memory. Call it
// inside a synctest bubble; it closes the fake when the test ends.
type clockWorld struct {
	fake   *ecs.Fake
	client *sdk.Client
	bus    *events.Bus
	log    *callLog
}

func newClockWorld(t *testing.T, opts ecs.Options) *clockWorld {
	t.Helper()
	w := &clockWorld{bus: events.NewBus(0), log: &callLog{}}
	opts.Bus = w.bus
	opts.Runtime = &clockRuntime{log: w.log, run: map[string]*clockTask{}}
	opts.Registry = &registry{log: w.log, instances: map[string]map[string]string{}}
	w.fake = ecs.New(opts)
	t.Cleanup(func() { _ = w.fake.Close() })
	w.client = memClient(w.fake)
	if _, err := w.client.CreateCluster(context.Background(), &sdk.CreateClusterInput{ClusterName: aws.String(testCluster)}); err != nil {
		t.Fatal(err)
	}
	return w
}

// register registers a revision of family "web" from container.
func (w *clockWorld) register(t *testing.T, container types.ContainerDefinition) string {
	t.Helper()
	container.Name = aws.String("app")
	container.PortMappings = []types.PortMapping{{ContainerPort: aws.Int32(8080), Name: aws.String("http"), AppProtocol: types.ApplicationProtocolHttp}}
	out, err := w.client.RegisterTaskDefinition(context.Background(), &sdk.RegisterTaskDefinitionInput{
		Family: aws.String("web"), NetworkMode: types.NetworkModeAwsvpc, ContainerDefinitions: []types.ContainerDefinition{container},
	})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.TaskDefinition.TaskDefinitionArn)
}

func (w *clockWorld) createService(t *testing.T, taskDef string, desired int32, config *types.DeploymentConfiguration) {
	t.Helper()
	if _, err := w.client.CreateService(context.Background(), &sdk.CreateServiceInput{
		Cluster: aws.String(testCluster), ServiceName: aws.String("web"), TaskDefinition: aws.String(taskDef),
		DesiredCount: aws.Int32(desired), DeploymentConfiguration: config,
		ServiceRegistries:    []types.ServiceRegistry{{RegistryArn: aws.String(testRegistry), ContainerName: aws.String("app")}},
		NetworkConfiguration: &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{Subnets: []string{"subnet-0123456789abcdef0"}}},
	}); err != nil {
		t.Fatal(err)
	}
}

func (w *clockWorld) update(t *testing.T, in sdk.UpdateServiceInput) {
	t.Helper()
	in.Cluster, in.Service = aws.String(testCluster), aws.String("web")
	if _, err := w.client.UpdateService(context.Background(), &in); err != nil {
		t.Fatal(err)
	}
}

// stable waits until the service runs its desired count in one deployment.
func (w *clockWorld) stable(t *testing.T) types.Service {
	t.Helper()
	var svc types.Service
	polltest.Eventually(t, "a steady service", func() bool {
		out, err := w.client.DescribeServices(context.Background(), &sdk.DescribeServicesInput{Cluster: aws.String(testCluster), Services: []string{"web"}})
		if err != nil {
			t.Fatal(err)
		}
		svc = out.Services[0]
		return len(svc.Deployments) == 1 && svc.RunningCount == svc.DesiredCount && svc.PendingCount == 0
	})
	return svc
}

// TestStopTiming checks, to the tick, that a task is deregistered, gets
// SIGTERM DeregistrationDelay later, and is killed stopTimeout after that
// when it ignores SIGTERM.
func TestStopTiming(t *testing.T) {
	const second = 10 * time.Millisecond
	for _, sigterm := range []string{"drain", "ignore"} {
		t.Run(sigterm, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newClockWorld(t, ecs.Options{Second: second, ReconcileInterval: second, DeregistrationDelay: 5 * time.Second})
				td := w.register(t, types.ContainerDefinition{
					Image: aws.String("meshsim/test-http:v1"), StopTimeout: aws.Int32(3),
					Environment: []types.KeyValuePair{{Name: aws.String("SIGTERM"), Value: aws.String(sigterm)}},
				})
				w.createService(t, td, 1, nil)
				w.stable(t)
				list, err := w.client.ListTasks(context.Background(), &sdk.ListTasksInput{Cluster: aws.String(testCluster), ServiceName: aws.String("web")})
				if err != nil || len(list.TaskArns) != 1 {
					t.Fatalf("ListTasks: %v %v", list, err)
				}
				id := taskID(list.TaskArns[0])
				w.update(t, sdk.UpdateServiceInput{DesiredCount: aws.Int32(0)})
				polltest.Eventually(t, "the task to stop", func() bool { return !w.log.at("stopped " + id).IsZero() })

				dereg, stop, stopped := w.log.at("deregister "+id), w.log.at("stop "+id), w.log.at("stopped "+id)
				if gap := stop.Sub(dereg); gap != 5*second {
					t.Errorf("SIGTERM %v after deregistration, want the deregistration delay %v", gap, 5*second)
				}
				want := time.Duration(0)
				if sigterm == "ignore" {
					want = 3 * second
				}
				if took := stopped.Sub(stop); took != want {
					t.Errorf("stopped %v after SIGTERM, want %v", took, want)
				}
			})
		})
	}
}

// TestRestartBackoff checks that a service whose tasks fail to start
// launches again after RestartBackoff, doubling with each failure up to
// 32 times it, and that the deployment circuit breaker stops it at its
// threshold.
func TestRestartBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const backoff = time.Second
		w := newClockWorld(t, ecs.Options{ReconcileInterval: 10 * time.Millisecond, RestartBackoff: backoff})
		td := w.register(t, types.ContainerDefinition{Image: aws.String("missing/app:v1")})
		w.createService(t, td, 1, &types.DeploymentConfiguration{
			DeploymentCircuitBreaker: &types.DeploymentCircuitBreaker{Enable: true, Rollback: false},
		})
		polltest.Eventually(t, "the circuit breaker", func() bool {
			out, err := w.client.DescribeServices(context.Background(), &sdk.DescribeServicesInput{Cluster: aws.String(testCluster), Services: []string{"web"}})
			return err == nil && out.Services[0].Deployments[0].RolloutState == types.DeploymentRolloutStateFailed
		})
		time.Sleep(10 * time.Minute) // a failed deployment launches no more
		var launches []time.Time
		for _, e := range busEvents(t, w.bus) {
			if e.Type == "task.state" && e.Detail["to"] == "PROVISIONING" {
				launches = append(launches, e.Time)
			}
		}
		// One task at a time: the threshold of a service of 1 is 3 failures.
		if len(launches) != 3 {
			t.Fatalf("%d launches, want 3 (the circuit breaker's threshold)", len(launches))
		}
		for i := 1; i < len(launches); i++ {
			want := backoff << (i - 1)
			if gap := launches[i].Sub(launches[i-1]); gap < want || gap > want+10*time.Millisecond {
				t.Errorf("launch %d came %v after the one before, want %v (to the next reconcile)", i, gap, want)
			}
		}
	})
}

// TestShiftTiming checks that a canary deployment bakes exactly its
// canaryBakeTimeInMinutes between its steps and bakeTimeInMinutes before
// it cleans up, and that a task failing its health checks never runs.
func TestShiftTiming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const minute = time.Second
		w := newClockWorld(t, ecs.Options{Second: minute / 60, Minute: minute, ReconcileInterval: 10 * time.Millisecond})
		health := &types.HealthCheck{Command: []string{"CMD-SHELL", "true"}, Interval: aws.Int32(5), Retries: aws.Int32(3)}
		v1 := w.register(t, types.ContainerDefinition{Image: aws.String("meshsim/test-http:v1"), HealthCheck: health})
		w.createService(t, v1, 2, &types.DeploymentConfiguration{
			Strategy: types.DeploymentStrategyCanary, BakeTimeInMinutes: aws.Int32(3),
			CanaryConfiguration: &types.CanaryConfiguration{CanaryPercent: aws.Float64(10), CanaryBakeTimeInMinutes: aws.Int32(2)},
		})
		w.stable(t)
		v2 := w.register(t, types.ContainerDefinition{Image: aws.String("meshsim/test-http:v2"), HealthCheck: health})
		w.update(t, sdk.UpdateServiceInput{TaskDefinition: aws.String(v2)})
		polltest.Eventually(t, "the canary deployment", func() bool {
			svc := w.stable(t)
			return aws.ToString(svc.TaskDefinition) == v2
		})
		var shifts, stages []events.Event
		for _, e := range busEvents(t, w.bus) {
			switch e.Type {
			case "deployment.traffic":
				shifts = append(shifts, e)
			case "deployment.stage":
				stages = append(stages, e)
			}
		}
		weights := []string{}
		for _, e := range shifts {
			weights = append(weights, e.Detail["productionWeight"])
		}
		if !slices.Equal(weights, []string{"0", "10", "100"}) {
			t.Fatalf("production weights of the target %v, want 0 (test traffic), 10, 100", weights)
		}
		if gap := shifts[2].Time.Sub(shifts[1].Time); gap != 2*minute {
			t.Errorf("canary baked %v, want exactly 2 minutes (%v)", gap, 2*minute)
		}
		bake, cleanUp := stages[len(stages)-2], stages[len(stages)-1]
		if bake.Detail["stage"] != "BAKE_TIME" || cleanUp.Detail["stage"] != "CLEAN_UP" {
			t.Fatalf("last stages %s, %s", bake.Detail["stage"], cleanUp.Detail["stage"])
		}
		if gap := cleanUp.Time.Sub(bake.Time); gap != 3*minute {
			t.Errorf("baked %v before cleaning up, want exactly 3 minutes (%v)", gap, 3*minute)
		}

		// A revision whose health checks fail never runs: each task stops
		// after retries × interval, and the scheduler replaces it.
		v3 := w.register(t, types.ContainerDefinition{
			Image: aws.String("meshsim/test-http:v3"), HealthCheck: health,
			Environment: []types.KeyValuePair{{Name: aws.String("HEALTH"), Value: aws.String("fail")}},
		})
		w.update(t, sdk.UpdateServiceInput{TaskDefinition: aws.String(v3), DeploymentConfiguration: &types.DeploymentConfiguration{Strategy: types.DeploymentStrategyRolling}})
		time.Sleep(5 * minute)
		var running, failed int
		for _, e := range busEvents(t, w.bus) {
			if e.Type != "task.state" || e.Detail["taskDefinition"] != v3 {
				continue
			}
			if e.Detail["to"] == "RUNNING" {
				running++
			}
			if e.Detail["to"] == "STOPPED" && e.Detail["stoppedReason"] == "Task failed container health checks" {
				failed++
			}
		}
		if running != 0 || failed < 2 {
			t.Errorf("v3: %d tasks RUNNING, %d failed their health checks; want none and at least 2", running, failed)
		}
	})
}
