package ecs_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/servicediscovery"
	"github.com/aws/smithy-go"

	"github.com/meshsim/meshsim/sim/awsclient"
	"github.com/meshsim/meshsim/sim/cloudmap"
	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/ecs"
	"github.com/meshsim/meshsim/sim/endpoint"
	"github.com/meshsim/meshsim/sim/events"
	"github.com/meshsim/meshsim/sim/inproc"
	"github.com/meshsim/meshsim/sim/poll/polltest"
)

const (
	testCluster  = "sim"
	testRegistry = "arn:aws:servicediscovery:eu-west-1:000000000000:service/srv-web"
)

// world is the ECS fake and the Cloud Map fake behind the endpoint, with
// the inproc runtime running small real HTTP servers (and a stand-in for
// the Service Connect proxy), a recording Cloud Map registry, and SDK
// clients.
type world struct {
	bus      *events.Bus
	fake     *ecs.Fake
	client   *sdk.Client
	cloudMap *servicediscovery.Client
	log      *callLog
	registry *registry
	proxies  *proxyLog
	url      string
	events   func() []events.Event
}

// newWorld starts a world whose ECS fake has the options opts change.
func newWorld(t *testing.T, opts ...func(*ecs.Options)) *world {
	t.Helper()
	bus := events.NewBus(0)
	log := &callLog{}
	cm := cloudmap.New(cloudmap.Options{Bus: bus})
	t.Cleanup(func() { _ = cm.Close() })
	reg := &registry{log: log, cloudMap: cm, instances: map[string]map[string]string{}}
	proxies := &proxyLog{env: map[string]map[string]string{}}
	rt := inproc.New(inproc.Options{Bus: bus})
	rt.Handle("meshsim/test-http", inproc.StarterFunc(startApp))
	rt.Handle(contract.SidecarImage, inproc.StarterFunc(proxies.start))
	o := ecs.Options{
		Bus:               bus,
		Runtime:           loggingRuntime{rt: rt, log: log},
		Registry:          reg,
		Namespaces:        cm,
		Second:            10 * time.Millisecond,
		Minute:            60 * time.Millisecond,
		ReconcileInterval: 10 * time.Millisecond,
		RestartBackoff:    20 * time.Millisecond,
	}
	for _, opt := range opts {
		opt(&o)
	}
	fake := ecs.New(o)
	ep := endpoint.New(bus)
	ep.HandleTarget(ecs.TargetPrefix, fake)
	ep.HandleTarget(cloudmap.TargetPrefix, cm)
	srv := httptest.NewServer(ep)
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		if err := rt.Close(); err != nil {
			t.Errorf("runtime Close: %v", err)
		}
	})
	t.Cleanup(func() {
		if err := fake.Close(); err != nil {
			t.Errorf("fake Close: %v", err)
		}
	})

	clients := awsclient.New(srv.URL, "eu-west-1")
	w := &world{
		bus:      bus,
		fake:     fake,
		client:   clients.ECS,
		cloudMap: clients.CloudMap,
		log:      log,
		registry: reg,
		proxies:  proxies,
		url:      srv.URL,
	}
	// events returns every event so far.
	w.events = func() []events.Event { return busEvents(t, bus) }
	if _, err := w.client.CreateCluster(context.Background(), &sdk.CreateClusterInput{ClusterName: aws.String(testCluster)}); err != nil {
		t.Fatal(err)
	}
	return w
}

// proxyLog starts stand-ins for the Service Connect proxy, recording the
// environment ECS gave each.
type proxyLog struct {
	mu  sync.Mutex
	env map[string]map[string]string // by task id
}

func (p *proxyLog) start(ctx context.Context, c inproc.Container) (inproc.Process, error) {
	p.mu.Lock()
	p.env[c.TaskID] = c.Env
	p.mu.Unlock()
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", net.JoinHostPort(c.TaskIP, "15000"))
	if err != nil {
		return nil, err
	}
	return inproc.HTTPServer(ln, &http.Server{Handler: http.NotFoundHandler()}), nil
}

func (p *proxyLog) envOf(taskID string) map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.env[taskID]
}

// startApp starts a small HTTP server on the task IP: GET / answers
// "TASKID VERSION", /health 200 (500 when HEALTH=fail), /exit makes the
// process exit.
func startApp(ctx context.Context, c inproc.Container) (inproc.Process, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", net.JoinHostPort(c.TaskIP, strconv.Itoa(int(c.Ports[0]))))
	if err != nil {
		return nil, err
	}
	var proc atomic.Value
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		if c.Env["HEALTH"] == "fail" {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("/exit", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		_ = http.NewResponseController(w).Flush() // answer before exiting
		go proc.Load().(inproc.Process).Kill()
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", c.TaskID, c.Env["VERSION"])
	})
	p := inproc.HTTPServer(ln, &http.Server{Handler: mux})
	proc.Store(p)
	if c.Env["SIGTERM"] == "ignore" {
		return ignoreTerm{p}, nil
	}
	return p, nil
}

// ignoreTerm is a process that ignores SIGTERM: only a kill ends it.
type ignoreTerm struct{ inproc.Process }

func (ignoreTerm) Stop(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

// callLog records calls to the runtime and the registry in order, and
// when they were made.
type callLog struct {
	mu    sync.Mutex
	calls []string
	times []time.Time
}

func (l *callLog) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, s)
	l.times = append(l.times, time.Now())
}

// at returns when call s was made.
func (l *callLog) at(s string) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if i := slices.Index(l.calls, s); i >= 0 {
		return l.times[i]
	}
	return time.Time{}
}

func (l *callLog) index(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Index(l.calls, s)
}

type loggingRuntime struct {
	rt  ecs.Runtime
	log *callLog
}

func (r loggingRuntime) Start(ctx context.Context, t ecs.TaskSpec, report func(ecs.TaskReport)) (ecs.Started, error) {
	return r.rt.Start(ctx, t, report)
}

