package ecs

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/meshsim/meshsim/sim/awsproto"
)

// This file holds the task operations: ListTasks, DescribeTasks, StopTask.

func (f *Fake) listTasks(region string, in *listTasksInput) (any, error) {
	desired := in.DesiredStatus
	switch desired {
	case "":
		desired = statusRunning
	case statusRunning, statusPending, statusStopped:
	default:
		return nil, invalidParameter("desiredStatus must be RUNNING, PENDING or STOPPED.")
	}
	f.mu.Lock()
	c, err := f.activeCluster(region, in.Cluster)
	if err != nil {
		f.mu.Unlock()
		return nil, err
	}
	var svc *service
	if in.ServiceName != "" {
		if svc = c.services[lastSegment(in.ServiceName)]; svc == nil {
			f.mu.Unlock()
			return nil, errServiceNotFound
		}
	}
	candidates := c.tasks
	if svc != nil {
		candidates = svc.tasks
	}
	var tasks []*task
	for _, t := range candidates {
		switch {
		case t.desiredStatus != desired,
			in.Family != "" && t.def.family != in.Family,
			in.StartedBy != "" && t.startedBy != in.StartedBy,
			in.LaunchType != "" && t.launchType != in.LaunchType,
			in.ContainerInstance != "" && (t.instance == nil || t.instance.id != lastSegment(in.ContainerInstance)):
			continue
		}
		tasks = append(tasks, t)
	}
	slices.SortFunc(tasks, func(a, b *task) int { return cmp.Compare(a.seq, b.seq) })
	f.mu.Unlock()
	page, next, err := awsproto.Page(paging(100), tasks, taskKey, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	arns := make([]string, len(page))
	for i, t := range page {
		arns[i] = t.arn
	}
	return pageResult("taskArns", arns, next), nil
}

func (f *Fake) describeTasks(region string, in *describeTasksInput) (any, error) {
	if len(in.Tasks) == 0 {
		return nil, invalidParameter("Tasks cannot be empty.")
	}
	if len(in.Tasks) > 100 {
		return nil, invalidParameter("tasks can have at most 100 items.")
	}
	tags := slices.Contains(in.Include, "TAGS")
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.activeCluster(region, in.Cluster)
	if err != nil {
		return nil, err
	}
	out := []taskOutput{}
	failures := []failure{}
	for _, ref := range in.Tasks {
		t, ok := c.tasks[lastSegment(ref)]
		if !ok {
			failures = append(failures, failure{Arn: taskARN(c, ref), Reason: "MISSING"})
			continue
		}
		out = append(out, f.taskOutput(t, tags))
	}
	return map[string]any{"tasks": out, "failures": failures}, nil
}

func (f *Fake) stopTask(region string, in *stopTaskInput) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.activeCluster(region, in.Cluster)
	if err != nil {
		return nil, err
	}
	t, ok := c.tasks[lastSegment(in.Task)]
	if !ok {
		return nil, invalidParameter("The referenced task was not found.")
	}
	reason := in.Reason
	if reason == "" {
		reason = "Task stopped by user"
	}
	f.requestStop(t, reason, stopCodeUser)
	return map[string]any{"task": f.taskOutput(t, false)}, nil
}

// taskKey orders tasks by launch, for paging.
func taskKey(t *task) string { return fmt.Sprintf("%020d", t.seq) }
