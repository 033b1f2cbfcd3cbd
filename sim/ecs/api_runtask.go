package ecs

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"

	"github.com/meshsim/meshsim/sim/awsproto"
)

// This file holds RunTask and StartTask: standalone tasks, which no
// service starts nor replaces. The runtime runs them as it runs a
// service's tasks; StopTask stops them.

type runTaskInput struct {
	Cluster                  string            `json:"cluster"`
	TaskDefinition           string            `json:"taskDefinition"`
	Count                    *int              `json:"count"`
	StartedBy                string            `json:"startedBy"`
	Group                    string            `json:"group"`
	LaunchType               string            `json:"launchType"`
	PlatformVersion          string            `json:"platformVersion"`
	CapacityProviderStrategy []strategyItem    `json:"capacityProviderStrategy"`
	NetworkConfiguration     json.RawMessage   `json:"networkConfiguration"`
	Overrides                json.RawMessage   `json:"overrides"`
	Tags                     json.RawMessage   `json:"tags"`
	PropagateTags            string            `json:"propagateTags"`
	EnableECSManagedTags     bool              `json:"enableECSManagedTags"`
	EnableExecuteCommand     bool              `json:"enableExecuteCommand"`
	PlacementConstraints     json.RawMessage   `json:"placementConstraints"`
	PlacementStrategy        json.RawMessage   `json:"placementStrategy"`
	ContainerInstances       []string          `json:"containerInstances"` // StartTask
	overrides                taskOverrideInput // Overrides, parsed
}

// taskOverrideInput is the overrides member of RunTask and StartTask.
type taskOverrideInput struct {
	ContainerOverrides []containerOverride `json:"containerOverrides"`
	CPU                string              `json:"cpu"`
	Memory             string              `json:"memory"`
}

type containerOverride struct {
	Name        string         `json:"name"`
	Command     []string       `json:"command"`
	Environment []keyValuePair `json:"environment"`
}

type strategyItem struct {
	CapacityProvider string `json:"capacityProvider"`
	Weight           *int   `json:"weight,omitempty"`
	Base             *int   `json:"base,omitempty"`
}

var groupRE = regexp.MustCompile(`^[a-zA-Z0-9_:-]{1,255}$`)