func (r loggingRuntime) Stop(ctx context.Context, taskID string, grace time.Duration) error {
	r.log.add("stop " + taskID)
	defer r.log.add("stopped " + taskID)
	return r.rt.Stop(ctx, taskID, grace)
}

// registry records registrations: those in testRegistry it keeps itself,
// the others (Service Connect's) go to the Cloud Map fake.
type registry struct {
	log       *callLog
	cloudMap  *cloudmap.Fake
	mu        sync.Mutex
	instances map[string]map[string]string // by instance id
}

func (r *registry) RegisterInstance(ctx context.Context, serviceID, instanceID string, attrs map[string]string) error {
	r.log.add("register " + instanceID)
	if serviceID != testRegistry {
		return r.cloudMap.RegisterInstance(ctx, serviceID, instanceID, attrs)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.instances[instanceID] = attrs
	return nil
}

func (r *registry) DeregisterInstance(ctx context.Context, serviceID, instanceID string) error {
	r.log.add("deregister " + instanceID)
	if serviceID != testRegistry {
		return r.cloudMap.DeregisterInstance(ctx, serviceID, instanceID)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.instances, instanceID)
	return nil
}

func (r *registry) attrs(instanceID string) map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.instances[instanceID]
}

// register registers a revision of family "web" running version with the
// given image and extra environment.
func (w *world) register(t *testing.T, image, version string, env ...types.KeyValuePair) string {
	t.Helper()
	out, err := w.client.RegisterTaskDefinition(context.Background(), &sdk.RegisterTaskDefinitionInput{
		Family:      aws.String("web"),
		NetworkMode: types.NetworkModeAwsvpc,
		ContainerDefinitions: []types.ContainerDefinition{{
			Name:  aws.String("app"),
			Image: aws.String(image),
			PortMappings: []types.PortMapping{{
				ContainerPort: aws.Int32(8080), Name: aws.String("http"), AppProtocol: types.ApplicationProtocolHttp,
			}},
			Environment: append([]types.KeyValuePair{{Name: aws.String("VERSION"), Value: aws.String(version)}}, env...),
			HealthCheck: &types.HealthCheck{
				Command:  []string{"CMD-SHELL", "curl -f http://localhost:8080/health || exit 1"},
				Interval: aws.Int32(5), Timeout: aws.Int32(2), Retries: aws.Int32(2),
			},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return *out.TaskDefinition.TaskDefinitionArn
}

func (w *world) createService(t *testing.T, name, taskDef string, desired int32, config *types.DeploymentConfiguration) {
	t.Helper()
	_, err := w.client.CreateService(context.Background(), &sdk.CreateServiceInput{
		Cluster:                 aws.String(testCluster),
		ServiceName:             aws.String(name),
		TaskDefinition:          aws.String(taskDef),
		DesiredCount:            aws.Int32(desired),
		DeploymentConfiguration: config,
		ServiceRegistries:       []types.ServiceRegistry{{RegistryArn: aws.String(testRegistry), ContainerName: aws.String("app"), ContainerPort: aws.Int32(8080)}},
		NetworkConfiguration: &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{
			Subnets: []string{"subnet-0123456789abcdef0"},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
}

// waitStable waits with the SDK's services-stable waiter.
func (w *world) waitStable(t *testing.T, name string) types.Service {
	t.Helper()
	waiter := sdk.NewServicesStableWaiter(w.client, func(o *sdk.ServicesStableWaiterOptions) {
		o.MinDelay = 20 * time.Millisecond
		o.MaxDelay = 100 * time.Millisecond
	})
	out, err := waiter.WaitForOutput(context.Background(), &sdk.DescribeServicesInput{
		Cluster: aws.String(testCluster), Services: []string{name},
	}, polltest.Limit)
	if err != nil {
		t.Fatalf("services-stable waiter for %s: %v", name, err)
	}
	return out.Services[0]
}

func (w *world) service(t *testing.T, name string) types.Service {
	t.Helper()
	out, err := w.client.DescribeServices(context.Background(), &sdk.DescribeServicesInput{
		Cluster: aws.String(testCluster), Services: []string{name},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Services) != 1 {
		t.Fatalf("DescribeServices %s: %d services, failures %v", name, len(out.Services), out.Failures)
	}
	return out.Services[0]
}

// tasks describes the tasks of service name with the given desired status.
func (w *world) tasks(t *testing.T, name string, desired types.DesiredStatus) []types.Task {
	t.Helper()
	ctx := context.Background()
	list, err := w.client.ListTasks(ctx, &sdk.ListTasksInput{
		Cluster: aws.String(testCluster), ServiceName: aws.String(name), DesiredStatus: desired,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.TaskArns) == 0 {
		return nil
	}
	out, err := w.client.DescribeTasks(ctx, &sdk.DescribeTasksInput{Cluster: aws.String(testCluster), Tasks: list.TaskArns})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Failures) > 0 {
		t.Fatalf("DescribeTasks failures: %v", out.Failures)
	}
	return out.Tasks
}

func taskIP(t *testing.T, task types.Task) string {
	t.Helper()
	var attachIP string
	for _, a := range task.Attachments {
		for _, d := range a.Details {
			if aws.ToString(d.Name) == "privateIPv4Address" {
				attachIP = aws.ToString(d.Value)
			}
		}
	}
	if len(task.Containers) == 0 || len(task.Containers[0].NetworkInterfaces) == 0 {
		t.Fatalf("task %s has no container network interface", aws.ToString(task.TaskArn))
	}
	containerIP := aws.ToString(task.Containers[0].NetworkInterfaces[0].PrivateIpv4Address)
	if attachIP == "" || attachIP != containerIP {
		t.Fatalf("task %s: attachment IP %q, container IP %q; want the same, set", aws.ToString(task.TaskArn), attachIP, containerIP)
	}
	return attachIP
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func taskID(arn string) string { return arn[strings.LastIndexByte(arn, '/')+1:] }

func messages(s types.Service) []string {
	var out []string
	for _, e := range slices.Backward(s.Events) { // oldest first
		out = append(out, aws.ToString(e.Message))
	}
	return out
}

// containsInOrder reports whether each of wants is a substring of an
// element of list, in order.
func containsInOrder(list []string, wants ...string) bool {
	i := 0
	for _, s := range list {
		if i < len(wants) && strings.Contains(s, wants[i]) {
			i++
		}
	}
	return i == len(wants)
}

func TestServiceLifecycle(t *testing.T) {
	w := newWorld(t)
	td := w.register(t, "meshsim/test-http:v1", "v1")
	w.createService(t, "web", td, 2, nil)

	checkStableService(t, w.waitStable(t, "web"))
	tasks := checkRunningTasks(t, w, td)
	checkTaskDefinitionEcho(t, w)
	deleteService(t, w, "web")
	checkTasksStopped(t, w, tasks)
}

// checkStableService checks the service web of TestServiceLifecycle once
// stable: two tasks in one completed deployment, default configuration, the
// events ECS writes.
func checkStableService(t *testing.T, svc types.Service) {
	t.Helper()
	if svc.RunningCount != 2 || svc.PendingCount != 0 || len(svc.Deployments) != 1 {
		t.Fatalf("stable service: running %d pending %d deployments %d", svc.RunningCount, svc.PendingCount, len(svc.Deployments))
	}
	d := svc.Deployments[0]
	if aws.ToString(d.Status) != "PRIMARY" || d.RolloutState != types.DeploymentRolloutStateCompleted ||
		!strings.HasPrefix(aws.ToString(d.Id), "ecs-svc/") || d.RunningCount != 2 || d.DesiredCount != 2 {
		t.Errorf("deployment %+v: want PRIMARY COMPLETED ecs-svc/… with 2 running", d)
	}
	if got := aws.ToString(svc.ServiceArn); got != "arn:aws:ecs:eu-west-1:000000000000:service/sim/web" {
		t.Errorf("service ARN %s", got)
	}
	if mp, minp := aws.ToInt32(svc.DeploymentConfiguration.MaximumPercent), aws.ToInt32(svc.DeploymentConfiguration.MinimumHealthyPercent); mp != 200 || minp != 100 {
		t.Errorf("default deploymentConfiguration max %d min %d, want 200 100", mp, minp)
	}
	if !containsInOrder(messages(svc), "(service web) has started 2 tasks: (task ", "(service web) (deployment "+aws.ToString(d.Id)+") deployment completed.", "(service web) has reached a steady state.") {
		t.Errorf("service events %q", messages(svc))
	}

}

// checkRunningTasks checks that the two running tasks of the service web run
// td, healthy, each on its own IP, answering and registered in Cloud Map;
// it returns them.
func checkRunningTasks(t *testing.T, w *world, td string) []types.Task {
	t.Helper()
	tasks := w.tasks(t, "web", types.DesiredStatusRunning)
	if len(tasks) != 2 {
		t.Fatalf("%d running tasks, want 2", len(tasks))
	}
	ips := map[string]bool{}
	for _, task := range tasks {
		arn := aws.ToString(task.TaskArn)
		id := taskID(arn)
		if !strings.HasPrefix(arn, "arn:aws:ecs:eu-west-1:000000000000:task/sim/") || len(id) != 32 {
			t.Errorf("task ARN %s: want the long format with a 32-hex id", arn)
		}
		if aws.ToString(task.LastStatus) != "RUNNING" || task.HealthStatus != types.HealthStatusHealthy || aws.ToString(task.TaskDefinitionArn) != td {
			t.Errorf("task %s: %s %s %s, want RUNNING HEALTHY %s", id, aws.ToString(task.LastStatus), task.HealthStatus, aws.ToString(task.TaskDefinitionArn), td)
		}
		ip := taskIP(t, task)
		ips[ip] = true
		if got, want := httpGet(t, "http://"+ip+":8080/"), id+" v1"; got != want {
			t.Errorf("task %s on %s answered %q, want %q", id, ip, got, want)
		}
		attrs := w.registry.attrs(id)
		if attrs["AWS_INSTANCE_IPV4"] != ip || attrs["AWS_INSTANCE_PORT"] != "8080" || attrs["ECS_SERVICE_NAME"] != "web" || attrs["ECS_TASK_DEFINITION_FAMILY"] != "web" {
			t.Errorf("Cloud Map attributes of %s: %v", id, attrs)
		}
	}
	if len(ips) != 2 {
		t.Errorf("task IPs %v, want two distinct", ips)
	}

	return tasks
}

// checkTaskDefinitionEcho checks that DescribeTaskDefinition echoes the
// task definition web with the defaults filled in.
func checkTaskDefinitionEcho(t *testing.T, w *world) {
	t.Helper()
	tdOut, err := w.client.DescribeTaskDefinition(context.Background(), &sdk.DescribeTaskDefinitionInput{TaskDefinition: aws.String("web")})
	if err != nil {
		t.Fatal(err)
	}
	cd := tdOut.TaskDefinition.ContainerDefinitions[0]
	if tdOut.TaskDefinition.Revision != 1 || aws.ToString(cd.PortMappings[0].Name) != "http" || cd.PortMappings[0].AppProtocol != types.ApplicationProtocolHttp ||
		!aws.ToBool(cd.Essential) || aws.ToInt32(cd.HealthCheck.Interval) != 5 || aws.ToInt32(cd.HealthCheck.StartPeriod) != 0 {
		t.Errorf("DescribeTaskDefinition echoed %+v", cd)
	}

}

// deleteService scales the service name to 0 (DeleteService refuses a
// scaled service) and deletes it, waiting for it to be INACTIVE.
func deleteService(t *testing.T, w *world, name string) {
	t.Helper()
	ctx := context.Background()
	_, err := w.client.DeleteService(ctx, &sdk.DeleteServiceInput{Cluster: aws.String(testCluster), Service: aws.String(name)})
	var invalid *types.InvalidParameterException
	if !errors.As(err, &invalid) || invalid.ErrorMessage() != "The service cannot be stopped while it is scaled above 0." {
		t.Fatalf("DeleteService of a scaled service: %v", err)
	}
	if _, err := w.client.UpdateService(ctx, &sdk.UpdateServiceInput{Cluster: aws.String(testCluster), Service: aws.String(name), DesiredCount: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	if svc := w.waitStable(t, name); svc.RunningCount != 0 {
		t.Fatalf("scaled to 0: running %d", svc.RunningCount)
	}
	del, err := w.client.DeleteService(ctx, &sdk.DeleteServiceInput{Cluster: aws.String(testCluster), Service: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	if s := aws.ToString(del.Service.Status); s != "DRAINING" {
		t.Errorf("deleted service status %s, want DRAINING", s)
	}
	polltest.Eventually(t, "service INACTIVE", func() bool { return aws.ToString(w.service(t, name).Status) == "INACTIVE" })
}

// checkTasksStopped checks that every task was registered, then
// deregistered before it was stopped, and went through the whole
// lifecycle.
func checkTasksStopped(t *testing.T, w *world, tasks []types.Task) {
	t.Helper()
	for _, task := range tasks {
		id := taskID(aws.ToString(task.TaskArn))
		reg, dereg, stop := w.log.index("register "+id), w.log.index("deregister "+id), w.log.index("stop "+id)
		if reg < 0 || dereg < reg || stop < dereg {
			t.Errorf("task %s: register at %d, deregister at %d, stop at %d; want in that order", id, reg, dereg, stop)
		}
		var states []string
		for _, e := range w.events() {
			if e.Type == contract.EventTaskState && e.Resource == aws.ToString(task.TaskArn) {
				states = append(states, e.Detail[contract.DetailTo])
			}
		}
		want := []string{"PROVISIONING", "PENDING", "ACTIVATING", "RUNNING", "DEACTIVATING", "STOPPING", "DEPROVISIONING", "STOPPED"}
		if !slices.Equal(states, want) {
			t.Errorf("task %s went %v, want %v", id, states, want)
		}
	}
	stopped := w.tasks(t, "web", types.DesiredStatusStopped)
	if len(stopped) != 2 {
		t.Fatalf("%d stopped tasks, want 2", len(stopped))
	}
	for _, task := range stopped {
		if aws.ToString(task.LastStatus) != "STOPPED" || task.StopCode != types.TaskStopCodeServiceSchedulerInitiated ||
			task.StoppedAt == nil || !strings.HasPrefix(aws.ToString(task.StoppedReason), "Scaling activity initiated by (deployment ecs-svc/") {
			t.Errorf("stopped task: %s %s %q", aws.ToString(task.LastStatus), task.StopCode, aws.ToString(task.StoppedReason))
		}
	}
}

func TestRollingUpdate(t *testing.T) {
	tests := []struct {
		name                          string
		minPercent, maxPercent        int32
		desired, minRunning, maxTasks int32
	}{
		// desired 3: at least ceil(1.5) = 2 running, at most floor(4.5) = 4 tasks.
		{"50/150", 50, 150, 3, 2, 4},
		// "least space": never more tasks than desired, half may be down.
		{"50/100", 50, 100, 4, 2, 4},
		// "no lost capacity": all desired keep running, twice as many at most.
		{"100/200", 100, 200, 2, 2, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testRollingUpdate(t, tt.minPercent, tt.maxPercent, tt.desired, tt.minRunning, tt.maxTasks)
		})
	}
}

func testRollingUpdate(t *testing.T, minPercent, maxPercent, desired, minRunning, maxTasks int32) {
	w := newWorld(t)
	ctx := context.Background()
	v1 := w.register(t, "meshsim/test-http:v1", "v1")
	v2 := w.register(t, "meshsim/test-http:v2", "v2")
	w.createService(t, "web", v1, desired, &types.DeploymentConfiguration{
		MinimumHealthyPercent: aws.Int32(minPercent), MaximumPercent: aws.Int32(maxPercent),
	})
	w.waitStable(t, "web")
	before := w.tasks(t, "web", types.DesiredStatusRunning)

	updated, err := w.client.UpdateService(ctx, &sdk.UpdateServiceInput{
		Cluster: aws.String(testCluster), Service: aws.String("web"), TaskDefinition: aws.String("web:2"),
	})
	if err != nil {
		t.Fatal(err)
	}
	// The new deployment is PRIMARY beside the old, ACTIVE, one.
	if d := updated.Service.Deployments; len(d) != 2 || aws.ToString(d[0].Status) != "PRIMARY" || aws.ToString(d[1].Status) != "ACTIVE" {
		t.Errorf("UpdateService answered deployments %+v, want PRIMARY and ACTIVE", d)
	}
	polltest.Eventually(t, "the rollout to complete", func() bool {
		s := w.service(t, "web")
		if s.RunningCount < minRunning || s.RunningCount+s.PendingCount > maxTasks {
			t.Fatalf("during the rollout: %d running, %d pending; want >= %d running and <= %d in all", s.RunningCount, s.PendingCount, minRunning, maxTasks)
		}
		return len(s.Deployments) == 1 && s.Deployments[0].RolloutState == types.DeploymentRolloutStateCompleted && s.RunningCount == desired
	})
	svc := w.waitStable(t, "web")
	if got := aws.ToString(svc.TaskDefinition); got != v2 {
		t.Errorf("service task definition %s, want %s", got, v2)
	}
	for _, task := range before {
		id := taskID(aws.ToString(task.TaskArn))
		if !slices.ContainsFunc(messages(svc), func(m string) bool {
			return strings.Contains(m, "(service web) has stopped ") && strings.Contains(m, "(task "+id+")")
		}) {
			t.Errorf("no event for stopping old task %s: %q", id, messages(svc))
		}
	}
	for _, task := range w.tasks(t, "web", types.DesiredStatusRunning) {
		if aws.ToString(task.TaskDefinitionArn) != v2 {
			t.Errorf("task %s runs %s, want %s", aws.ToString(task.TaskArn), aws.ToString(task.TaskDefinitionArn), v2)
		}
		if got := httpGet(t, "http://"+taskIP(t, task)+":8080/"); !strings.HasSuffix(got, " v2") {
			t.Errorf("task answered %q, want version v2", got)
		}
	}

	// Replay every task state change: the bounds held at every moment.
	checkBounds(t, w.events(), desired, minRunning, maxTasks)

	// A forced deployment replaces every task with the same revision.
	old := map[string]bool{}
	for _, task := range w.tasks(t, "web", types.DesiredStatusRunning) {
		old[aws.ToString(task.TaskArn)] = true
	}
	if _, err := w.client.UpdateService(ctx, &sdk.UpdateServiceInput{
		Cluster: aws.String(testCluster), Service: aws.String("web"), ForceNewDeployment: true,
	}); err != nil {
		t.Fatal(err)
	}
	if s := w.service(t, "web"); len(s.Deployments) != 2 || aws.ToString(s.Deployments[0].TaskDefinition) != v2 {
		t.Fatalf("after forceNewDeployment: %d deployments, primary %s", len(s.Deployments), aws.ToString(s.Deployments[0].TaskDefinition))
	}
	w.waitStable(t, "web")
	for _, task := range w.tasks(t, "web", types.DesiredStatusRunning) {
		if old[aws.ToString(task.TaskArn)] {
			t.Errorf("task %s survived the forced deployment", aws.ToString(task.TaskArn))
		}
	}
}

func TestHealthCheckFailingTaskNeverRuns(t *testing.T) {
	w := newWorld(t)
	td := w.register(t, "meshsim/test-http:v1", "v1", types.KeyValuePair{Name: aws.String("HEALTH"), Value: aws.String("fail")})
	w.createService(t, "web", td, 1, nil)

	var stopped []types.Task
	polltest.Eventually(t, "two tasks to fail their health checks", func() bool {
		stopped = w.tasks(t, "web", types.DesiredStatusStopped)
		return len(stopped) >= 2
	})
	for _, task := range stopped {
		if r := aws.ToString(task.StoppedReason); r != "Task failed container health checks" {
			t.Errorf("stopped reason %q", r)
		}
		if task.StartedAt != nil {
			t.Errorf("task %s has startedAt, but never ran", aws.ToString(task.TaskArn))
		}
	}
	svc := w.service(t, "web")
	if svc.RunningCount != 0 || svc.Deployments[0].FailedTasks < 1 || svc.Deployments[0].RolloutState != types.DeploymentRolloutStateInProgress {
		t.Errorf("service: running %d, failedTasks %d, rollout %s", svc.RunningCount, svc.Deployments[0].FailedTasks, svc.Deployments[0].RolloutState)
	}
	if !containsInOrder(messages(svc), "(service web) (task "+taskID(aws.ToString(stopped[0].TaskArn))+") failed container health checks.") {
		t.Errorf("service events %q", messages(svc))
	}
	for _, e := range w.events() {
		if e.Type == contract.EventTaskState && e.Detail[contract.DetailTo] == "RUNNING" {
			t.Errorf("task %s became RUNNING", e.Resource)
		}
		if e.Source == contract.SourceRuntime && e.Type == contract.EventContainerHealth && e.Detail[contract.DetailStatus] == "HEALTHY" {
			t.Errorf("container of %s reported HEALTHY", e.Resource)
		}
	}
	if n := len(w.registry.instances); n != 0 {
		t.Errorf("%d unhealthy tasks registered in Cloud Map", n)
	}
}

func TestCircuitBreakerRollsBack(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	good := w.register(t, "meshsim/test-http:v1", "v1")
	w.register(t, "meshsim/missing:v2", "v2")
	w.createService(t, "web", good, 1, &types.DeploymentConfiguration{
		DeploymentCircuitBreaker: &types.DeploymentCircuitBreaker{Enable: true, Rollback: true},
	})
	first := w.waitStable(t, "web").Deployments[0]

	if _, err := w.client.UpdateService(ctx, &sdk.UpdateServiceInput{
		Cluster: aws.String(testCluster), Service: aws.String("web"), TaskDefinition: aws.String("web:2"),
	}); err != nil {
		t.Fatal(err)
	}
	polltest.Eventually(t, "the rollback deployment", func() bool {
		s := w.service(t, "web")
		return aws.ToString(s.Deployments[0].TaskDefinition) == good && aws.ToString(s.Deployments[0].Id) != aws.ToString(first.Id)
	})
	svc := w.waitStable(t, "web")
	if !containsInOrder(messages(svc), "deployment failed: tasks failed to start.", "rolling back to deployment "+aws.ToString(first.Id)+".") {
		t.Errorf("service events %q", messages(svc))
	}
	failed := 0
	for _, task := range w.tasks(t, "web", types.DesiredStatusStopped) {
		if aws.ToString(task.TaskDefinitionArn) == good {
			continue
		}
		failed++
		want := "CannotPullContainerError: meshsim inproc runtime has no image meshsim/missing:v2; known images: meshsim/test-http, meshsim/sidecar"
		if r := aws.ToString(task.StoppedReason); r != want || task.StopCode != types.TaskStopCodeTaskFailedToStart {
			t.Errorf("failed task: %s %q, want TaskFailedToStart %q", task.StopCode, r, want)
		}
	}
	if failed != 3 {
		t.Errorf("%d tasks of the bad revision failed, want 3 (the circuit breaker's minimum threshold)", failed)
	}
	var rollouts []string
	for _, e := range w.events() {
		if e.Type == contract.EventDeploymentState {
			rollouts = append(rollouts, e.Detail[contract.DetailStatus]+"/"+e.Detail[contract.DetailRolloutState])
		}
	}
	if !containsInOrder(rollouts, "PRIMARY/FAILED", "ACTIVE/FAILED", "PRIMARY/IN_PROGRESS", "INACTIVE/FAILED", "PRIMARY/COMPLETED") {
		t.Errorf("deployment states %v", rollouts)
	}
}

func TestTaskReplacement(t *testing.T) {
	tests := []struct {
		name       string
		stop       func(t *testing.T, w *world, task types.Task)
		wantReason string
		wantCode   types.TaskStopCode
	}{
		{"essential container exits", func(t *testing.T, w *world, task types.Task) {
			httpGet(t, "http://"+taskIP(t, task)+":8080/exit")
		}, "Essential container in task exited", types.TaskStopCodeEssentialContainerExited},
		{"StopTask", func(t *testing.T, w *world, task types.Task) {
			out, err := w.client.StopTask(context.Background(), &sdk.StopTaskInput{
				Cluster: aws.String(testCluster), Task: task.TaskArn, Reason: aws.String("rehearsing a crash"),
			})
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToString(out.Task.DesiredStatus) != "STOPPED" {
				t.Errorf("StopTask returned desired status %s", aws.ToString(out.Task.DesiredStatus))
			}
		}, "rehearsing a crash", types.TaskStopCodeUserInitiated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.createService(t, "web", w.register(t, "meshsim/test-http:v1", "v1"), 1, nil)
			w.waitStable(t, "web")
			victim := w.tasks(t, "web", types.DesiredStatusRunning)[0]
			tt.stop(t, w, victim)
			polltest.Eventually(t, "the task to stop", func() bool {
				stopped := w.tasks(t, "web", types.DesiredStatusStopped)
				return len(stopped) == 1 && aws.ToString(stopped[0].LastStatus) == "STOPPED"
			})
			stopped := w.tasks(t, "web", types.DesiredStatusStopped)[0]
			if aws.ToString(stopped.TaskArn) != aws.ToString(victim.TaskArn) || aws.ToString(stopped.StoppedReason) != tt.wantReason || stopped.StopCode != tt.wantCode {
				t.Errorf("stopped task %s: %s %q", aws.ToString(stopped.TaskArn), stopped.StopCode, aws.ToString(stopped.StoppedReason))
			}
			polltest.Eventually(t, "a replacement task", func() bool {
				running := w.tasks(t, "web", types.DesiredStatusRunning)
				return len(running) == 1 && aws.ToString(running[0].LastStatus) == "RUNNING" && aws.ToString(running[0].TaskArn) != aws.ToString(victim.TaskArn)
			})
			w.waitStable(t, "web")
		})
	}
}

// apiError returns the code and message of an AWS API error.
func apiError(err error) (code, msg string) {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode(), ae.ErrorMessage()
	}
	return "", fmt.Sprint(err)
}

func TestErrors(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	td := w.register(t, "meshsim/test-http:v1", "v1")
	w.createService(t, "web", td, 0, nil)
	cluster := aws.String(testCluster)

	tests := []struct {
		name string
		call func() error
		code string
		msg  string
	}{
		{"describe services in missing cluster", func() error {
			_, err := w.client.DescribeServices(ctx, &sdk.DescribeServicesInput{Cluster: aws.String("nope"), Services: []string{"web"}})
			return err
		}, "ClusterNotFoundException", "Cluster not found."},
		{"create service in missing cluster", func() error {
			_, err := w.client.CreateService(ctx, &sdk.CreateServiceInput{Cluster: aws.String("nope"), ServiceName: aws.String("x"), TaskDefinition: aws.String("web"), DesiredCount: aws.Int32(1)})
			return err
		}, "ClusterNotFoundException", "Cluster not found."},
		{"update missing service", func() error {
			_, err := w.client.UpdateService(ctx, &sdk.UpdateServiceInput{Cluster: cluster, Service: aws.String("nope"), DesiredCount: aws.Int32(1)})
			return err
		}, "ServiceNotFoundException", "Service not found."},
		{"duplicate service", func() error {
			_, err := w.client.CreateService(ctx, &sdk.CreateServiceInput{Cluster: cluster, ServiceName: aws.String("web"), TaskDefinition: aws.String("web"), DesiredCount: aws.Int32(1)})
			return err
		}, "InvalidParameterException", "Creation of service was not idempotent."},
		{"unknown task definition for service", func() error {
			_, err := w.client.CreateService(ctx, &sdk.CreateServiceInput{Cluster: cluster, ServiceName: aws.String("api"), TaskDefinition: aws.String("api:7"), DesiredCount: aws.Int32(1)})
			return err
		}, "InvalidParameterException", "TaskDefinition not found."},
		{"minimumHealthyPercent out of range", func() error {
			_, err := w.client.UpdateService(ctx, &sdk.UpdateServiceInput{Cluster: cluster, Service: aws.String("web"),
				DeploymentConfiguration: &types.DeploymentConfiguration{MinimumHealthyPercent: aws.Int32(150)}})
			return err
		}, "InvalidParameterException", "deploymentConfiguration.minimumHealthyPercent must be between 0 and 100."},

		{"describe unknown task definition", func() error {
			_, err := w.client.DescribeTaskDefinition(ctx, &sdk.DescribeTaskDefinitionInput{TaskDefinition: aws.String("web:9")})
			return err
		}, "ClientException", "Unable to describe task definition."},
		{"container without image", func() error {
			_, err := w.client.RegisterTaskDefinition(ctx, &sdk.RegisterTaskDefinitionInput{Family: aws.String("x"),
				ContainerDefinitions: []types.ContainerDefinition{{Name: aws.String("app")}}})
			return err
		}, "ClientException", "Container.image should not be null or empty."},
		{"stop unknown task", func() error {
			_, err := w.client.StopTask(ctx, &sdk.StopTaskInput{Cluster: cluster, Task: aws.String("0123456789abcdef0123456789abcdef")})
			return err
		}, "InvalidParameterException", "The referenced task was not found."},
		{"delete cluster with services", func() error {
			_, err := w.client.DeleteCluster(ctx, &sdk.DeleteClusterInput{Cluster: cluster})
			return err
		}, "ClusterContainsServicesException", "The Cluster cannot be deleted while Services are active."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			code, msg := apiError(err)
			if code != tt.code || msg != tt.msg {
				t.Errorf("error %v: got %s %q, want %s %q", err, code, msg, tt.code, tt.msg)
			}
		})
	}

	// Typed errors reach the SDK's types.
	_, err := w.client.DescribeServices(ctx, &sdk.DescribeServicesInput{Cluster: aws.String("nope"), Services: []string{"web"}})
	var notFound *types.ClusterNotFoundException
	if !errors.As(err, &notFound) {
		t.Errorf("missing cluster: %T %v, want *types.ClusterNotFoundException", err, err)
	}

	// Unknown services are failures, not errors; the waiter gives up on them.
	out, err := w.client.DescribeServices(ctx, &sdk.DescribeServicesInput{Cluster: cluster, Services: []string{"web", "ghost"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Services) != 1 || len(out.Failures) != 1 || aws.ToString(out.Failures[0].Reason) != "MISSING" ||
		aws.ToString(out.Failures[0].Arn) != "arn:aws:ecs:eu-west-1:000000000000:service/sim/ghost" {
		t.Errorf("DescribeServices web+ghost: %d services, failures %+v", len(out.Services), out.Failures)
	}
	waiter := sdk.NewServicesStableWaiter(w.client, func(o *sdk.ServicesStableWaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 20*time.Millisecond
	})
	if err := waiter.Wait(ctx, &sdk.DescribeServicesInput{Cluster: cluster, Services: []string{"ghost"}}, 5*time.Second); err == nil ||
		!strings.Contains(err.Error(), "waiter state transitioned to Failure") {
		t.Errorf("waiter on a missing service: %v", err)
	}
	tasks, err := w.client.DescribeTasks(ctx, &sdk.DescribeTasksInput{Cluster: cluster, Tasks: []string{"0123456789abcdef0123456789abcdef"}})
	if err != nil || len(tasks.Failures) != 1 || aws.ToString(tasks.Failures[0].Reason) != "MISSING" {
		t.Errorf("DescribeTasks of an unknown task: %v %+v", err, tasks)
	}

	// A draining service cannot be updated.
	if _, err := w.client.DeleteService(ctx, &sdk.DeleteServiceInput{Cluster: cluster, Service: aws.String("web"), Force: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	_, err = w.client.UpdateService(ctx, &sdk.UpdateServiceInput{Cluster: cluster, Service: aws.String("web"), DesiredCount: aws.Int32(1)})
	if code, _ := apiError(err); code != "ServiceNotActiveException" && code != "ServiceNotFoundException" {
		t.Errorf("update of a deleted service: %v", err)
	}
}

func TestWireErrorShape(t *testing.T) {
	w := newWorld(t)
	req, err := http.NewRequest(http.MethodPost, w.url, strings.NewReader(`{"cluster":"nope","services":["web"]}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Target", "AmazonEC2ContainerServiceV20141113.DescribeServices")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Content-Type") != "application/x-amz-json-1.1" ||
		string(body) != `{"__type":"ClusterNotFoundException","message":"Cluster not found."}` {
		t.Errorf("response %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
}

func TestClusters(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	for _, name := range []string{"b", "c", "sim"} { // "sim" exists: CreateCluster is idempotent
		out, err := w.client.CreateCluster(ctx, &sdk.CreateClusterInput{ClusterName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		if got := aws.ToString(out.Cluster.ClusterArn); got != "arn:aws:ecs:eu-west-1:000000000000:cluster/"+name {
			t.Errorf("cluster ARN %s", got)
		}
	}
	var arns []string
	pages := sdk.NewListClustersPaginator(w.client, &sdk.ListClustersInput{MaxResults: aws.Int32(2)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.ClusterArns) > 2 {
			t.Errorf("page of %d, want at most 2", len(page.ClusterArns))
		}
		arns = append(arns, page.ClusterArns...)
	}
	if len(arns) != 3 {
		t.Errorf("listed clusters %v, want b, c, sim", arns)
	}
	if _, err := w.client.DeleteCluster(ctx, &sdk.DeleteClusterInput{Cluster: aws.String("b")}); err != nil {
		t.Fatal(err)
	}
	out, err := w.client.DescribeClusters(ctx, &sdk.DescribeClustersInput{Clusters: []string{"b", "c", "zzz"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Clusters) != 2 || aws.ToString(out.Clusters[0].Status) != "INACTIVE" || aws.ToString(out.Clusters[1].Status) != "ACTIVE" ||
		len(out.Failures) != 1 || aws.ToString(out.Failures[0].Reason) != "MISSING" {
		t.Errorf("DescribeClusters b, c, zzz: %+v %+v", out.Clusters, out.Failures)
	}
}

func TestTaskStopping(t *testing.T) {
	const second = 10 * time.Millisecond // the world's Options.Second
	tests := []struct {
		name     string
		sigterm  string
		wantExit int32
	}{
		{"drains on SIGTERM", "drain", 0},
		{"ignores SIGTERM", "ignore", 137},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, func(o *ecs.Options) { o.DeregistrationDelay = 5 * time.Second })
			ctx := context.Background()
			out, err := w.client.RegisterTaskDefinition(ctx, &sdk.RegisterTaskDefinitionInput{
				Family: aws.String("web"), NetworkMode: types.NetworkModeAwsvpc,
				ContainerDefinitions: []types.ContainerDefinition{{
					Name: aws.String("app"), Image: aws.String("meshsim/test-http:v1"), StopTimeout: aws.Int32(3),
					PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(8080)}},
					Environment:  []types.KeyValuePair{{Name: aws.String("SIGTERM"), Value: aws.String(tt.sigterm)}},
				}},
			})
			if err != nil {
				t.Fatal(err)
			}
			w.createService(t, "web", aws.ToString(out.TaskDefinition.TaskDefinitionArn), 1, nil)
			w.waitStable(t, "web")
			id := taskID(aws.ToString(w.tasks(t, "web", types.DesiredStatusRunning)[0].TaskArn))
			w.update(t, "web", sdk.UpdateServiceInput{DesiredCount: aws.Int32(0)})
			// The waiter counts RUNNING tasks: it is done while the task drains.
			w.waitStable(t, "web")
			polltest.Eventually(t, "the task to stop", func() bool {
				stopped := w.tasks(t, "web", types.DesiredStatusStopped)
				return len(stopped) == 1 && aws.ToString(stopped[0].LastStatus) == "STOPPED"
			})

			dereg, stop, stopped := w.log.at("deregister "+id), w.log.at("stop "+id), w.log.at("stopped "+id)
			if dereg.IsZero() || stop.IsZero() || stopped.IsZero() {
				t.Fatalf("deregistered at %v, SIGTERM at %v, stopped at %v: want all three", dereg, stop, stopped)
			}
			if gap := stop.Sub(dereg); gap < 5*second {
				t.Errorf("SIGTERM %v after deregistration, want at least the deregistration delay %v", gap, 5*second)
			}
			if tt.wantExit == 137 {
				if took := stopped.Sub(stop); took < 3*second {
					t.Errorf("killed %v after SIGTERM, want at least the stop timeout %v", took, 3*second)
				}
			}
			stoppedTask := w.tasks(t, "web", types.DesiredStatusStopped)[0]
			if c := stoppedTask.Containers[0]; aws.ToInt32(c.ExitCode) != tt.wantExit || aws.ToString(c.LastStatus) != "STOPPED" {
				t.Errorf("container exit code %d, status %s; want %d STOPPED", aws.ToInt32(c.ExitCode), aws.ToString(c.LastStatus), tt.wantExit)
			}
		})
	}
}

// specRuntime records the task specs the fake hands the runtime.
type specRuntime struct {
	ecs.Runtime
	specs chan ecs.TaskSpec
}

func (r specRuntime) Start(ctx context.Context, t ecs.TaskSpec, report func(ecs.TaskReport)) (ecs.Started, error) {
	select {
	case r.specs <- t:
	default:
	}
	return r.Runtime.Start(ctx, t, report)
}

// TestContainerProcess: the entry point, command, working directory and
// user of a container definition reach the runtime that starts it.
func TestContainerProcess(t *testing.T) {
	specs := make(chan ecs.TaskSpec, 1)
	w := newWorld(t, func(o *ecs.Options) { o.Runtime = specRuntime{Runtime: o.Runtime, specs: specs} })
	ctx := context.Background()
	out, err := w.client.RegisterTaskDefinition(ctx, &sdk.RegisterTaskDefinitionInput{
		Family: aws.String("web"), NetworkMode: types.NetworkModeAwsvpc,
		ContainerDefinitions: []types.ContainerDefinition{{
			Name: aws.String("app"), Image: aws.String("meshsim/test-http:v1"),
			EntryPoint:       []string{"/bin/app", "--verbose"},
			Command:          []string{"serve", "--port", "8080"},
			WorkingDirectory: aws.String("/srv"),
			User:             aws.String("1000:1000"),
			PortMappings:     []types.PortMapping{{ContainerPort: aws.Int32(8080)}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if c := out.TaskDefinition.ContainerDefinitions[0]; !slices.Equal(c.Command, []string{"serve", "--port", "8080"}) || aws.ToString(c.User) != "1000:1000" {
		t.Errorf("RegisterTaskDefinition echoed command %q, user %q", c.Command, aws.ToString(c.User))
	}
	w.createService(t, "web", aws.ToString(out.TaskDefinition.TaskDefinitionArn), 1, nil)
	spec := <-specs
	c := spec.Containers[0]
	if !slices.Equal(c.EntryPoint, []string{"/bin/app", "--verbose"}) || !slices.Equal(c.Command, []string{"serve", "--port", "8080"}) ||
		c.WorkingDirectory != "/srv" || c.User != "1000:1000" {
		t.Errorf("runtime got entryPoint %q command %q workingDirectory %q user %q", c.EntryPoint, c.Command, c.WorkingDirectory, c.User)
	}
	if spec.Family != "web" || spec.Revision != 1 {
		t.Errorf("runtime got task definition %s:%d, want web:1", spec.Family, spec.Revision)
	}
}

// checkBounds replays the task state changes of service "web" in es and
// checks that, once the service first ran desired tasks, at least
// minRunning ran and at most maxTasks were not stopped at every moment.
func checkBounds(t *testing.T, es []events.Event, desired, minRunning, maxTasks int32) {
	t.Helper()
	state := map[string]string{}
	settled := false
	var last uint64
	for _, e := range es {
		if e.Seq != last+1 {
			t.Fatalf("event stream has a gap before seq %d", e.Seq)
		}
		last = e.Seq
		if e.Type != contract.EventTaskState || e.Detail[contract.DetailService] != "web" {
			continue
		}
		state[e.Resource] = e.Detail[contract.DetailTo]
		var running, alive int32
		for _, s := range state {
			if s == "RUNNING" {
				running++
			}
			if s != "STOPPED" {
				alive++
			}
		}
		settled = settled || running == desired
		if settled && (running < minRunning || alive > maxTasks) {
			t.Errorf("after event %d (%s → %s): %d running, %d not stopped", e.Seq, e.Detail[contract.DetailFrom], e.Detail[contract.DetailTo], running, alive)
		}
	}
}
