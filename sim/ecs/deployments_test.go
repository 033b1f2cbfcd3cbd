package ecs_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/ecs"
	"github.com/meshsim/meshsim/sim/events"
	"github.com/meshsim/meshsim/sim/poll/polltest"
)

const testLambda = "arn:aws:lambda:eu-west-1:000000000000:function:gate"

// hookRecorder is a HookRunner that records invocations and answers with
// decide (SUCCEEDED when decide is nil).
type hookRecorder struct {
	decide func(ecs.HookInvocation) ecs.HookResult
	mu     sync.Mutex
	calls  []ecs.HookInvocation
}

func (h *hookRecorder) RunHook(ctx context.Context, inv ecs.HookInvocation) (ecs.HookResult, error) {
	h.mu.Lock()
	h.calls = append(h.calls, inv)
	h.mu.Unlock()
	if h.decide == nil {
		return ecs.HookResult{Status: ecs.HookSucceeded}, nil
	}
	return h.decide(inv), nil
}

func (h *hookRecorder) invocations() []ecs.HookInvocation {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.calls)
}

// update updates service name and returns the service as UpdateService
// describes it.
func (w *world) update(t *testing.T, name string, in sdk.UpdateServiceInput) types.Service {
	t.Helper()
	in.Cluster, in.Service = aws.String(testCluster), aws.String(name)
	out, err := w.client.UpdateService(context.Background(), &in)
	if err != nil {
		t.Fatal(err)
	}
	return *out.Service
}

// serviceDeployment describes the service deployment arn.
func (w *world) serviceDeployment(t *testing.T, arn string) types.ServiceDeployment {
	t.Helper()
	out, err := w.client.DescribeServiceDeployments(context.Background(), &sdk.DescribeServiceDeploymentsInput{ServiceDeploymentArns: []string{arn}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.ServiceDeployments) != 1 {
		t.Fatalf("DescribeServiceDeployments %s: failures %+v", arn, out.Failures)
	}
	return out.ServiceDeployments[0]
}

// deploymentEvents returns the events of type typ about the service
// deployment arn.
func deploymentEvents(all []events.Event, typ contract.EventType, arn string) []events.Event {
	var out []events.Event
	for _, e := range all {
		if e.Type == typ && e.Detail[contract.DetailServiceDeployment] == arn {
			out = append(out, e)
		}
	}
	return out
}

func details(es []events.Event, key string) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, e.Detail[key])
	}
	return out
}

func runningARNs(t *testing.T, w *world, name string) []string {
	t.Helper()
	var arns []string
	for _, task := range w.tasks(t, name, types.DesiredStatusRunning) {
		arns = append(arns, aws.ToString(task.TaskArn))
	}
	slices.Sort(arns)
	return arns
}

// allHookStages are the stages a hook can run at, but RECONCILE_SERVICE.
var allHookStages = []types.DeploymentLifecycleHookStage{
	types.DeploymentLifecycleHookStagePreScaleUp, types.DeploymentLifecycleHookStagePostScaleUp,
	types.DeploymentLifecycleHookStageTestTrafficShift, types.DeploymentLifecycleHookStagePostTestTrafficShift,
	types.DeploymentLifecycleHookStagePreProductionTrafficShift, types.DeploymentLifecycleHookStageProductionTrafficShift,
	types.DeploymentLifecycleHookStagePostProductionTrafficShift,
}

func TestTrafficShiftingStrategies(t *testing.T) {
	const minute = 60 * time.Millisecond // the worlds' Options.Minute
	tests := []struct {
		name     string
		config   types.DeploymentConfiguration
		weights  []string // production weights of the target, step by step
		stepBake time.Duration
	}{
		{"blue/green", types.DeploymentConfiguration{Strategy: types.DeploymentStrategyBlueGreen},
			[]string{"100"}, 0},
		{"linear in 3 steps", types.DeploymentConfiguration{Strategy: types.DeploymentStrategyLinear,
			LinearConfiguration: &types.LinearConfiguration{StepPercent: aws.Float64(40), StepBakeTimeInMinutes: aws.Int32(1)}},
			[]string{"40", "80", "100"}, minute},
		{"canary", types.DeploymentConfiguration{Strategy: types.DeploymentStrategyCanary,
			CanaryConfiguration: &types.CanaryConfiguration{CanaryPercent: aws.Float64(10), CanaryBakeTimeInMinutes: aws.Int32(2)}},
			[]string{"10", "100"}, 2 * minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hooks := &hookRecorder{}
			w := newWorld(t, func(o *ecs.Options) { o.Hooks = hooks })
			v1 := w.register(t, "meshsim/test-http:v1", "v1")
			v2 := w.register(t, "meshsim/test-http:v2", "v2")
			config := tt.config
			config.BakeTimeInMinutes = aws.Int32(1)
			config.LifecycleHooks = []types.DeploymentLifecycleHook{{
				TargetType: types.DeploymentLifecycleHookTargetTypeAwsLambda, HookTargetArn: aws.String(testLambda),
				RoleArn: aws.String("arn:aws:iam::000000000000:role/hooks"), LifecycleStages: allHookStages,
			}}
			w.createService(t, "web", v1, 2, &config)
			first := w.waitStable(t, "web")
			blue := runningARNs(t, w, "web")
			blueRevision := first.CurrentServiceRevisions[0].Arn
			if len(hooks.invocations()) != 0 {
				t.Errorf("the first deployment invoked hooks: %+v", hooks.invocations())
			}

			w.update(t, "web", sdk.UpdateServiceInput{TaskDefinition: aws.String(v2)})
			svc := w.waitStable(t, "web")
			arn := aws.ToString(svc.CurrentServiceDeployment)
			if arn == aws.ToString(first.CurrentServiceDeployment) {
				t.Fatal("UpdateService made no new service deployment")
			}
			sd := w.serviceDeployment(t, arn)
			checkShiftFinished(t, w, svc, sd, aws.ToString(blueRevision), v2)

			all := w.events()
			want := shiftStages(len(tt.weights))
			traffic, cleanUp := checkShiftEvents(t, all, arn, want, tt.weights, tt.stepBake, minute)
			checkBlueBesideGreen(t, all, blue, traffic[0].Seq, cleanUp.Seq)
			checkShiftHooks(t, hooks.invocations(), sd, want, tt.weights, arn)

			traffics := w.fake.TrafficState()
			if len(traffics) != 1 || len(traffics[0].Revisions) != 1 || traffics[0].Revisions[0].TaskDefinitionARN != v2 ||
				traffics[0].Revisions[0].ProductionWeight != 100 || traffics[0].Strategy != string(tt.config.Strategy) {
				t.Errorf("traffic state %+v", traffics)
			}
		})
	}
}

