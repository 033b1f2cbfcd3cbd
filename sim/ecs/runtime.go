package ecs

import (
	"context"
	"time"
)

// Runtime runs the containers of tasks, as the ECS agent does. The fake
// decides which tasks run; the runtime only executes that decision.
type Runtime interface {
	// Start launches the task's containers; it returns once they are started
	// (not yet healthy). ctx bounds the start only: the containers keep
	// running until Stop. On error, whatever was started has been cleaned up.
	// The runtime reports health changes and exits through report until the
	// task has stopped; report is not called after Stop returns.
	Start(ctx context.Context, t TaskSpec, report func(TaskReport)) (Started, error)
	// Stop sends SIGTERM to the task's containers, waits up to grace for them
	// to exit, then kills them.
	Stop(ctx context.Context, taskID string, grace time.Duration) error
}

// Registry is where service tasks are registered for discovery (Cloud Map).
type Registry interface {
	// RegisterInstance registers instanceID with attrs in the Cloud Map
	// service serviceID (the service registry's ARN).
	RegisterInstance(ctx context.Context, serviceID, instanceID string, attrs map[string]string) error
	// DeregisterInstance removes instanceID from the Cloud Map service
	// serviceID.
	DeregisterInstance(ctx context.Context, serviceID, instanceID string) error
}

// TaskSpec is what a runtime needs to run one task: its identity and its
// task definition's containers.
type TaskSpec struct {
	// TaskID is the 32-hex-digit id at the end of TaskARN.
	TaskID  string
	TaskARN string
	// Cluster and Service are names; Service is empty for a task that no
	// service started.
	Cluster string
	Service string
	// Family, Revision and TaskDefinitionARN name the task definition.
	Family            string
	Revision          int
	TaskDefinitionARN string
	Containers        []ContainerSpec
}

// ContainerSpec is one container of a task definition.
type ContainerSpec struct {
	Name  string
	Image string
	// EntryPoint and Command are the process the container runs, as
	// docker run takes them (the entry point, then the command as its
	// arguments); empty means the image's own. WorkingDirectory and User
	// are where and as whom it runs; empty means the image's.
	EntryPoint       []string
	Command          []string
	WorkingDirectory string
	User             string
	// Essential containers stop the task when they exit.
	Essential   bool
	Env         map[string]string
	Ports       []PortMapping
	HealthCheck *HealthCheck
	// StopTimeout is how long the container gets after SIGTERM before it is
	// killed.
	StopTimeout time.Duration
}

// PortMapping is a container port of a task definition's portMappings.
type PortMapping struct {
	ContainerPort uint32
	// Protocol is "tcp" or "udp".
	Protocol string
	// Name and AppProtocol are what Service Connect refers to.
	Name        string
	AppProtocol string
}

// HealthCheck is a container health check, with the task definition's
// seconds already turned into durations.
type HealthCheck struct {
	// Command is the Docker health check command: ["CMD-SHELL", "..."] or
	// ["CMD", arg...].
	Command     []string
	Interval    time.Duration
	Timeout     time.Duration
	Retries     int
	StartPeriod time.Duration
}

// Started describes a task whose containers have started.
type Started struct {
	// IP is the task's private IPv4 address (one per task, as with awsvpc).
	IP string
}

// HealthStatus is a container or task health status as ECS reports it.
type HealthStatus string

// The health statuses of ECS.
const (
	HealthUnknown   HealthStatus = "UNKNOWN"
	HealthHealthy   HealthStatus = "HEALTHY"
	HealthUnhealthy HealthStatus = "UNHEALTHY"
)

// TaskReport is what a runtime reports about one container of a running
// task: a health change or an exit (exactly one of the two is set).
type TaskReport struct {
	Container string
	Health    HealthStatus
	Exit      *ContainerExit
}

// ContainerExit describes how a container exited.
type ContainerExit struct {
	Code   int
	Reason string
}