func (f *Fake) runTasks(region string, in *runTaskInput) (any, error) {
	count := 1
	if in.Count != nil {
		count = *in.Count
	}
	if count < 1 || count > 10 {
		return nil, invalidParameter("count must be between 1 and 10.")
	}
	if err := in.validate(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, td, err := f.taskTarget(region, in)
	if err != nil {
		return nil, err
	}
	launchType := in.LaunchType
	if launchType == "" && len(in.CapacityProviderStrategy) == 0 {
		launchType = "FARGATE"
	}
	if err := checkLaunch(td, launchType, in.NetworkConfiguration, in.PlacementConstraints, in.PlacementStrategy); err != nil {
		return nil, err
	}
	capacity, err := f.resolveStrategy(c, in.CapacityProviderStrategy, count)
	if err != nil {
		return nil, err
	}
	tasks := []taskOutput{}
	failures := []failure{}
	for i := range count {
		var inst *containerInstance
		if launchType == "EC2" {
			if inst = c.placeOn(td); inst == nil {
				failures = append(failures, failure{Reason: "No Container Instances were found in your cluster."})
				continue
			}
		}
		t := f.standaloneTask(c, td, in, launchType, capacity[i], inst)
		tasks = append(tasks, f.taskOutput(t, false))
	}
	return map[string]any{"tasks": tasks, "failures": failures}, nil
}

func (f *Fake) startTasks(region string, in *runTaskInput) (any, error) {
	if len(in.ContainerInstances) == 0 || len(in.ContainerInstances) > 10 {
		return nil, invalidParameter("containerInstances must have 1 to 10 items.")
	}
	if in.LaunchType != "" || len(in.CapacityProviderStrategy) > 0 {
		return nil, invalidParameter("StartTask places tasks on the container instances given: it takes no launchType nor capacityProviderStrategy.")
	}
	if err := in.validate(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, td, err := f.taskTarget(region, in)
	if err != nil {
		return nil, err
	}
	if err := checkLaunch(td, "EC2", in.NetworkConfiguration, nil, nil); err != nil {
		return nil, err
	}
	tasks := []taskOutput{}
	failures := []failure{}
	for _, ref := range in.ContainerInstances {
		inst := c.instances[lastSegment(ref)]
		switch {
		case inst == nil || inst.status == instanceInactive:
			failures = append(failures, failure{Arn: c.instanceARN(ref), Reason: "MISSING"})
		case inst.status != instanceActive:
			failures = append(failures, failure{Arn: inst.arn, Reason: "INACTIVE"})
		default:
			t := f.standaloneTask(c, td, in, "EC2", "", inst)
			tasks = append(tasks, f.taskOutput(t, false))
		}
	}
	return map[string]any{"tasks": tasks, "failures": failures}, nil
}

// validate checks what RunTask and StartTask take, before the state is
// looked at.
func (in *runTaskInput) validate() error {
	switch {
	case in.TaskDefinition == "":
		return invalidParameter("taskDefinition can not be blank.")
	case in.LaunchType != "" && len(in.CapacityProviderStrategy) > 0:
		return invalidParameter("Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again.")
	case len(in.StartedBy) > 128:
		return invalidParameter("startedBy can have at most 128 characters.")
	case in.Group != "" && !groupRE.MatchString(in.Group):
		return invalidParameter("group can have up to 255 letters (uppercase and lowercase), numbers, hyphens, underscores, and colons.")
	case in.PropagateTags != "" && in.PropagateTags != "TASK_DEFINITION" && in.PropagateTags != "NONE":
		return invalidParameter("propagateTags %s is not valid for a task that no service starts: use TASK_DEFINITION or NONE.", in.PropagateTags)
	}
	if err := checkLaunchType(in.LaunchType); err != nil {
		return err
	}
	if err := checkTags(in.Tags); err != nil {
		return invalidParameter("%s", err.Error())
	}
	if len(in.Overrides) > 0 {
		if err := json.Unmarshal(in.Overrides, &in.overrides); err != nil {
			return invalidParameter("overrides: %v", err)
		}
	}
	return nil
}

// taskTarget returns the cluster and the task definition a RunTask or
// StartTask request names, with the overrides checked against the task
// definition. Callers hold f.mu.
func (f *Fake) taskTarget(region string, in *runTaskInput) (*cluster, *taskDef, error) {
	c, err := f.activeCluster(region, in.Cluster)
	if err != nil {
		return nil, nil, err
	}
	td, err := f.activeTaskDefinition(region, in.TaskDefinition)
	if err != nil {
		return nil, nil, err
	}
	for _, o := range in.overrides.ContainerOverrides {
		if !slices.ContainsFunc(td.containers, func(cd containerDefinition) bool { return cd.Name == o.Name }) {
			return nil, nil, invalidParameter("Override for container named %s is not a container in the TaskDefinition.", o.Name)
		}
	}
	return c, td, nil
}

// checkLaunchType checks a launchType against the ECS enum.
func checkLaunchType(lt string) error {
	switch lt {
	case "", "EC2", "FARGATE", "EXTERNAL", "MANAGED_INSTANCES":
		return nil
	}
	return invalidParameter("launchType %s is not valid: use EC2, FARGATE, EXTERNAL or MANAGED_INSTANCES.", lt)
}

// checkLaunch checks that tasks of td can run with launchType (empty for a
// capacity provider strategy) and the network configuration given, as ECS
// does for RunTask, StartTask, CreateService and CreateTaskSet.
func checkLaunch(td *taskDef, launchType string, network, constraints, strategy json.RawMessage) error {
	awsvpc := td.networkMode == "awsvpc"
	switch {
	case awsvpc && isAbsent(network):
		return invalidParameter("Network Configuration must be provided when networkMode 'awsvpc' is specified.")
	case !awsvpc && !isAbsent(network):
		return invalidParameter("Network Configuration is not valid for the given networkMode of this task definition.")
	case launchType == "FARGATE" && !awsvpc:
		return invalidParameter("Task definition does not support launch_type FARGATE.")
	case launchType == "FARGATE" && !isAbsent(strategy) && string(strategy) != "[]":
		return invalidParameter("Placement strategies are not supported with FARGATE launch type.")
	case launchType == "FARGATE" && !isAbsent(constraints) && string(constraints) != "[]":
		return invalidParameter("Placement constraints are not supported with FARGATE launch type.")
	}
	if awsvpc {
		var nc struct {
			AwsvpcConfiguration *struct {
				Subnets []string `json:"subnets"`
			} `json:"awsvpcConfiguration"`
		}
		if json.Unmarshal(network, &nc) != nil || nc.AwsvpcConfiguration == nil || len(nc.AwsvpcConfiguration.Subnets) == 0 {
			return invalidParameter("subnets can not be empty.")
		}
	}
	return nil
}

// isAbsent reports whether a raw member was not given (or given as null).
func isAbsent(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

// standaloneTask launches one task of td in c for RunTask or StartTask,
// on inst for the EC2 launch type. Callers hold f.mu.
func (f *Fake) standaloneTask(c *cluster, td *taskDef, in *runTaskInput, launchType, capacity string, inst *containerInstance) *task {
	t := f.newTask(c, td, f.now(), firstSubnet(in.NetworkConfiguration), nil, nil)
	t.startedBy, t.group = in.StartedBy, in.Group
	if t.group == "" {
		t.group = "family:" + td.family
	}
	t.launchType, t.platformVersion, t.capacityName = launchType, in.PlatformVersion, capacity
	if launchType == "FARGATE" && t.platformVersion == "" {
		t.platformVersion = "LATEST"
	}
	t.execute = in.EnableExecuteCommand
	t.instance = inst
	t.overrides = in.Overrides
	t.tags = launchTags(c, nil, td, in.PropagateTags, in.EnableECSManagedTags, parseTags(in.Tags))
	applyOverrides(t, in.overrides)
	f.startTask(t)
	return t
}

// applyOverrides lays the overrides of RunTask or StartTask over what the
// task runs: each container's command and environment, the task's size.
func applyOverrides(t *task, o taskOverrideInput) {
	if o.CPU != "" {
		t.cpu = o.CPU
	}
	if o.Memory != "" {
		t.memory = o.Memory
	}
	for _, co := range o.ContainerOverrides {
		for i := range t.spec.Containers {
			spec := &t.spec.Containers[i]
			if spec.Name != co.Name {
				continue
			}
			if co.Command != nil {
				spec.Command = slices.Clone(co.Command)
			}
			for _, kv := range co.Environment {
				spec.Env[kv.Name] = kv.Value
			}
		}
	}
}

// instanceARN returns ref as the ARN of a container instance of c.
func (c *cluster) instanceARN(ref string) string {
	if len(ref) > 4 && ref[:4] == "arn:" {
		return ref
	}
	return awsproto.ARN(c.region, "ecs", "container-instance/"+c.name+"/"+ref)
}

// cpuUnits parses a task size ("1024", "1 vCPU", "2 GB") into CPU units or
// MiB; 0 when absent or not understood.
func cpuUnits(s string) int {
	n, err := strconv.Atoi(s)
	if err == nil {
		return n
	}
	var v float64
	var unit string
	if _, err := fmt.Sscan(s, &v, &unit); err == nil {
		switch unit {
		case "vCPU", "vcpu":
			return int(v * 1024)
		case "GB", "gb":
			return int(v * 1024)
		}
	}
	return 0
}