// checkShiftFinished checks that the traffic-shifting service deployment sd
// finished at CLEAN_UP, moved from the revision blueRevision to v2 with all
// traffic, and that the service svc runs only v2.
func checkShiftFinished(t *testing.T, w *world, svc types.Service, sd types.ServiceDeployment, blueRevision, v2 string) {
	t.Helper()
	if sd.Status != types.ServiceDeploymentStatusSuccessful || sd.LifecycleStage != types.ServiceDeploymentLifecycleStageCleanUp || sd.FinishedAt == nil {
		t.Errorf("service deployment %s %s finished %v, want SUCCESSFUL at CLEAN_UP", sd.Status, sd.LifecycleStage, sd.FinishedAt)
	}
	if len(sd.SourceServiceRevisions) != 1 || aws.ToString(sd.SourceServiceRevisions[0].Arn) != blueRevision {
		t.Errorf("source revisions %+v, want %s", sd.SourceServiceRevisions, blueRevision)
	}
	target := sd.TargetServiceRevision
	if aws.ToFloat64(target.RequestedProductionTrafficWeight) != 100 || aws.ToFloat64(target.RequestedTestTrafficWeight) != 100 ||
		target.RunningTaskCount != 2 || target.RequestedTaskCount != 2 {
		t.Errorf("target revision %+v, want 2 tasks with all traffic", target)
	}
	if got := aws.ToString(svc.TaskDefinition); got != v2 || len(svc.Deployments) != 1 || svc.Deployments[0].RolloutState != types.DeploymentRolloutStateCompleted {
		t.Errorf("service runs %s with %d deployments", got, len(svc.Deployments))
	}
	for _, task := range w.tasks(t, "web", types.DesiredStatusRunning) {
		if aws.ToString(task.TaskDefinitionArn) != v2 {
			t.Errorf("task %s runs %s", aws.ToString(task.TaskArn), aws.ToString(task.TaskDefinitionArn))
		}
	}
}

// shiftStages are the lifecycle stages of a traffic-shifting deployment
// that moves production traffic in the given number of steps.
func shiftStages(steps int) []string {
	want := []string{"PRE_SCALE_UP", "SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT"}
	for range steps {
		want = append(want, "PRE_PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT")
	}
	return append(want, "POST_PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME", "CLEAN_UP")
}

// checkShiftEvents checks the stage and traffic events of the service
// deployment arn: the stages want in order, the target's test and
// production weights step by step (the source holding the rest), each step
// baked stepBake and the last a minute. It returns the traffic events and
// the CLEAN_UP event.
func checkShiftEvents(t *testing.T, all []events.Event, arn string, want, weights []string, stepBake, minute time.Duration) ([]events.Event, events.Event) {
	t.Helper()
	stageEvents := deploymentEvents(all, contract.EventDeploymentStage, arn)
	if stages := details(stageEvents, "stage"); !slices.Equal(stages, want) {
		t.Errorf("stages %v, want %v", stages, want)
	}
	traffic := deploymentEvents(all, contract.EventDeploymentTraffic, arn)
	wantTest := append([]string{"100"}, slices.Repeat([]string{"100"}, len(weights))...)
	wantProd := append([]string{"0"}, weights...)
	if got := details(traffic, "testWeight"); !slices.Equal(got, wantTest) {
		t.Errorf("test weights of the target %v, want %v", got, wantTest)
	}
	if got := details(traffic, "productionWeight"); !slices.Equal(got, wantProd) {
		t.Errorf("production weights of the target %v, want %v", got, wantProd)
	}
	for _, e := range traffic[1:] {
		w, _ := strconv.ParseFloat(e.Detail[contract.DetailProductionWeight], 64)
		blueShare := strings.Split(e.Detail[contract.DetailProduction], ",")[1]
		if want := strconv.FormatFloat(100-w, 'f', -1, 64); !strings.HasSuffix(blueShare, "="+want) {
			t.Errorf("at target weight %v the source has %s, want %s", w, blueShare, want)
		}
	}
	// Each step baked before the next; the last baked bakeTimeInMinutes.
	for i := 2; i < len(traffic); i++ {
		if gap := traffic[i].Time.Sub(traffic[i-1].Time); gap < stepBake {
			t.Errorf("step %d came %v after step %d, want at least %v", i, gap, i-1, stepBake)
		}
	}
	bake, cleanUp := stageEvents[len(stageEvents)-2], stageEvents[len(stageEvents)-1]
	if gap := cleanUp.Time.Sub(bake.Time); gap < minute {
		t.Errorf("baked %v, want at least a minute (%v)", gap, minute)
	}
	return traffic, cleanUp
}

// checkBlueBesideGreen checks that the green revision ran at full size
// beside the blue one before any traffic moved (the event testShift), and
// that no blue task stopped before CLEAN_UP (the event cleanUp).
func checkBlueBesideGreen(t *testing.T, all []events.Event, blue []string, testShift, cleanUp uint64) {
	t.Helper()
	state := map[string]string{}
	for _, e := range all {
		switch {
		case e.Type == contract.EventTaskState:
			state[e.Resource] = e.Detail[contract.DetailTo]
			if slices.Contains(blue, e.Resource) && e.Detail[contract.DetailFrom] == "RUNNING" && e.Seq < cleanUp {
				t.Errorf("blue task %s stopped before CLEAN_UP", e.Resource)
			}
		case e.Seq == testShift:
			running := 0
			for _, s := range state {
				if s == "RUNNING" {
					running++
				}
			}
			if running != 4 {
				t.Errorf("%d tasks RUNNING when test traffic shifted, want 4 (blue and green at full size)", running)
			}
		}
	}
}

