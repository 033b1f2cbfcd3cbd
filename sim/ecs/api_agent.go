package ecs

import (
	"net/http"
	"slices"
	"time"

	"github.com/meshsim/meshsim/sim/awsproto"
)

// This file holds the operations about what runs inside tasks and on
// container instances: task scale-in protection (Get/UpdateTaskProtection),
// and the ones that need what meshsim does not have. meshsim is its own
// container agent, so the agent's calls (SubmitTaskStateChange,
// SubmitContainerStateChange, SubmitAttachmentStateChanges,
// DiscoverPollEndpoint) and agent updates answer as ECS answers a caller
// that is not an instance's agent; ExecuteCommand, which needs the SSM
// agent inside the task, answers as ECS does when that agent is not there.

type executeCommandInput struct {
	Cluster     string `json:"cluster"`
	Task        string `json:"task"`
	Container   string `json:"container"`
	Command     string `json:"command"`
	Interactive bool   `json:"interactive"`
}

func (f *Fake) executeCommand(region string, in *executeCommandInput) (any, error) {
	switch {
	case in.Command == "":
		return nil, invalidParameter("command can not be blank.")
	case in.Task == "":
		return nil, invalidParameter("task can not be blank.")
	case !in.Interactive:
		return nil, invalidParameter("Interactive is the only mode supported currently.")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.activeCluster(region, in.Cluster)
	if err != nil {
		return nil, err
	}
	t := c.tasks[lastSegment(in.Task)]
	switch {
	case t == nil:
		return nil, invalidParameter("The specified task was not found.")
	case t.lastStatus != statusRunning:
		return nil, invalidParameter("The execute command failed because the task is %s, not RUNNING.", t.lastStatus)
	case in.Container != "" && !slices.ContainsFunc(t.containers, func(cs *containerState) bool { return cs.name == in.Container }):
		return nil, invalidParameter("The specified container %s is not a container of the task.", in.Container)
	case !t.execute:
		return nil, invalidParameter("The execute command failed because execute command was not enabled when the task was run or the execute command agent isn't running. Wait and try the request again or run a new task with execute command enabled and try again.")
	}
	return nil, awsproto.Errorf(http.StatusBadRequest, "TargetNotConnectedException",
		"The execute command failed due to the target not being connected: meshsim's tasks run without the SSM agent (ECS Exec) that the command needs.")
}

// errNotAgent answers the container agent's own operations.
func errNotAgent(op string) error {
	return awsproto.Errorf(http.StatusBadRequest, "AccessDeniedException",
		"%s is called by a container instance's ECS agent; meshsim runs tasks itself, as their agent, and takes no state changes from elsewhere.", op)
}

type agentInput struct {
	Cluster           string `json:"cluster"`
	ContainerInstance string `json:"containerInstance"`
}

func (f *Fake) submitTaskStateChange(string, *agentInput) (any, error) {
	return nil, errNotAgent("SubmitTaskStateChange")
}

func (f *Fake) submitContainerStateChange(string, *agentInput) (any, error) {
	return nil, errNotAgent("SubmitContainerStateChange")
}

func (f *Fake) submitAttachmentStateChanges(string, *agentInput) (any, error) {
	return nil, errNotAgent("SubmitAttachmentStateChanges")
}

func (f *Fake) discoverPollEndpoint(string, *agentInput) (any, error) {
	return nil, clientError("DiscoverPollEndpoint is called by a container instance's ECS agent to find the endpoint it polls; meshsim runs tasks itself and has no agent communication endpoint.")
}

func (f *Fake) updateContainerAgent(region string, in *agentInput) (any, error) {
	if in.ContainerInstance == "" {
		return nil, invalidParameter("containerInstance can not be blank.")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.activeCluster(region, in.Cluster)
	if err != nil {
		return nil, err
	}
	if inst := c.instances[lastSegment(in.ContainerInstance)]; inst == nil || inst.status == instanceInactive {
		return nil, invalidParameter("The referenced container instance %s is not registered in the cluster.", in.ContainerInstance)
	}
	return nil, awsproto.Errorf(http.StatusBadRequest, "NoUpdateAvailableException",
		"There is no update available for your container instance's Amazon ECS agent: meshsim is the agent.")
}

type taskProtectionInput struct {
	Cluster           string   `json:"cluster"`
	Tasks             []string `json:"tasks"`
	ProtectionEnabled bool     `json:"protectionEnabled"`
	ExpiresInMinutes  *int     `json:"expiresInMinutes"`
}

type protectedTask struct {
	TaskArn           string    `json:"taskArn"`
	ProtectionEnabled bool      `json:"protectionEnabled"`
	ExpirationDate    timestamp `json:"expirationDate,omitzero"`
}

func (f *Fake) getTaskProtection(region string, in *taskProtectionInput) (any, error) {
	if len(in.Tasks) > 10 {
		return nil, invalidParameter("tasks can have at most 10 items.")
	}
	return f.taskProtection(region, in, false)
}

func (f *Fake) updateTaskProtection(region string, in *taskProtectionInput) (any, error) {
	if len(in.Tasks) == 0 || len(in.Tasks) > 10 {
		return nil, invalidParameter("tasks must have 1 to 10 items.")
	}
	if m := in.ExpiresInMinutes; m != nil && (*m < 1 || *m > 2880) {
		return nil, invalidParameter("expiresInMinutes must be between 1 and 2880.")
	}
	return f.taskProtection(region, in, true)
}

// taskProtection answers GetTaskProtection and, with update,
// UpdateTaskProtection. Only a service's tasks can be protected.
func (f *Fake) taskProtection(region string, in *taskProtectionInput, update bool) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.activeCluster(region, in.Cluster)
	if err != nil {
		return nil, err
	}
	refs := in.Tasks
	out := []protectedTask{}
	failures := []failure{}
	now := f.now()
	for _, ref := range refs {
		t := c.tasks[lastSegment(ref)]
		switch {
		case t == nil:
			failures = append(failures, failure{Arn: taskARN(c, ref), Reason: "MISSING"})
			continue
		case t.service == nil:
			failures = append(failures, failure{Arn: t.arn, Reason: "TASK_NOT_VALID", Detail: "Only the tasks of a service can be protected from scale-in."})
			continue
		case update && !t.alive():
			failures = append(failures, failure{Arn: t.arn, Reason: "TASK_NOT_VALID", Detail: "The task is STOPPED."})
			continue
		}
		if update {
			t.protected, t.protectedUntil = in.ProtectionEnabled, time.Time{}
			if in.ProtectionEnabled {
				minutes := 120
				if in.ExpiresInMinutes != nil {
					minutes = *in.ExpiresInMinutes
				}
				t.protectedUntil = now.Add(f.minutes(minutes))
			}
		}
		p := protectedTask{TaskArn: t.arn, ProtectionEnabled: t.isProtected(now)}
		if p.ProtectionEnabled {
			p.ExpirationDate = timestamp(t.protectedUntil)
		}
		out = append(out, p)
	}
	return map[string]any{"protectedTasks": out, "failures": failures}, nil
}

// isProtected reports whether t is protected from scale-in at now.
func (t *task) isProtected(now time.Time) bool {
	return t.protected && now.Before(t.protectedUntil)
}
