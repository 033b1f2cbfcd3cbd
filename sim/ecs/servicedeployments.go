package ecs

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/meshsim/meshsim/sim/awsproto"
)

const (
	codeServiceDeploymentNotFound = "ServiceDeploymentNotFoundException"
	codeConflict                  = "ConflictException"
)

var errServiceDeploymentNotFound = awsproto.Errorf(http.StatusBadRequest, codeServiceDeploymentNotFound, "Service deployment not found.")

// conflict returns a ConflictException about resource.
func conflict(resource, format string, args ...any) error {
	return &awsproto.Error{Status: http.StatusBadRequest, Code: codeConflict,
		Message: fmt.Sprintf(format, args...), Extra: map[string]any{"resourceIds": []string{resource}}}
}

// newRevision makes a service revision of s running td with the service's
// current configuration. Callers hold f.mu.
func (f *Fake) newRevision(s *service, td *taskDef) *serviceRevision {
	rev := &serviceRevision{
		service:              s,
		arn:                  awsproto.ARN(s.cluster.region, "ecs", "service-revision/"+s.cluster.name+"/"+s.name+"/"+randomDigits(19)),
		def:                  td,
		createdAt:            time.Now(),
		serviceConnect:       s.serviceConnect,
		connect:              s.connect,
		networkConfiguration: s.networkConfiguration,
		registries:           s.registries,
	}
	f.revisions[rev.arn] = rev
	return rev
}

// addDeployment makes a PRIMARY deployment of rev for s; the previous
// primary becomes ACTIVE. Callers hold f.mu.
func (f *Fake) addDeployment(s *service, rev *serviceRevision) *deployment {
	now := time.Now()
	d := &deployment{
		id:           newDeploymentID(),
		status:       deploymentPrimary,
		def:          rev.def,
		revision:     rev,
		createdAt:    now,
		updatedAt:    now,
		rolloutState: rolloutInProgress,
	}
	if len(s.deployments) > 0 {
		old := s.deployments[0]
		old.status = deploymentActive
		old.updatedAt = now
		f.emitDeployment(s, old)
	}
	s.deployments = append([]*deployment{d}, s.deployments...)
	s.steady = false
	f.emitDeployment(s, d)
	return d
}

// deploy starts a service deployment that moves s to rev: a new PRIMARY
// deployment, rolled out by the scheduler (ROLLING, or any strategy when
// nothing runs yet) or by a goroutine that shifts traffic to it
// (BLUE_GREEN, LINEAR, CANARY). A service deployment still in progress is
// superseded. Callers hold f.mu.
func (f *Fake) deploy(s *service, rev *serviceRevision) {
	now := time.Now()
	sources := slices.Clone(s.deployments)
	before := f.weights(s)
	if prev := s.current; prev != nil && prev.active() {
		f.endServiceDeployment(prev, sdStopped, "Superseded by a new service deployment.")
	}
	d := f.addDeployment(s, rev)
	sd := &serviceDeployment{
		arn:       awsproto.ARN(s.cluster.region, "ecs", "service-deployment/"+s.cluster.name+"/"+s.name+"/"+randomToken(20)),
		service:   s,
		config:    s.config,
		parsed:    s.parsed,
		shift:     s.parsed.shifts() && len(sources) > 0,
		source:    sources,
		target:    d,
		status:    sdInProgress,
		createdAt: now,
		startedAt: now,
		updatedAt: now,
		breaker:   monitorDisabled,
		wake:      make(chan struct{}, 1),
	}
	if cb := s.parsed.DeploymentCircuitBreaker; cb != nil && cb.Enable {
		sd.breaker = monitorMonitoring
	}
	s.current = sd
	s.history = append(s.history, sd)
	f.serviceDeployments[sd.arn] = sd
	f.emitServiceDeployment(sd)
	if !sd.shift {
		return
	}
	// The sources keep the share of production traffic they had, and the
	// tasks they are meant to run, until traffic moves.
	sd.base = map[*deployment]float64{}
	total := 0.0
	for _, src := range sources {
		total += before[src].production
	}
	live := map[*deployment]int{}
	for _, t := range f.serviceTasks(s) {
		if t.desiredStatus == statusRunning {
			live[t.deployment]++
		}
	}
	for _, src := range sources {
		w := before[src].production
		if total == 0 {
			w = 0
			if src == sources[0] {
				w = maxTrafficPercent
			}
		} else {
			w = w * maxTrafficPercent / total
		}
		sd.base[src] = w
		src.production, src.test, src.desired = w, w, live[src]
	}
	d.production, d.test, d.desired = 0, 0, 0
	if !f.closed {
		f.runners.Add(1)
		go f.runShift(sd)
	}
}