// checkShiftHooks checks that hooks ran at every stage of want they can
// run at, at every step, with the traffic split of the moment, and that the
// service deployment sd reports them.
func checkShiftHooks(t *testing.T, invocations []ecs.HookInvocation, sd types.ServiceDeployment, want, weights []string, arn string) {
	t.Helper()
	target := sd.TargetServiceRevision
	var hookStages []string
	for _, inv := range invocations {
		hookStages = append(hookStages, inv.Stage)
		if inv.ServiceDeploymentARN != arn || inv.TargetARN != testLambda || inv.Service != "web" || inv.Cluster != testCluster ||
			inv.TargetServiceRevisionARN != aws.ToString(target.Arn) {
			t.Errorf("invocation %+v", inv)
		}
	}
	var wantHooks []string
	for _, s := range want {
		if s != "SCALE_UP" && s != "BAKE_TIME" && s != "CLEAN_UP" {
			wantHooks = append(wantHooks, s)
		}
	}
	if !slices.Equal(hookStages, wantHooks) {
		t.Errorf("hooks ran at %v, want %v", hookStages, wantHooks)
	}
	var prodAtShift []string
	for _, inv := range invocations {
		if inv.Stage == "PRODUCTION_TRAFFIC_SHIFT" {
			prodAtShift = append(prodAtShift, strconv.FormatFloat(inv.ProductionTrafficWeights[aws.ToString(target.Arn)], 'f', -1, 64))
		}
	}
	if !slices.Equal(prodAtShift, weights) {
		t.Errorf("PRODUCTION_TRAFFIC_SHIFT hooks saw target weights %v, want %v", prodAtShift, weights)
	}
	if len(sd.LifecycleHookDetails) != len(wantHooks) {
		t.Errorf("%d lifecycle hook details, want %d", len(sd.LifecycleHookDetails), len(wantHooks))
	}
	for _, h := range sd.LifecycleHookDetails {
		if h.Status != types.DeploymentLifecycleHookStatusSucceeded || aws.ToString(h.TargetArn) != testLambda || h.TimeoutAction != types.DeploymentLifecycleHookActionRollback {
			t.Errorf("hook detail %+v", h)
		}
	}
}

func TestPauseHookAndContinue(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	v1 := w.register(t, "meshsim/test-http:v1", "v1")
	w.register(t, "meshsim/test-http:v2", "v2")
	w.createService(t, "web", v1, 2, &types.DeploymentConfiguration{
		Strategy: types.DeploymentStrategyBlueGreen, BakeTimeInMinutes: aws.Int32(0),
		LifecycleHooks: []types.DeploymentLifecycleHook{{
			TargetType:      types.DeploymentLifecycleHookTargetTypePause,
			LifecycleStages: []types.DeploymentLifecycleHookStage{types.DeploymentLifecycleHookStagePostProductionTrafficShift},
		}},
	})
	w.waitStable(t, "web")
	arn := aws.ToString(w.update(t, "web", sdk.UpdateServiceInput{TaskDefinition: aws.String("web:2")}).CurrentServiceDeployment)

	var sd types.ServiceDeployment
	polltest.Eventually(t, "the deployment to pause", func() bool {
		sd = w.serviceDeployment(t, arn)
		return len(sd.LifecycleHookDetails) == 1 && sd.LifecycleHookDetails[0].Status == types.DeploymentLifecycleHookStatusAwaitingAction
	})
	if sd.Status != types.ServiceDeploymentStatusInProgress || sd.LifecycleStage != types.ServiceDeploymentLifecycleStagePostProductionTrafficShift {
		t.Errorf("paused deployment %s at %s", sd.Status, sd.LifecycleStage)
	}
	src, tgt := sd.SourceServiceRevisions[0], sd.TargetServiceRevision
	if aws.ToFloat64(tgt.RequestedProductionTrafficWeight) != 100 || tgt.RequestedTaskCount != 2 || tgt.RunningTaskCount != 2 ||
		aws.ToFloat64(src.RequestedProductionTrafficWeight) != 0 || src.RequestedTaskCount != 2 || src.RunningTaskCount != 2 {
		t.Errorf("while paused: source %+v target %+v", src, tgt)
	}
	h := sd.LifecycleHookDetails[0]
	if h.TargetType != types.DeploymentLifecycleHookTargetTypePause || h.ExpiresAt == nil || h.TargetArn != nil {
		t.Errorf("pause hook %+v", h)
	}
	svc := w.service(t, "web")
	if len(svc.Deployments) != 2 || svc.RunningCount != 4 || len(svc.CurrentServiceRevisions) != 2 {
		t.Errorf("while paused: %d deployments, %d running, revisions %+v", len(svc.Deployments), svc.RunningCount, svc.CurrentServiceRevisions)
	}
	traffic := w.fake.TrafficState()[0]
	if traffic.Revisions[0].ProductionWeight != 100 || traffic.Revisions[1].ProductionWeight != 0 {
		t.Errorf("traffic while paused %+v", traffic.Revisions)
	}

	_, err := w.client.ContinueServiceDeployment(ctx, &sdk.ContinueServiceDeploymentInput{ServiceDeploymentArn: aws.String(arn), HookId: aws.String("nope")})
	if code, _ := apiError(err); code != "InvalidParameterException" {
		t.Errorf("continue an unknown hook: %v", err)
	}
	_, err = w.client.ContinueServiceDeployment(ctx, &sdk.ContinueServiceDeploymentInput{ServiceDeploymentArn: aws.String(arn + "x"), HookId: h.HookId})
	if code, _ := apiError(err); code != "ServiceDeploymentNotFoundException" {
		t.Errorf("continue an unknown deployment: %v", err)
	}
	if _, err := w.client.ContinueServiceDeployment(ctx, &sdk.ContinueServiceDeploymentInput{
		ServiceDeploymentArn: aws.String(arn), HookId: h.HookId, Action: types.DeploymentLifecycleHookActionContinue,
	}); err != nil {
		t.Fatal(err)
	}
	w.waitStable(t, "web")
	sd = w.serviceDeployment(t, arn)
	if sd.Status != types.ServiceDeploymentStatusSuccessful || sd.LifecycleHookDetails[0].Status != types.DeploymentLifecycleHookStatusSucceeded {
		t.Errorf("after continue: %s, hook %s", sd.Status, sd.LifecycleHookDetails[0].Status)
	}
	_, err = w.client.ContinueServiceDeployment(ctx, &sdk.ContinueServiceDeploymentInput{ServiceDeploymentArn: aws.String(arn), HookId: h.HookId})
	var conflict *types.ConflictException
	if !errors.As(err, &conflict) {
		t.Errorf("continue a finished deployment: %v, want ConflictException", err)
	}
	_, err = w.client.StopServiceDeployment(ctx, &sdk.StopServiceDeploymentInput{ServiceDeploymentArn: aws.String(arn), StopType: types.StopServiceDeploymentStopTypeRollback})
	if !errors.As(err, &conflict) {
		t.Errorf("stop a finished deployment: %v, want ConflictException", err)
	}
}

