package docker

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// Task is a running task of a run, as its containers' labels describe it.
type Task struct {
	ID      string
	Service string
	Version string
	// IP is the task's address on the run network ("" while disconnected).
	IP string
	// Containers are the names of its running containers in the task
	// definition, sorted.
	Containers []string
}

// Faults breaks the tasks of one run on purpose. It finds their containers
// by label, so it works from any process that reaches the engine (the
// engine's process on the host, while the runtime runs in the fakes'
// container).
//
// The ECS fake notices a fault as ECS would: an essential container that
// was killed or stopped stops its task, and the service replaces it; a
// paused or disconnected task fails its health checks and is replaced once
// UNHEALTHY (a task without a health check, such as the ingress, keeps
// running).
type Faults struct {
	cli     *testcontainers.DockerClient
	runID   string
	network string

	mu sync.Mutex
	// addrs holds the address each disconnected task had, to reconnect it
	// with the same one.
	addrs map[string]netip.Addr
}

// NewFaults returns the faults of the run runID, whose tasks are on the
// Docker network named network.
func NewFaults(cli *testcontainers.DockerClient, runID, network string) *Faults {
	return &Faults{cli: cli, runID: runID, network: network, addrs: make(map[string]netip.Addr)}
}

// Tasks lists the run's running tasks, by task id.
func (f *Faults) Tasks(ctx context.Context) ([]Task, error) {
	list, err := f.cli.ContainerList(ctx, client.ContainerListOptions{
		Filters: runFilter(f.runID).Add("label", LabelRole+"="+roleTask),
	})
	if err != nil {
		return nil, fmt.Errorf("listing the containers of run %s: %w", f.runID, err)
	}
	byID := map[string]*Task{}
	for _, c := range list.Items {
		id := c.Labels[LabelTask]
		t, ok := byID[id]
		if !ok {
			t = &Task{ID: id, Service: c.Labels[LabelService], Version: c.Labels[LabelVersion]}
			byID[id] = t
		}
		t.Containers = append(t.Containers, c.Labels[LabelContainer])
		if ip := summaryIP(c, f.network); ip.IsValid() {
			t.IP = ip.String()
		}
	}
	tasks := make([]Task, 0, len(byID))
	for _, t := range byID {
		sort.Strings(t.Containers)
		tasks = append(tasks, *t)
	}
	sort.Slice(tasks, func(i, j int) bool { return tasks[i].ID < tasks[j].ID })
	return tasks, nil
}

// Kill sends SIGKILL to the task's container named containerName in the
// task definition, or to all its containers when containerName is "".
func (f *Faults) Kill(ctx context.Context, taskID, containerName string) error {
	cs, err := f.containers(ctx, taskID, containerName)
	if err != nil {
		return err
	}
	for _, c := range cs {
		if err := unpause(ctx, f.cli, c.ID); err != nil {
			return err
		}
		if err := signal(ctx, f.cli, c.ID, "SIGKILL"); err != nil {
			return err
		}
	}
	return nil
}

// Stop stops the task's container named containerName (all of them when
// it is ""), as docker stop does: SIGTERM, then SIGKILL for what still runs
// after timeout. It returns once they have exited.
func (f *Faults) Stop(ctx context.Context, taskID, containerName string, timeout time.Duration) error {
	cs, err := f.containers(ctx, taskID, containerName)
	if err != nil {
		return err
	}
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	return terminate(ctx, f.cli, ids, graces(len(ids), timeout), nil)
}

// Pause freezes every container of the task (the cgroup freezer, as
// docker pause): connections stay open and nothing answers.
func (f *Faults) Pause(ctx context.Context, taskID string) error {
	cs, err := f.containers(ctx, taskID, "")
	if err != nil {
		return err
	}
	for _, c := range cs {
		if _, err := f.cli.ContainerPause(ctx, c.ID, client.ContainerPauseOptions{}); err != nil {
			return fmt.Errorf("pausing container %s of task %s: %w", c.Labels[LabelContainer], taskID, err)
		}
	}
	return nil
}