// setSDStatus sets the status of sd. Callers hold f.mu.
func (f *Fake) setSDStatus(sd *serviceDeployment, status, reason string) {
	sd.status, sd.statusReason = status, reason
	sd.updatedAt = time.Now()
	f.emitServiceDeployment(sd)
}

// endServiceDeployment ends sd with status (SUCCESSFUL, STOPPED,
// ROLLBACK_SUCCESSFUL). Callers hold f.mu.
func (f *Fake) endServiceDeployment(sd *serviceDeployment, status, reason string) {
	now := time.Now()
	if status == sdStopped {
		sd.stoppedAt = now
	} else {
		sd.finishedAt = now
	}
	if sd.breaker == monitorMonitoring {
		sd.breaker = monitorComplete
	}
	f.setSDStatus(sd, status, reason)
	sd.notify()
}

// emitServiceDeployment sends a "servicedeployment.state" event.
func (f *Fake) emitServiceDeployment(sd *serviceDeployment) {
	f.emit("servicedeployment.state", sd.arn, map[string]string{
		"service":        sd.service.name,
		"cluster":        sd.service.cluster.name,
		"status":         sd.status,
		"reason":         sd.statusReason,
		"stage":          sd.stage,
		"strategy":       sd.parsed.Strategy,
		"deployment":     sd.target.id,
		"taskDefinition": sd.target.def.arn,
	})
}

// trafficWeights are the production and test traffic weights (percent) of
// a deployment.
type trafficWeights struct{ production, test float64 }

// weights returns how traffic to s is split between its deployments: the
// weights of its traffic-shifting deployment, or else (rolling) each
// deployment's share of the running tasks. Callers hold f.mu.
func (f *Fake) weights(s *service) map[*deployment]trafficWeights {
	out := map[*deployment]trafficWeights{}
	if sd := s.current; sd != nil && sd.shift {
		for _, d := range s.deployments {
			out[d] = trafficWeights{d.production, d.test}
		}
		return out
	}
	running := map[*deployment]int{}
	total := 0
	for _, t := range f.serviceTasks(s) {
		if t.lastStatus == statusRunning {
			running[t.deployment]++
			total++
		}
	}
	for i, d := range s.deployments {
		w := 0.0
		switch {
		case total > 0:
			w = float64(running[d]) * maxTrafficPercent / float64(total)
		case i == 0:
			w = maxTrafficPercent
		}
		out[d] = trafficWeights{w, w}
	}
	return out
}

// requested returns the number of tasks s asks of deployment d
// (requestedTaskCount, a deployment's desiredCount). Callers hold f.mu.
func (f *Fake) requested(s *service, d *deployment) int {
	if s.current.shifting() {
		return d.desired
	}
	if len(s.deployments) > 0 && d == s.deployments[0] {
		return s.desiredCount
	}
	n := 0
	for _, t := range f.serviceTasks(s) {
		if t.deployment == d && t.desiredStatus == statusRunning {
			n++
		}
	}
	return n
}