func TestTrafficShiftingRollback(t *testing.T) {
	failAt := func(stage string) func(ecs.HookInvocation) ecs.HookResult {
		return func(inv ecs.HookInvocation) ecs.HookResult {
			if inv.Stage == stage {
				return ecs.HookResult{Status: ecs.HookFailed, Reason: "5xx rate 12% over 1%"}
			}
			return ecs.HookResult{Status: ecs.HookSucceeded}
		}
	}
	lambda := func(stages ...types.DeploymentLifecycleHookStage) []types.DeploymentLifecycleHook {
		return []types.DeploymentLifecycleHook{{HookTargetArn: aws.String(testLambda), LifecycleStages: stages}}
	}
	pause := func(stage types.DeploymentLifecycleHookStage, timeout *types.DeploymentLifecycleHookTimeoutConfiguration) []types.DeploymentLifecycleHook {
		return []types.DeploymentLifecycleHook{{
			TargetType: types.DeploymentLifecycleHookTargetTypePause, LifecycleStages: []types.DeploymentLifecycleHookStage{stage},
			TimeoutConfiguration: timeout,
		}}
	}
	canary := &types.CanaryConfiguration{CanaryPercent: aws.Float64(10), CanaryBakeTimeInMinutes: aws.Int32(0)}
	// awaitPause waits for the PAUSE hook of the deployment and returns its id.
	awaitPause := func(t *testing.T, w *world, arn string) string {
		var id string
		polltest.Eventually(t, "the pause hook", func() bool {
			for _, h := range w.serviceDeployment(t, arn).LifecycleHookDetails {
				if h.Status == types.DeploymentLifecycleHookStatusAwaitingAction {
					id = aws.ToString(h.HookId)
				}
			}
			return id != ""
		})
		return id
	}

	tests := []struct {
		name        string
		image       string
		config      types.DeploymentConfiguration
		decide      func(ecs.HookInvocation) ecs.HookResult
		act         func(t *testing.T, w *world, arn string)
		wantProd    []string // production weights of the target over time
		wantReason  string
		wantBreaker types.ServiceDeploymentRollbackMonitorsStatus
		wantAlarms  []string // the alarms that triggered
	}{
		{name: "hook FAILED before traffic moves",
			config: types.DeploymentConfiguration{Strategy: types.DeploymentStrategyBlueGreen,
				LifecycleHooks: lambda(types.DeploymentLifecycleHookStagePostScaleUp)},
			decide:   failAt("POST_SCALE_UP"),
			wantProd: []string{"0"}, wantReason: "failed at stage POST_SCALE_UP: 5xx rate 12% over 1%"},
		{name: "hook FAILED after the canary step",
			config: types.DeploymentConfiguration{Strategy: types.DeploymentStrategyCanary, CanaryConfiguration: canary,
				LifecycleHooks: lambda(types.DeploymentLifecycleHookStagePreProductionTrafficShift)},
			decide: func(inv ecs.HookInvocation) ecs.HookResult {
				if inv.ProductionTrafficWeights[inv.TargetServiceRevisionARN] > 0 {
					return ecs.HookResult{Status: ecs.HookFailed, Reason: "p99 latency 900ms over 250ms"}
				}
				return ecs.HookResult{Status: ecs.HookSucceeded}
			},
			wantProd: []string{"0", "10", "0"}, wantReason: "failed at stage PRE_PRODUCTION_TRAFFIC_SHIFT: p99 latency 900ms over 250ms"},
		{name: "no hook runner",
			config: types.DeploymentConfiguration{Strategy: types.DeploymentStrategyBlueGreen,
				LifecycleHooks: lambda(types.DeploymentLifecycleHookStagePreScaleUp)},
			wantProd: []string{"0"}, wantReason: "has no HookRunner"},
		{name: "ContinueServiceDeployment ROLLBACK",
			config: types.DeploymentConfiguration{Strategy: types.DeploymentStrategyLinear,
				LinearConfiguration: &types.LinearConfiguration{StepPercent: aws.Float64(50), StepBakeTimeInMinutes: aws.Int32(0)},
				LifecycleHooks:      pause(types.DeploymentLifecycleHookStagePostTestTrafficShift, nil)},
			act: func(t *testing.T, w *world, arn string) {
				if _, err := w.client.ContinueServiceDeployment(context.Background(), &sdk.ContinueServiceDeploymentInput{
					ServiceDeploymentArn: aws.String(arn), HookId: aws.String(awaitPause(t, w, arn)), Action: types.DeploymentLifecycleHookActionRollback,
				}); err != nil {
					t.Fatal(err)
				}
			},
			wantProd: []string{"0", "0"}, wantReason: "rolled back by ContinueServiceDeployment"},
		{name: "PAUSE hook times out",
			config: types.DeploymentConfiguration{Strategy: types.DeploymentStrategyBlueGreen,
				LifecycleHooks: pause(types.DeploymentLifecycleHookStagePreProductionTrafficShift,
					&types.DeploymentLifecycleHookTimeoutConfiguration{TimeoutInMinutes: aws.Int32(1)})},
			wantProd: []string{"0", "0"}, wantReason: "did not complete within its timeout"},
		{name: "StopServiceDeployment ROLLBACK",
			config: types.DeploymentConfiguration{Strategy: types.DeploymentStrategyCanary, CanaryConfiguration: canary,
				LifecycleHooks: pause(types.DeploymentLifecycleHookStagePostProductionTrafficShift, nil)},
			act: func(t *testing.T, w *world, arn string) {
				awaitPause(t, w, arn)
				out, err := w.client.StopServiceDeployment(context.Background(), &sdk.StopServiceDeploymentInput{
					ServiceDeploymentArn: aws.String(arn), StopType: types.StopServiceDeploymentStopTypeRollback,
				})
				if err != nil {
					t.Fatal(err)
				}
				if aws.ToString(out.ServiceDeploymentArn) != arn {
					t.Errorf("StopServiceDeployment returned %s", aws.ToString(out.ServiceDeploymentArn))
				}
			},
			wantProd: []string{"0", "10", "100", "0"}, wantReason: "rolled back by StopServiceDeployment"},
		{name: "alarm into ALARM",
			config: types.DeploymentConfiguration{Strategy: types.DeploymentStrategyBlueGreen,
				Alarms:         &types.DeploymentAlarms{AlarmNames: []string{"web-5xx"}, Enable: true, Rollback: true},
				LifecycleHooks: pause(types.DeploymentLifecycleHookStagePreProductionTrafficShift, nil)},
			act: func(t *testing.T, w *world, arn string) {
				awaitPause(t, w, arn)
				w.fake.AlarmChanged("web-5xx", "OK")
				w.fake.AlarmChanged("other-alarm", "ALARM")
				if st := w.serviceDeployment(t, arn).Status; st != types.ServiceDeploymentStatusInProgress {
					t.Fatalf("after an OK and another alarm's ALARM the deployment is %s", st)
				}
				w.fake.AlarmChanged("web-5xx", "ALARM")
			},
			wantProd: []string{"0", "0"}, wantReason: "web-5xx went into ALARM state", wantAlarms: []string{"web-5xx"}},
		{name: "circuit breaker",
			image: "meshsim/missing:v2",
			config: types.DeploymentConfiguration{Strategy: types.DeploymentStrategyBlueGreen,
				DeploymentCircuitBreaker: &types.DeploymentCircuitBreaker{Enable: true, Rollback: true}},
			wantProd: []string{"0"}, wantReason: "ECS deployment circuit breaker: tasks failed to start.",
			wantBreaker: types.ServiceDeploymentRollbackMonitorsStatusTriggered},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, func(o *ecs.Options) {
				if tt.decide != nil {
					o.Hooks = &hookRecorder{decide: tt.decide}
				}
			})
			v1 := w.register(t, "meshsim/test-http:v1", "v1")
			w.register(t, cmpOr(tt.image, "meshsim/test-http:v2"), "v2")
			config := tt.config
			config.BakeTimeInMinutes = aws.Int32(0)
			w.createService(t, "web", v1, 2, &config)
			first := w.waitStable(t, "web")
			blue := runningARNs(t, w, "web")
			blueDeployment := aws.ToString(first.Deployments[0].Id)

			svc := w.update(t, "web", sdk.UpdateServiceInput{TaskDefinition: aws.String("web:2")})
			arn := aws.ToString(svc.CurrentServiceDeployment)
			green := aws.ToString(svc.Deployments[0].Id)
			if tt.act != nil {
				tt.act(t, w, arn)
			}
			svc = w.waitStable(t, "web")
			checkRolledBack(t, w, first, svc, rollback{arn: arn, v1: v1, blue: blue, blueDeployment: blueDeployment, green: green,
				reason: tt.wantReason, breaker: tt.wantBreaker, prod: tt.wantProd})
			if tt.wantAlarms != nil {
				if a := w.serviceDeployment(t, arn).Alarms; a == nil || a.Status != types.ServiceDeploymentRollbackMonitorsStatusTriggered || !slices.Equal(a.TriggeredAlarmNames, tt.wantAlarms) {
					t.Errorf("alarms %+v, want TRIGGERED by %v", a, tt.wantAlarms)
				}
			}
		})
	}
}