// Unpause thaws every container of the task.
func (f *Faults) Unpause(ctx context.Context, taskID string) error {
	cs, err := f.containers(ctx, taskID, "")
	if err != nil {
		return err
	}
	for _, c := range cs {
		if err := unpause(ctx, f.cli, c.ID); err != nil {
			return err
		}
	}
	return nil
}

// Disconnect cuts the task off the run network: its address disappears,
// so connections to it time out and its own calls fail.
func (f *Faults) Disconnect(ctx context.Context, taskID string) error {
	owner, ip, err := f.owner(ctx, taskID)
	if err != nil {
		return err
	}
	if !ip.IsValid() {
		return fmt.Errorf("task %s of run %s is already disconnected", taskID, f.runID)
	}
	if _, err := f.cli.NetworkDisconnect(ctx, f.network, client.NetworkDisconnectOptions{Container: owner.ID, Force: true}); err != nil {
		return fmt.Errorf("disconnecting task %s from network %s: %w", taskID, f.network, err)
	}
	f.mu.Lock()
	f.addrs[taskID] = ip
	f.mu.Unlock()
	return nil
}

// Reconnect connects a task cut off by Disconnect again, with the address
// it had.
func (f *Faults) Reconnect(ctx context.Context, taskID string) error {
	owner, ip, err := f.owner(ctx, taskID)
	if err != nil {
		return err
	}
	if ip.IsValid() {
		return fmt.Errorf("task %s of run %s is connected", taskID, f.runID)
	}
	f.mu.Lock()
	addr, ok := f.addrs[taskID]
	f.mu.Unlock()
	if !ok {
		return fmt.Errorf("task %s of run %s was not disconnected by these faults", taskID, f.runID)
	}
	_, err = f.cli.NetworkConnect(ctx, f.network, client.NetworkConnectOptions{
		Container:      owner.ID,
		EndpointConfig: &network.EndpointSettings{IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: addr}},
	})
	if err != nil {
		return fmt.Errorf("reconnecting task %s to network %s with address %s: %w", taskID, f.network, addr, err)
	}
	f.mu.Lock()
	delete(f.addrs, taskID)
	f.mu.Unlock()
	return nil
}

// containers returns the task's running containers, or the one named
// containerName.
func (f *Faults) containers(ctx context.Context, taskID, containerName string) ([]container.Summary, error) {
	filters := runFilter(f.runID).Add("label", LabelTask+"="+taskID)
	if containerName != "" {
		filters.Add("label", LabelContainer+"="+containerName)
	}
	list, err := f.cli.ContainerList(ctx, client.ContainerListOptions{Filters: filters})
	if err != nil {
		return nil, fmt.Errorf("listing the containers of task %s: %w", taskID, err)
	}
	if len(list.Items) == 0 {
		what := "no running container"
		if containerName != "" {
			what = "no running container " + containerName
		}
		return nil, fmt.Errorf("%s of task %s in run %s", what, taskID, f.runID)
	}
	return list.Items, nil
}

// owner returns the container that holds the task's network namespace,
// and its address on the run network (invalid while disconnected).
func (f *Faults) owner(ctx context.Context, taskID string) (container.Summary, netip.Addr, error) {
	cs, err := f.containers(ctx, taskID, "")
	if err != nil {
		return container.Summary{}, netip.Addr{}, err
	}
	for _, c := range cs {
		if c.HostConfig.NetworkMode == f.network {
			return c, summaryIP(c, f.network), nil
		}
	}
	return container.Summary{}, netip.Addr{}, fmt.Errorf("task %s of run %s has no container on network %s", taskID, f.runID, f.network)
}

// summaryIP returns a listed container's address on network.
func summaryIP(c container.Summary, network string) netip.Addr {
	if c.NetworkSettings == nil {
		return netip.Addr{}
	}
	if ep, ok := c.NetworkSettings.Networks[network]; ok && ep != nil {
		return ep.IPAddress
	}
	return netip.Addr{}
}

// TaskFaults breaks whole tasks: every container of the task, by ECS task
// id. It is what a scenario's faults need (scenarios/engine.Faults).
type TaskFaults struct{ *Faults }

// Kill sends SIGKILL to every container of the task.
func (f TaskFaults) Kill(ctx context.Context, taskID string) error {
	return f.Faults.Kill(ctx, taskID, "")
}
