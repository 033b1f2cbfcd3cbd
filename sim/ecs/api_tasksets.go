package ecs

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/meshsim/meshsim/sim/awsproto"
)

// This file holds task sets, the unit of deployment of services whose
// deployment controller is EXTERNAL or CODE_DEPLOY: CreateTaskSet,
// UpdateTaskSet, UpdateServicePrimaryTaskSet, DeleteTaskSet,
// DescribeTaskSets. The scheduler runs each task set's share (scale) of
// the service's desired count (ctl_tasksets.go).

// Task set statuses.
const (
	taskSetPrimary  = "PRIMARY"
	taskSetActive   = "ACTIVE"
	taskSetDraining = "DRAINING"

	stabilitySteady      = "STEADY_STATE"
	stabilityStabilizing = "STABILIZING"
)

// Deployment controllers.
const (
	controllerECS        = "ECS"
	controllerCodeDeploy = "CODE_DEPLOY"
	controllerExternal   = "EXTERNAL"
)

type taskSet struct {
	d          *deployment // the tasks it runs; d.id is the task set's id
	arn        string
	service    *service
	externalID string
	startedBy  string
	status     string
	scale      float64 // percent of the service's desiredCount
	launchType string
	platform   string
	capacity   json.RawMessage
	balancers  json.RawMessage
	tags       []tagKV

	createdAt, updatedAt   time.Time
	stability              string
	stabilityAt            time.Time
	running, pending, live int // as the scheduler last counted
}

type scale struct {
	Value *float64 `json:"value,omitempty"`
	Unit  string   `json:"unit,omitempty"`
}

type taskSetInput struct {
	Cluster                  string            `json:"cluster"`
	Service                  string            `json:"service"`
	TaskSet                  string            `json:"taskSet"`
	PrimaryTaskSet           string            `json:"primaryTaskSet"`
	TaskSets                 []string          `json:"taskSets"`
	ExternalID               string            `json:"externalId"`
	TaskDefinition           string            `json:"taskDefinition"`
	NetworkConfiguration     json.RawMessage   `json:"networkConfiguration"`
	LoadBalancers            json.RawMessage   `json:"loadBalancers"`
	ServiceRegistries        []serviceRegistry `json:"serviceRegistries"`
	LaunchType               string            `json:"launchType"`
	CapacityProviderStrategy []strategyItem    `json:"capacityProviderStrategy"`
	PlatformVersion          string            `json:"platformVersion"`
	Scale                    *scale            `json:"scale"`
	Tags                     json.RawMessage   `json:"tags"`
	Force                    bool              `json:"force"`
	Include                  []string          `json:"include"`
}

// checkScale checks a task set's scale: a percent from 0 to 100.
func checkScale(sc *scale) (float64, error) {
	if sc == nil || sc.Value == nil {
		return 100, nil
	}
	if sc.Unit != "" && sc.Unit != "PERCENT" {
		return 0, invalidParameter("scale.unit must be PERCENT.")
	}
	if *sc.Value < 0 || *sc.Value > 100 || math.IsNaN(*sc.Value) {
		return 0, invalidParameter("scale.value must be between 0 and 100.")
	}
	return *sc.Value, nil
}

// taskSetService returns the service a task set request names, which must
// be ACTIVE and use the EXTERNAL or CODE_DEPLOY deployment controller.
// Callers hold f.mu.
func (f *Fake) taskSetService(region string, in *taskSetInput) (*service, error) {
	if in.Service == "" {
		return nil, invalidParameter("service can not be blank.")
	}
	s, err := f.findService(region, in.Cluster, in.Service)
	if err != nil {
		return nil, err
	}
	if s.status != serviceActive {
		return nil, errServiceNotActive
	}
	if s.controller == controllerECS {
		return nil, invalidParameter("Amazon ECS only manages task sets of services that use the EXTERNAL or CODE_DEPLOY deployment controller.")
	}
	return s, nil
}