// rollback is what a traffic-shifting deployment that rolled back should
// have left behind.
type rollback struct {
	arn, v1        string   // the service deployment, the blue task definition
	blue           []string // the blue tasks
	blueDeployment string   // the blue deployment's id
	green          string   // the green deployment's id
	reason         string   // part of the rollback reason
	breaker        types.ServiceDeploymentRollbackMonitorsStatus
	prod           []string // production weights of the target over time
}

// checkRolledBack checks that the service deployment rb.arn rolled back to
// the revision of first, leaving the blue tasks untouched with all traffic.
func checkRolledBack(t *testing.T, w *world, first, svc types.Service, rb rollback) {
	t.Helper()
	sd := w.serviceDeployment(t, rb.arn)
	if sd.Status != types.ServiceDeploymentStatusRollbackSuccessful || sd.Rollback == nil ||
		!strings.Contains(aws.ToString(sd.Rollback.Reason), rb.reason) ||
		aws.ToString(sd.Rollback.ServiceRevisionArn) != aws.ToString(first.CurrentServiceRevisions[0].Arn) || sd.Rollback.StartedAt == nil {
		t.Errorf("service deployment %s, rollback %+v; want ROLLBACK_SUCCESSFUL to %s for %q",
			sd.Status, sd.Rollback, aws.ToString(first.CurrentServiceRevisions[0].Arn), rb.reason)
	}
	if rb.breaker != "" {
		cb := sd.DeploymentCircuitBreaker
		if cb.Status != rb.breaker || cb.Threshold != 3 || cb.FailureCount != 3 {
			t.Errorf("circuit breaker %+v, want %s after 3 of 3", cb, rb.breaker)
		}
	}
	if got := aws.ToString(svc.TaskDefinition); got != rb.v1 || len(svc.Deployments) != 1 || aws.ToString(svc.Deployments[0].Id) != rb.blueDeployment {
		t.Errorf("after the rollback the service runs %s in %d deployments", got, len(svc.Deployments))
	}
	if got := runningARNs(t, w, "web"); !slices.Equal(got, rb.blue) {
		t.Errorf("running tasks %v, want the blue tasks %v untouched", got, rb.blue)
	}
	if !containsInOrder(messages(svc), "(service web) (deployment "+rb.green+") deployment failed: ", "(service web) rolling back to deployment "+rb.blueDeployment+".") {
		t.Errorf("service events %q", messages(svc))
	}
	traffic := deploymentEvents(w.events(), contract.EventDeploymentTraffic, rb.arn)
	if got := details(traffic, "productionWeight"); !slices.Equal(got, rb.prod) {
		t.Errorf("production weights of the target %v, want %v", got, rb.prod)
	}
	if last := traffic[len(traffic)-1]; last.Detail[contract.DetailTestWeight] != "0" || last.Detail[contract.DetailStatus] != "ROLLBACK_IN_PROGRESS" {
		t.Errorf("last traffic event %v, want all traffic back on the source while rolling back", last.Detail)
	}
	state := w.fake.TrafficState()
	if len(state[0].Revisions) != 1 || state[0].Revisions[0].TaskDefinitionARN != rb.v1 || state[0].Revisions[0].ProductionWeight != 100 {
		t.Errorf("traffic state after the rollback %+v", state[0].Revisions)
	}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func TestRollingServiceDeployments(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	v1 := w.register(t, "meshsim/test-http:v1", "v1")
	// v2 never gets healthy, and there is no circuit breaker: the rollout
	// is stuck until it is stopped.
	w.register(t, "meshsim/test-http:v2", "v2", types.KeyValuePair{Name: aws.String("HEALTH"), Value: aws.String("fail")})
	w.createService(t, "web", v1, 2, nil)
	first := w.waitStable(t, "web")
	arn := aws.ToString(w.update(t, "web", sdk.UpdateServiceInput{TaskDefinition: aws.String("web:2")}).CurrentServiceDeployment)
	polltest.Eventually(t, "a failed task of v2", func() bool { return len(w.tasks(t, "web", types.DesiredStatusStopped)) > 0 })
	if _, err := w.client.StopServiceDeployment(ctx, &sdk.StopServiceDeploymentInput{
		ServiceDeploymentArn: aws.String(arn), StopType: types.StopServiceDeploymentStopTypeRollback,
	}); err != nil {
		t.Fatal(err)
	}
	svc := w.waitStable(t, "web")
	if got := aws.ToString(svc.TaskDefinition); got != v1 {
		t.Errorf("after the rollback the service runs %s", got)
	}
	sd := w.serviceDeployment(t, arn)
	if sd.Status != types.ServiceDeploymentStatusRollbackSuccessful || sd.Rollback == nil ||
		aws.ToString(sd.Rollback.ServiceRevisionArn) != aws.ToString(first.CurrentServiceRevisions[0].Arn) ||
		sd.LifecycleStage != "" || sd.TargetServiceRevision.RequestedProductionTrafficWeight != nil {
		t.Errorf("rolling service deployment %+v", sd)
	}
	if !containsInOrder(messages(svc), "deployment failed: rollback requested by StopServiceDeployment.", "rolling back to deployment "+aws.ToString(first.Deployments[0].Id)+".") {
		t.Errorf("service events %q", messages(svc))
	}

	list, err := w.client.ListServiceDeployments(ctx, &sdk.ListServiceDeploymentsInput{Cluster: aws.String(testCluster), Service: aws.String("web")})
	if err != nil {
		t.Fatal(err)
	}
	var statuses []types.ServiceDeploymentStatus
	for _, b := range list.ServiceDeployments {
		statuses = append(statuses, b.Status)
	}
	if len(list.ServiceDeployments) != 2 || aws.ToString(list.ServiceDeployments[0].ServiceDeploymentArn) != arn ||
		!slices.Equal(statuses, []types.ServiceDeploymentStatus{"ROLLBACK_SUCCESSFUL", "SUCCESSFUL"}) {
		t.Errorf("ListServiceDeployments %v %+v", statuses, list.ServiceDeployments)
	}
	filtered, err := w.client.ListServiceDeployments(ctx, &sdk.ListServiceDeploymentsInput{
		Cluster: aws.String(testCluster), Service: aws.String("web"), Status: []types.ServiceDeploymentStatus{"SUCCESSFUL"},
	})
	if err != nil || len(filtered.ServiceDeployments) != 1 || aws.ToString(filtered.ServiceDeployments[0].ServiceDeploymentArn) != aws.ToString(first.CurrentServiceDeployment) {
		t.Errorf("ListServiceDeployments status SUCCESSFUL: %v %+v", err, filtered)
	}
	revs, err := w.client.DescribeServiceRevisions(ctx, &sdk.DescribeServiceRevisionsInput{
		ServiceRevisionArns: []string{aws.ToString(list.ServiceDeployments[0].TargetServiceRevisionArn), "arn:aws:ecs:eu-west-1:000000000000:service-revision/sim/web/1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(revs.ServiceRevisions) != 1 || aws.ToString(revs.ServiceRevisions[0].TaskDefinition) != "arn:aws:ecs:eu-west-1:000000000000:task-definition/web:2" ||
		aws.ToString(revs.ServiceRevisions[0].ServiceArn) != aws.ToString(svc.ServiceArn) || len(revs.ServiceRevisions[0].ContainerImages) != 1 ||
		len(revs.Failures) != 1 || aws.ToString(revs.Failures[0].Reason) != "MISSING" {
		t.Errorf("DescribeServiceRevisions %+v %+v", revs.ServiceRevisions, revs.Failures)
	}
	_, err = w.client.StopServiceDeployment(ctx, &sdk.StopServiceDeploymentInput{ServiceDeploymentArn: first.CurrentServiceDeployment})
	var conflict *types.ConflictException
	if !errors.As(err, &conflict) {
		t.Errorf("stop a finished deployment: %v", err)
	}
}

func TestCircuitBreakerThreshold(t *testing.T) {
	tests := []struct{ desired, threshold int32 }{
		{1, 3}, // 0.5 × 1, at least 3
		{8, 4}, // 0.5 × 8
		{9, 5}, // 0.5 × 9, rounded up
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("desired %d", tt.desired), func(t *testing.T) {
			w := newWorld(t)
			good := w.register(t, "meshsim/test-http:v1", "v1")
			w.register(t, "meshsim/missing:v2", "v2")
			w.createService(t, "web", good, tt.desired, &types.DeploymentConfiguration{
				DeploymentCircuitBreaker: &types.DeploymentCircuitBreaker{Enable: true, Rollback: true},
			})
			first := w.waitStable(t, "web")
			arn := aws.ToString(w.update(t, "web", sdk.UpdateServiceInput{TaskDefinition: aws.String("web:2")}).CurrentServiceDeployment)
			svc := w.waitStable(t, "web")
			if got := aws.ToString(svc.TaskDefinition); got != good {
				t.Fatalf("after the rollback the service runs %s", got)
			}

			// The breaker tripped at exactly the threshold.
			var failedAt []string
			for _, e := range w.events() {
				if e.Type == contract.EventDeploymentState && e.Detail[contract.DetailRolloutState] == "FAILED" && e.Detail[contract.DetailStatus] == "PRIMARY" {
					failedAt = append(failedAt, e.Detail[contract.DetailFailedTasks])
				}
			}
			if want := strconv.Itoa(int(tt.threshold)); !slices.Equal(failedAt, []string{want}) {
				t.Errorf("deployment failed with failedTasks %v, want [%s]", failedAt, want)
			}
			sd := w.serviceDeployment(t, arn)
			cb := sd.DeploymentCircuitBreaker
			if cb.Status != types.ServiceDeploymentRollbackMonitorsStatusTriggered || cb.Threshold != tt.threshold || cb.FailureCount != tt.threshold {
				t.Errorf("circuit breaker %+v, want TRIGGERED at %d", cb, tt.threshold)
			}
			if sd.Status != types.ServiceDeploymentStatusRollbackSuccessful || sd.Rollback == nil ||
				aws.ToString(sd.Rollback.Reason) != "ECS deployment circuit breaker: tasks failed to start." ||
				aws.ToString(sd.Rollback.ServiceRevisionArn) != aws.ToString(first.CurrentServiceRevisions[0].Arn) {
				t.Errorf("service deployment %s rollback %+v", sd.Status, sd.Rollback)
			}
			if old := w.serviceDeployment(t, aws.ToString(first.CurrentServiceDeployment)); old.DeploymentCircuitBreaker.Status != types.ServiceDeploymentRollbackMonitorsStatusMonitoringComplete {
				t.Errorf("the first deployment's breaker is %s, want MONITORING_COMPLETE", old.DeploymentCircuitBreaker.Status)
			}
		})
	}
}

func TestDeploymentConfigurationValidation(t *testing.T) {
	w := newWorld(t)
	w.createService(t, "web", w.register(t, "meshsim/test-http:v1", "v1"), 0, nil)
	hook := func(h types.DeploymentLifecycleHook) *types.DeploymentConfiguration {
		return &types.DeploymentConfiguration{Strategy: types.DeploymentStrategyBlueGreen, BakeTimeInMinutes: aws.Int32(1),
			LifecycleHooks: []types.DeploymentLifecycleHook{h}}
	}
	tests := []struct {
		name   string
		config *types.DeploymentConfiguration
		msg    string
	}{
		{"blue/green without bake time", &types.DeploymentConfiguration{Strategy: types.DeploymentStrategyBlueGreen},
			"deploymentConfiguration.bakeTimeInMinutes is required for the BLUE_GREEN deployment strategy."},
		{"unknown strategy", &types.DeploymentConfiguration{Strategy: "SIDEWAYS"},
			`deploymentConfiguration.strategy must be one of ROLLING, BLUE_GREEN, LINEAR or CANARY, not "SIDEWAYS".`},
		{"bake time too long", &types.DeploymentConfiguration{Strategy: types.DeploymentStrategyBlueGreen, BakeTimeInMinutes: aws.Int32(1441)},
			"deploymentConfiguration.bakeTimeInMinutes must be between 0 and 1440."},
		{"linear step below 3%", &types.DeploymentConfiguration{Strategy: types.DeploymentStrategyLinear,
			LinearConfiguration: &types.LinearConfiguration{StepPercent: aws.Float64(2.9)}},
			"deploymentConfiguration.linearConfiguration.stepPercent must be a multiple of 0.1 between 3.0 and 100.0."},
		{"linear step not in tenths", &types.DeploymentConfiguration{Strategy: types.DeploymentStrategyLinear,
			LinearConfiguration: &types.LinearConfiguration{StepPercent: aws.Float64(10.05)}},
			"deploymentConfiguration.linearConfiguration.stepPercent must be a multiple of 0.1 between 3.0 and 100.0."},
		{"canary over 100%", &types.DeploymentConfiguration{Strategy: types.DeploymentStrategyCanary,
			CanaryConfiguration: &types.CanaryConfiguration{CanaryPercent: aws.Float64(100.1)}},
			"deploymentConfiguration.canaryConfiguration.canaryPercent must be a multiple of 0.1 between 0.1 and 100.0."},
		{"canary bake too long", &types.DeploymentConfiguration{Strategy: types.DeploymentStrategyCanary,
			CanaryConfiguration: &types.CanaryConfiguration{CanaryBakeTimeInMinutes: aws.Int32(2000)}},
			"deploymentConfiguration.canaryConfiguration.canaryBakeTimeInMinutes must be between 0 and 1440."},
		{"lambda hook without target", hook(types.DeploymentLifecycleHook{LifecycleStages: allHookStages}),
			"deploymentConfiguration.lifecycleHooks[0]: hookTargetArn is required for an AWS_LAMBDA hook."},
		{"hook without stages", hook(types.DeploymentLifecycleHook{HookTargetArn: aws.String(testLambda)}),
			"deploymentConfiguration.lifecycleHooks[0]: lifecycleStages is required."},
		{"pause hook at a traffic shift", hook(types.DeploymentLifecycleHook{TargetType: types.DeploymentLifecycleHookTargetTypePause,
			LifecycleStages: []types.DeploymentLifecycleHookStage{types.DeploymentLifecycleHookStageProductionTrafficShift}}),
			"deploymentConfiguration.lifecycleHooks[0]: PAUSE hooks cannot be configured at TEST_TRAFFIC_SHIFT or PRODUCTION_TRAFFIC_SHIFT stages."},
		{"hook timeout too long", hook(types.DeploymentLifecycleHook{HookTargetArn: aws.String(testLambda), LifecycleStages: allHookStages,
			TimeoutConfiguration: &types.DeploymentLifecycleHookTimeoutConfiguration{TimeoutInMinutes: aws.Int32(20161)}}),
			"deploymentConfiguration.lifecycleHooks[0]: timeoutConfiguration.timeoutInMinutes must be between 1 and 20160."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := w.client.UpdateService(context.Background(), &sdk.UpdateServiceInput{
				Cluster: aws.String(testCluster), Service: aws.String("web"), DeploymentConfiguration: tt.config,
			})
			if code, msg := apiError(err); code != "InvalidParameterException" || msg != tt.msg {
				t.Errorf("got %s %q, want InvalidParameterException %q", code, msg, tt.msg)
			}
		})
	}

	// Defaults are filled in and echoed.
	w.update(t, "web", sdk.UpdateServiceInput{DeploymentConfiguration: &types.DeploymentConfiguration{Strategy: types.DeploymentStrategyLinear}})
	dc := w.service(t, "web").DeploymentConfiguration
	if lc := dc.LinearConfiguration; lc == nil || aws.ToFloat64(lc.StepPercent) != 10 || aws.ToInt32(lc.StepBakeTimeInMinutes) != 6 {
		t.Errorf("linear defaults %+v, want 10%% every 6 minutes", dc.LinearConfiguration)
	}
}

func TestSupersededDeployment(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.createService(t, "web", w.register(t, "meshsim/test-http:v1", "v1"), 2, &types.DeploymentConfiguration{
		Strategy: types.DeploymentStrategyBlueGreen, BakeTimeInMinutes: aws.Int32(0),
		LifecycleHooks: []types.DeploymentLifecycleHook{{
			TargetType:      types.DeploymentLifecycleHookTargetTypePause,
			LifecycleStages: []types.DeploymentLifecycleHookStage{types.DeploymentLifecycleHookStagePostProductionTrafficShift},
		}},
	})
	first := w.waitStable(t, "web")
	v1 := aws.ToString(first.Deployments[0].Id)
	w.register(t, "meshsim/test-http:v2", "v2")
	v3 := w.register(t, "meshsim/test-http:v3", "v3")
	paused := func(arn string) string {
		var id string
		polltest.Eventually(t, "the pause hook", func() bool {
			for _, h := range w.serviceDeployment(t, arn).LifecycleHookDetails {
				if h.Status == types.DeploymentLifecycleHookStatusAwaitingAction {
					id = aws.ToString(h.HookId)
				}
			}
			return id != ""
		})
		return id
	}

	// v2 takes all production traffic and pauses; then v3 supersedes it.
	second := w.update(t, "web", sdk.UpdateServiceInput{TaskDefinition: aws.String("web:2")})
	v2 := aws.ToString(second.Deployments[0].Id)
	paused(aws.ToString(second.CurrentServiceDeployment))
	third := w.update(t, "web", sdk.UpdateServiceInput{TaskDefinition: aws.String("web:3")})
	arn := aws.ToString(third.CurrentServiceDeployment)
	if sd := w.serviceDeployment(t, aws.ToString(second.CurrentServiceDeployment)); sd.Status != types.ServiceDeploymentStatusStopped || sd.StoppedAt == nil ||
		aws.ToString(sd.StatusReason) != "Superseded by a new service deployment." {
		t.Errorf("superseded deployment %s %q", sd.Status, aws.ToString(sd.StatusReason))
	}
	hook := paused(arn)

	// The new deployment reconciled its two sources: v1, which served no
	// production traffic, is gone; v2 runs until CLEAN_UP.
	sd := w.serviceDeployment(t, arn)
	if len(sd.SourceServiceRevisions) != 2 {
		t.Fatalf("%d source revisions, want v2 and v1", len(sd.SourceServiceRevisions))
	}
	stages := details(deploymentEvents(w.events(), contract.EventDeploymentStage, arn), "stage")
	if len(stages) < 2 || stages[0] != "RECONCILE_SERVICE" || stages[1] != "PRE_SCALE_UP" {
		t.Errorf("stages %v, want RECONCILE_SERVICE first", stages)
	}
	var revisions []string
	for _, r := range w.fake.TrafficState()[0].Revisions {
		revisions = append(revisions, r.DeploymentID+"="+strconv.FormatFloat(r.ProductionWeight, 'f', -1, 64))
	}
	if want := []string{aws.ToString(third.Deployments[0].Id) + "=100", v2 + "=0"}; !slices.Equal(revisions, want) {
		t.Errorf("revisions while paused %v, want %v (v1 %s drained)", revisions, want, v1)
	}

	if _, err := w.client.ContinueServiceDeployment(ctx, &sdk.ContinueServiceDeploymentInput{ServiceDeploymentArn: aws.String(arn), HookId: aws.String(hook)}); err != nil {
		t.Fatal(err)
	}
	svc := w.waitStable(t, "web")
	if aws.ToString(svc.TaskDefinition) != v3 || len(svc.Deployments) != 1 || w.serviceDeployment(t, arn).Status != types.ServiceDeploymentStatusSuccessful {
		t.Errorf("service runs %s with %d deployments", aws.ToString(svc.TaskDefinition), len(svc.Deployments))
	}
}

// alarmStates are CloudWatch alarms' states for ecs.Options.Alarms.
type alarmStates map[string]string

func (a alarmStates) AlarmState(name string) (string, bool) {
	s, ok := a[name]
	return s, ok
}

// TestDeploymentAlarmInAlarmAtStart: an alarm already in ALARM when the
// deployment starts is ignored, as ECS ignores it, until it leaves that
// state; the deployment completes with its alarms MONITORING_COMPLETE.
func TestDeploymentAlarmInAlarmAtStart(t *testing.T) {
	w := newWorld(t, func(o *ecs.Options) { o.Alarms = alarmStates{"web-5xx": "ALARM"} })
	v1 := w.register(t, "meshsim/test-http:v1", "v1")
	w.register(t, "meshsim/test-http:v2", "v2")
	config := types.DeploymentConfiguration{Strategy: types.DeploymentStrategyBlueGreen, BakeTimeInMinutes: aws.Int32(0),
		Alarms: &types.DeploymentAlarms{AlarmNames: []string{"web-5xx"}, Enable: true, Rollback: true}}
	w.createService(t, "web", v1, 2, &config)
	w.waitStable(t, "web")
	svc := w.update(t, "web", sdk.UpdateServiceInput{TaskDefinition: aws.String("web:2")})
	arn := aws.ToString(svc.CurrentServiceDeployment)
	w.fake.AlarmChanged("web-5xx", "ALARM") // still in ALARM: ignored
	w.waitStable(t, "web")
	sd := w.serviceDeployment(t, arn)
	if sd.Status != types.ServiceDeploymentStatusSuccessful || sd.Alarms == nil || sd.Alarms.Status != types.ServiceDeploymentRollbackMonitorsStatusMonitoringComplete ||
		len(sd.Alarms.TriggeredAlarmNames) != 0 || !slices.Equal(sd.Alarms.AlarmNames, []string{"web-5xx"}) {
		t.Errorf("service deployment %s, alarms %+v; want SUCCESSFUL with the alarm ignored", sd.Status, sd.Alarms)
	}
}