// countTasks returns the number of tasks of deployment d of s whose last
// status is status. Callers hold f.mu.
func (f *Fake) countTasks(s *service, d *deployment, status string) int {
	n := 0
	for _, t := range f.serviceTasks(s) {
		if t.deployment == d && t.lastStatus == status {
			n++
		}
	}
	return n
}

// findServiceDeployment returns the service deployment arn. Callers hold
// f.mu.
func (f *Fake) findServiceDeployment(arn string) (*serviceDeployment, error) {
	sd, ok := f.serviceDeployments[arn]
	if !ok || sd.service.cluster.status != clusterActive {
		return nil, errServiceDeploymentNotFound
	}
	return sd, nil
}

// API operations.

type listServiceDeploymentsInput struct {
	Service   string   `json:"service"`
	Cluster   string   `json:"cluster"`
	Status    []string `json:"status"`
	CreatedAt *struct {
		Before *float64 `json:"before"`
		After  *float64 `json:"after"`
	} `json:"createdAt"`
	NextToken  string `json:"nextToken"`
	MaxResults *int   `json:"maxResults"`
}

func (f *Fake) listServiceDeployments(region string, in *listServiceDeploymentsInput) (any, error) {
	if in.Service == "" {
		return nil, invalidParameter("service is required.")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.findService(region, in.Cluster, in.Service)
	if err != nil {
		return nil, err
	}
	var list []*serviceDeployment
	for _, sd := range slices.Backward(s.history) { // newest first
		if len(in.Status) > 0 && !slices.Contains(in.Status, sd.status) {
			continue
		}
		if c := in.CreatedAt; c != nil {
			at := float64(sd.createdAt.UnixMilli()) / 1000
			if c.Before != nil && at >= *c.Before || c.After != nil && at <= *c.After {
				continue
			}
		}
		list = append(list, sd)
	}
	arns := make([]string, len(list))
	for i, sd := range list {
		arns[i] = sd.arn
	}
	page, err := listResult("serviceDeployments", arns, in.NextToken, in.MaxResults, 20, 100)
	if err != nil {
		return nil, err
	}
	briefs := []serviceDeploymentBrief{}
	for _, arn := range page["serviceDeployments"].([]string) {
		sd := f.serviceDeployments[arn]
		briefs = append(briefs, serviceDeploymentBrief{
			ServiceDeploymentArn:     sd.arn,
			ServiceArn:               s.arn,
			ClusterArn:               s.cluster.arn,
			CreatedAt:                timestamp(sd.createdAt),
			StartedAt:                timestamp(sd.startedAt),
			FinishedAt:               timestamp(cmpTime(sd.finishedAt, sd.stoppedAt)),
			TargetServiceRevisionArn: sd.target.revision.arn,
			Status:                   sd.status,
			StatusReason:             sd.statusReason,
		})
	}
	page["serviceDeployments"] = briefs
	return page, nil
}

// cmpTime returns t, or u when t is zero.
func cmpTime(t, u time.Time) time.Time {
	if t.IsZero() {
		return u
	}
	return t
}

type describeServiceDeploymentsInput struct {
	ServiceDeploymentArns []string `json:"serviceDeploymentArns"`
}

func (f *Fake) describeServiceDeployments(region string, in *describeServiceDeploymentsInput) (any, error) {
	if len(in.ServiceDeploymentArns) == 0 || len(in.ServiceDeploymentArns) > 20 {
		return nil, invalidParameter("serviceDeploymentArns must have 1 to 20 items.")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []serviceDeploymentOutput{}
	failures := []failure{}
	for _, arn := range in.ServiceDeploymentArns {
		sd, err := f.findServiceDeployment(arn)
		if err != nil {
			failures = append(failures, failure{Arn: arn, Reason: "MISSING"})
			continue
		}
		out = append(out, f.serviceDeploymentOutput(sd))
	}
	return map[string]any{"serviceDeployments": out, "failures": failures}, nil
}

type describeServiceRevisionsInput struct {
	ServiceRevisionArns []string `json:"serviceRevisionArns"`
}

func (f *Fake) describeServiceRevisions(region string, in *describeServiceRevisionsInput) (any, error) {
	if len(in.ServiceRevisionArns) == 0 || len(in.ServiceRevisionArns) > 20 {
		return nil, invalidParameter("serviceRevisionArns must have 1 to 20 items.")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []serviceRevisionOutput{}
	failures := []failure{}
	for _, arn := range in.ServiceRevisionArns {
		rev, ok := f.revisions[arn]
		if !ok {
			failures = append(failures, failure{Arn: arn, Reason: "MISSING"})
			continue
		}
		out = append(out, f.serviceRevisionOutput(rev))
	}
	return map[string]any{"serviceRevisions": out, "failures": failures}, nil
}

type stopServiceDeploymentInput struct {
	ServiceDeploymentArn string `json:"serviceDeploymentArn"`
	StopType             string `json:"stopType"`
}

func (f *Fake) stopServiceDeployment(region string, in *stopServiceDeploymentInput) (any, error) {
	if in.ServiceDeploymentArn == "" {
		return nil, invalidParameter("serviceDeploymentArn is required.")
	}
	if t := cmp.Or(in.StopType, "ROLLBACK"); t != "ROLLBACK" {
		return nil, invalidParameter("stopType must be ROLLBACK, not %s.", in.StopType)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	sd, err := f.findServiceDeployment(in.ServiceDeploymentArn)
	if err != nil {
		return nil, err
	}
	const reason = "Service deployment rolled back by StopServiceDeployment."
	const event = "rollback requested by StopServiceDeployment."
	s := sd.service
	switch {
	case sd.halted():
		return nil, conflict(sd.arn, "Service deployment %s is %s and cannot be stopped.", sd.arn, sd.status)
	case sd.shift && sd.stage == stageCleanUp:
		return nil, conflict(sd.arn, "Service deployment %s is cleaning up its source revisions and cannot be rolled back.", sd.arn)
	case sd.shift:
		f.requestRollback(sd, reason, event, false)
	case s.lastGood == nil || s.lastGood == sd.target || s.deployments[0] != sd.target:
		return nil, conflict(sd.arn, "Service deployment %s has no completed service revision to roll back to.", sd.arn)
	default:
		f.setSDStatus(sd, sdRollbackRequested, reason)
		f.failDeployment(s, sd.target, reason, event, false, true)
		f.kick(s)
	}
	return map[string]any{"serviceDeploymentArn": sd.arn}, nil
}

// Outputs.

type serviceDeploymentBrief struct {
	ServiceDeploymentArn     string    `json:"serviceDeploymentArn"`
	ServiceArn               string    `json:"serviceArn"`
	ClusterArn               string    `json:"clusterArn"`
	StartedAt                timestamp `json:"startedAt,omitzero"`
	CreatedAt                timestamp `json:"createdAt,omitzero"`
	FinishedAt               timestamp `json:"finishedAt,omitzero"`
	TargetServiceRevisionArn string    `json:"targetServiceRevisionArn"`
	Status                   string    `json:"status"`
	StatusReason             string    `json:"statusReason,omitempty"`
}

type serviceDeploymentOutput struct {
	ServiceDeploymentArn     string             `json:"serviceDeploymentArn"`
	ServiceArn               string             `json:"serviceArn"`
	ClusterArn               string             `json:"clusterArn"`
	CreatedAt                timestamp          `json:"createdAt,omitzero"`
	StartedAt                timestamp          `json:"startedAt,omitzero"`
	FinishedAt               timestamp          `json:"finishedAt,omitzero"`
	StoppedAt                timestamp          `json:"stoppedAt,omitzero"`
	UpdatedAt                timestamp          `json:"updatedAt,omitzero"`
	SourceServiceRevisions   []revisionSummary  `json:"sourceServiceRevisions"`
	TargetServiceRevision    revisionSummary    `json:"targetServiceRevision"`
	Status                   string             `json:"status"`
	StatusReason             string             `json:"statusReason,omitempty"`
	LifecycleStage           string             `json:"lifecycleStage,omitempty"`
	LifecycleHookDetails     []hookDetailOutput `json:"lifecycleHookDetails"`
	DeploymentConfiguration  object             `json:"deploymentConfiguration"`
	Rollback                 *rollbackOutput    `json:"rollback,omitempty"`
	DeploymentCircuitBreaker breakerOutput      `json:"deploymentCircuitBreaker"`
	Alarms                   alarmsOutput       `json:"alarms"`
}

type revisionSummary struct {
	Arn                              string   `json:"arn"`
	RequestedTaskCount               int      `json:"requestedTaskCount"`
	RunningTaskCount                 int      `json:"runningTaskCount"`
	PendingTaskCount                 int      `json:"pendingTaskCount"`
	RequestedTestTrafficWeight       *float64 `json:"requestedTestTrafficWeight,omitempty"`
	RequestedProductionTrafficWeight *float64 `json:"requestedProductionTrafficWeight,omitempty"`
}

type hookDetailOutput struct {
	HookID        string    `json:"hookId"`
	TargetType    string    `json:"targetType"`
	TargetArn     string    `json:"targetArn,omitempty"`
	Status        string    `json:"status"`
	ExpiresAt     timestamp `json:"expiresAt,omitzero"`
	TimeoutAction string    `json:"timeoutAction"`
}

type rollbackOutput struct {
	Reason             string    `json:"reason"`
	StartedAt          timestamp `json:"startedAt"`
	ServiceRevisionArn string    `json:"serviceRevisionArn"`
}

type breakerOutput struct {
	Status       string `json:"status"`
	FailureCount int    `json:"failureCount"`
	Threshold    int    `json:"threshold"`
}

type alarmsOutput struct {
	Status              string   `json:"status"`
	AlarmNames          []string `json:"alarmNames"`
	TriggeredAlarmNames []string `json:"triggeredAlarmNames"`
}

type serviceRevisionOutput struct {
	ServiceRevisionArn          string            `json:"serviceRevisionArn"`
	ServiceArn                  string            `json:"serviceArn"`
	ClusterArn                  string            `json:"clusterArn"`
	TaskDefinition              string            `json:"taskDefinition"`
	LaunchType                  string            `json:"launchType,omitempty"`
	PlatformVersion             string            `json:"platformVersion,omitempty"`
	LoadBalancers               json.RawMessage   `json:"loadBalancers"`
	ServiceRegistries           []serviceRegistry `json:"serviceRegistries"`
	NetworkConfiguration        json.RawMessage   `json:"networkConfiguration,omitempty"`
	ContainerImages             []containerImage  `json:"containerImages"`
	ServiceConnectConfiguration json.RawMessage   `json:"serviceConnectConfiguration,omitempty"`
	CreatedAt                   timestamp         `json:"createdAt"`
	GuardDutyEnabled            bool              `json:"guardDutyEnabled"`
}

type containerImage struct {
	ContainerName string `json:"containerName"`
	Image         string `json:"image"`
}

// summary describes deployment d of s as a service revision summary.
// Callers hold f.mu.
func (f *Fake) summary(sd *serviceDeployment, d *deployment) revisionSummary {
	s := sd.service
	out := revisionSummary{Arn: d.revision.arn}
	if slices.Contains(s.deployments, d) {
		out.RequestedTaskCount = f.requested(s, d)
		out.RunningTaskCount = f.countTasks(s, d, statusRunning)
		for _, t := range f.serviceTasks(s) {
			if t.deployment == d && t.pending() {
				out.PendingTaskCount++
			}
		}
	}
	if sd.shift {
		out.RequestedProductionTrafficWeight = new(d.production)
		out.RequestedTestTrafficWeight = new(d.test)
	}
	return out
}

// serviceDeploymentOutput describes sd. Callers hold f.mu.
func (f *Fake) serviceDeploymentOutput(sd *serviceDeployment) serviceDeploymentOutput {
	s := sd.service
	out := serviceDeploymentOutput{
		ServiceDeploymentArn:    sd.arn,
		ServiceArn:              s.arn,
		ClusterArn:              s.cluster.arn,
		CreatedAt:               timestamp(sd.createdAt),
		StartedAt:               timestamp(sd.startedAt),
		FinishedAt:              timestamp(sd.finishedAt),
		StoppedAt:               timestamp(sd.stoppedAt),
		UpdatedAt:               timestamp(sd.updatedAt),
		SourceServiceRevisions:  []revisionSummary{},
		TargetServiceRevision:   f.summary(sd, sd.target),
		Status:                  sd.status,
		StatusReason:            sd.statusReason,
		LifecycleStage:          sd.stage,
		LifecycleHookDetails:    []hookDetailOutput{},
		DeploymentConfiguration: sd.config,
		DeploymentCircuitBreaker: breakerOutput{
			Status:       sd.breaker,
			FailureCount: sd.target.failedTasks,
		},
		Alarms: alarmsOutput{Status: monitorDisabled, AlarmNames: []string{}, TriggeredAlarmNames: []string{}},
	}
	for _, d := range sd.source {
		out.SourceServiceRevisions = append(out.SourceServiceRevisions, f.summary(sd, d))
	}
	for _, hr := range sd.hooks {
		out.LifecycleHookDetails = append(out.LifecycleHookDetails, hookDetailOutput{
			HookID:        hr.id,
			TargetType:    hr.hook.targetType(),
			TargetArn:     hr.hook.HookTargetArn,
			Status:        hr.status,
			ExpiresAt:     timestamp(hr.expiresAt),
			TimeoutAction: hr.timeoutAction,
		})
	}
	if r := sd.rollback; r != nil {
		out.Rollback = &rollbackOutput{Reason: r.reason, StartedAt: timestamp(r.startedAt), ServiceRevisionArn: r.to.revision.arn}
	}
	if cb := sd.parsed.DeploymentCircuitBreaker; cb != nil && cb.Enable {
		out.DeploymentCircuitBreaker.Threshold = cb.threshold(s.desiredCount)
	}
	if sd.breaker == monitorTriggered {
		out.DeploymentCircuitBreaker.FailureCount = sd.breakerFailures
	}
	if a := sd.parsed.Alarms; a != nil && a.Enable {
		// meshsim has no CloudWatch: the alarms are watched, never raised.
		out.Alarms.Status = monitorComplete
		if sd.active() {
			out.Alarms.Status = monitorMonitoring
		}
		out.Alarms.AlarmNames = slices.Clone(a.AlarmNames)
	}
	return out
}

// serviceRevisionOutput describes rev. Callers hold f.mu.
func (f *Fake) serviceRevisionOutput(rev *serviceRevision) serviceRevisionOutput {
	s := rev.service
	out := serviceRevisionOutput{
		ServiceRevisionArn:          rev.arn,
		ServiceArn:                  s.arn,
		ClusterArn:                  s.cluster.arn,
		TaskDefinition:              rev.def.arn,
		LaunchType:                  s.in.LaunchType,
		PlatformVersion:             s.in.PlatformVersion,
		LoadBalancers:               orEmptyList(s.in.LoadBalancers),
		ServiceRegistries:           rev.registries,
		NetworkConfiguration:        rev.networkConfiguration,
		ContainerImages:             []containerImage{},
		ServiceConnectConfiguration: rev.serviceConnect,
		CreatedAt:                   timestamp(rev.createdAt),
	}
	if out.ServiceRegistries == nil {
		out.ServiceRegistries = []serviceRegistry{}
	}
	for _, c := range rev.def.containers {
		out.ContainerImages = append(out.ContainerImages, containerImage{ContainerName: c.Name, Image: c.Image})
	}
	return out
}