func (f *Fake) createTaskSet(region string, in *taskSetInput) (any, error) {
	pct, err := checkScale(in.Scale)
	if err != nil {
		return nil, err
	}
	switch {
	case in.TaskDefinition == "":
		return nil, invalidParameter("taskDefinition can not be blank.")
	case in.LaunchType != "" && len(in.CapacityProviderStrategy) > 0:
		return nil, invalidParameter("Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again.")
	case len(in.ExternalID) > 255:
		return nil, invalidParameter("externalId can have at most 255 characters.")
	}
	if err := checkLaunchType(in.LaunchType); err != nil {
		return nil, err
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, invalidParameter("%s", err.Error())
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.taskSetService(region, in)
	if err != nil {
		return nil, err
	}
	td, err := f.activeTaskDefinition(region, in.TaskDefinition)
	if err != nil {
		return nil, err
	}
	launchType := in.LaunchType
	if launchType == "" && len(in.CapacityProviderStrategy) == 0 {
		launchType = "FARGATE"
	}
	if err := checkLaunch(td, launchType, in.NetworkConfiguration, nil, nil); err != nil {
		return nil, err
	}
	if len(in.CapacityProviderStrategy) > 0 {
		if err := checkStrategy(s.cluster, in.CapacityProviderStrategy); err != nil {
			return nil, err
		}
	}
	if err := f.checkRegistries(in.ServiceRegistries, td); err != nil {
		return nil, err
	}
	ts := f.newTaskSet(s, td, in, launchType, pct)
	ts.startedBy = ""
	f.kick(s)
	return map[string]any{"taskSet": f.taskSetOutput(ts, true)}, nil
}

// newTaskSet adds an ACTIVE task set of td to s. Callers hold f.mu.
func (f *Fake) newTaskSet(s *service, td *taskDef, in *taskSetInput, launchType string, pct float64) *taskSet {
	now := f.now()
	id := newDeploymentID()
	ts := &taskSet{
		d: &deployment{
			id: id, status: taskSetActive, def: td, createdAt: now, updatedAt: now, rolloutState: rolloutInProgress,
			revision: &serviceRevision{service: s, def: td, createdAt: now,
				networkConfiguration: in.NetworkConfiguration, registries: in.ServiceRegistries},
		},
		arn:        awsproto.ARN(s.cluster.region, "ecs", "task-set/"+s.cluster.name+"/"+s.name+"/"+id),
		service:    s,
		externalID: in.ExternalID,
		status:     taskSetActive,
		scale:      pct,
		launchType: launchType,
		platform:   in.PlatformVersion,
		balancers:  in.LoadBalancers,
		tags:       parseTags(in.Tags),
		createdAt:  now,
		updatedAt:  now,
		stability:  stabilityStabilizing, stabilityAt: now,
	}
	if len(in.CapacityProviderStrategy) > 0 {
		ts.capacity, _ = json.Marshal(in.CapacityProviderStrategy)
	}
	if launchType == "FARGATE" && ts.platform == "" {
		ts.platform = "LATEST"
	}
	s.taskSets = append(s.taskSets, ts)
	return ts
}

func (f *Fake) updateTaskSet(region string, in *taskSetInput) (any, error) {
	if in.Scale == nil || in.Scale.Value == nil {
		return nil, invalidParameter("scale can not be blank.")
	}
	pct, err := checkScale(in.Scale)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.taskSetService(region, in)
	if err != nil {
		return nil, err
	}
	ts, err := s.findTaskSet(in.TaskSet)
	if err != nil {
		return nil, err
	}
	if ts.status == taskSetDraining {
		return nil, invalidParameter("The task set %s is DRAINING: it cannot be scaled.", ts.d.id)
	}
	ts.scale, ts.updatedAt = pct, f.now()
	f.kick(s)
	return map[string]any{"taskSet": f.taskSetOutput(ts, false)}, nil
}

func (f *Fake) updateServicePrimaryTaskSet(region string, in *taskSetInput) (any, error) {
	if in.PrimaryTaskSet == "" {
		return nil, invalidParameter("primaryTaskSet can not be blank.")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.taskSetService(region, in)
	if err != nil {
		return nil, err
	}
	ts, err := s.findTaskSet(in.PrimaryTaskSet)
	if err != nil {
		return nil, err
	}
	if ts.status == taskSetDraining {
		return nil, invalidParameter("The task set %s is DRAINING: it cannot be the primary task set.", ts.d.id)
	}
	now := f.now()
	for _, o := range s.taskSets {
		if o.status == taskSetPrimary && o != ts {
			o.status, o.d.status, o.updatedAt = taskSetActive, taskSetActive, now
		}
	}
	ts.status, ts.d.status, ts.updatedAt = taskSetPrimary, taskSetPrimary, now
	// The primary task set goes first.
	s.taskSets = append([]*taskSet{ts}, slices.DeleteFunc(slices.Clone(s.taskSets), func(o *taskSet) bool { return o == ts })...)
	f.kick(s)
	f.publish(s)
	return map[string]any{"taskSet": f.taskSetOutput(ts, false)}, nil
}

func (f *Fake) deleteTaskSet(region string, in *taskSetInput) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.taskSetService(region, in)
	if err != nil {
		return nil, err
	}
	ts, err := s.findTaskSet(in.TaskSet)
	if err != nil {
		return nil, err
	}
	switch {
	case ts.status == taskSetPrimary && !in.Force:
		return nil, invalidParameter("The primary task set of a service cannot be deleted: make another task set primary, or delete with force.")
	case ts.scale > 0 && !in.Force:
		return nil, invalidParameter("The task set cannot be deleted while it is scaled above 0: scale it to 0 first, or delete with force.")
	}
	if ts.status != taskSetDraining {
		ts.status, ts.d.status, ts.updatedAt = taskSetDraining, taskSetDraining, f.now()
		f.kick(s)
	}
	return map[string]any{"taskSet": f.taskSetOutput(ts, false)}, nil
}

func (f *Fake) describeTaskSets(region string, in *taskSetInput) (any, error) {
	tags := slices.Contains(in.Include, "TAGS")
	f.mu.Lock()
	defer f.mu.Unlock()
	if in.Service == "" {
		return nil, invalidParameter("service can not be blank.")
	}
	s, err := f.findService(region, in.Cluster, in.Service)
	if err != nil {
		return nil, err
	}
	if s.controller == controllerECS {
		return nil, invalidParameter("Amazon ECS only manages task sets of services that use the EXTERNAL or CODE_DEPLOY deployment controller.")
	}
	out := []map[string]any{}
	failures := []failure{}
	if len(in.TaskSets) == 0 {
		for _, ts := range s.taskSets {
			out = append(out, f.taskSetOutput(ts, tags))
		}
		return map[string]any{"taskSets": out, "failures": failures}, nil
	}
	for _, ref := range in.TaskSets {
		ts, err := s.findTaskSet(ref)
		if err != nil {
			failures = append(failures, failure{Arn: ref, Reason: "MISSING"})
			continue
		}
		out = append(out, f.taskSetOutput(ts, tags))
	}
	return map[string]any{"taskSets": out, "failures": failures}, nil
}

// findTaskSet returns the task set ref (an id or an ARN) of s.
func (s *service) findTaskSet(ref string) (*taskSet, error) {
	if ref == "" {
		return nil, invalidParameter("taskSet can not be blank.")
	}
	for _, ts := range s.taskSets {
		if ts.arn == ref || ts.d.id == ref || strings.HasSuffix(ts.arn, "/"+ref) {
			return ts, nil
		}
	}
	return nil, awsproto.Errorf(400, "TaskSetNotFoundException", "The specified task set %s could not be found.", ref)
}

// taskSetByARN finds a task set by its ARN
// (arn:…:task-set/CLUSTER/SERVICE/ID). Callers hold f.mu.
func (f *Fake) taskSetByARN(region, arn string) *taskSet {
	_, rest, ok := strings.Cut(arn, ":task-set/")
	parts := strings.SplitN(rest, "/", 3)
	if !ok || len(parts) != 3 {
		return nil
	}
	s, err := f.findService(region, parts[0], parts[1])
	if err != nil {
		return nil
	}
	ts, _ := s.findTaskSet(arn)
	return ts
}

// computedDesired is the number of tasks ts runs: its scale of the
// service's desired count, rounded up; none once it drains.
func (ts *taskSet) computedDesired() int {
	s := ts.service
	if ts.status == taskSetDraining || s.status != serviceActive {
		return 0
	}
	return int(math.Ceil(float64(s.desiredCount) * ts.scale / 100))
}

// taskSetOutput describes ts. Callers hold f.mu.
func (f *Fake) taskSetOutput(ts *taskSet, tags bool) map[string]any {
	s := ts.service
	pct := ts.scale
	out := map[string]any{
		"id":                   ts.d.id,
		"taskSetArn":           ts.arn,
		"serviceArn":           s.arn,
		"clusterArn":           s.cluster.arn,
		"status":               ts.status,
		"taskDefinition":       ts.d.def.arn,
		"computedDesiredCount": ts.computedDesired(),
		"pendingCount":         ts.pending,
		"runningCount":         ts.running,
		"createdAt":            timestamp(ts.createdAt),
		"updatedAt":            timestamp(ts.updatedAt),
		"scale":                scale{Value: &pct, Unit: "PERCENT"},
		"stabilityStatus":      ts.stability,
		"stabilityStatusAt":    timestamp(ts.stabilityAt),
		"loadBalancers":        orEmptyList(ts.balancers),
		"serviceRegistries":    append([]serviceRegistry{}, ts.d.revision.registries...),
	}
	if ts.externalID != "" {
		out["externalId"] = ts.externalID
	}
	if ts.startedBy != "" {
		out["startedBy"] = ts.startedBy
	}
	if ts.launchType != "" {
		out["launchType"] = ts.launchType
	}
	if ts.platform != "" {
		out["platformVersion"] = ts.platform
	}
	if !isAbsent(ts.capacity) {
		out["capacityProviderStrategy"] = ts.capacity
	}
	if !isAbsent(ts.d.revision.networkConfiguration) {
		out["networkConfiguration"] = ts.d.revision.networkConfiguration
	}
	if tags {
		out["tags"] = tagsOut(ts.tags)
	}
	return out
}
