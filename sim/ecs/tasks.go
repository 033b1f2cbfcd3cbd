package ecs

import (
	"cmp"
	"slices"
	"strings"

	"github.com/meshsim/meshsim/sim/awsproto"
)

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
			in.StartedBy != "" && (t.deployment == nil || t.deployment.id != in.StartedBy):
			continue
		}
		tasks = append(tasks, t)
	}
	slices.SortFunc(tasks, func(a, b *task) int { return cmp.Compare(a.seq, b.seq) })
	arns := make([]string, len(tasks))
	for i, t := range tasks {
		arns[i] = t.arn
	}
	f.mu.Unlock()
	return listResult("taskArns", arns, in.NextToken, in.MaxResults, 100, 100)
}

func (f *Fake) describeTasks(region string, in *describeTasksInput) (any, error) {
	if len(in.Tasks) == 0 {
		return nil, invalidParameter("Tasks cannot be empty.")
	}
	if len(in.Tasks) > 100 {
		return nil, invalidParameter("tasks can have at most 100 items.")
	}
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
		out = append(out, f.taskOutput(t))
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
	return map[string]any{"task": f.taskOutput(t)}, nil
}

// taskARN returns ref as the ARN of a task of c.
func taskARN(c *cluster, ref string) string {
	if strings.HasPrefix(ref, "arn:") {
		return ref
	}
	return awsproto.ARN(c.region, "ecs", "task/"+c.name+"/"+ref)
}

// taskOutput describes t. Callers hold f.mu.
func (f *Fake) taskOutput(t *task) taskOutput {
	region := t.cluster.region
	out := taskOutput{
		TaskArn:            t.arn,
		ClusterArn:         t.cluster.arn,
		TaskDefinitionArn:  t.def.arn,
		LastStatus:         t.lastStatus,
		DesiredStatus:      t.desiredStatus,
		HealthStatus:       string(t.health),
		LaunchType:         "FARGATE",
		AvailabilityZone:   region + "a",
		CreatedAt:          timestamp(t.createdAt),
		PullStartedAt:      timestamp(t.pullStartedAt),
		PullStoppedAt:      timestamp(t.pullStoppedAt),
		ConnectivityAt:     timestamp(t.connectivityAt),
		StartedAt:          timestamp(t.startedAt),
		StoppingAt:         timestamp(t.stoppingAt),
		StoppedAt:          timestamp(t.stoppedAt),
		ExecutionStoppedAt: timestamp(t.executionStoppedAt),
		StopCode:           t.stopCode,
		StoppedReason:      t.stoppedReason,
		Version:            t.version,
		Overrides:          taskOverride{ContainerOverrides: []any{}},
		Containers:         []containerOutput{},
	}
	if !t.connectivityAt.IsZero() {
		out.Connectivity = "CONNECTED"
	}
	if s := t.service; s != nil {
		out.Group = "service:" + s.name
		out.StartedBy = t.deployment.id
		if s.in.LaunchType != "" {
			out.LaunchType = s.in.LaunchType
		}
		out.PlatformVersion = s.in.PlatformVersion
	}

	status := "PRECREATED"
	switch t.lastStatus {
	case statusActivating, statusRunning, statusDeactivating, statusStopping:
		status = "ATTACHED"
	case statusDeprovisioning:
		status = "DETACHED"
	case statusStopped:
		status = "DELETED"
	}
	details := []keyValuePair{
		{Name: "subnetId", Value: t.subnetID},
		{Name: "networkInterfaceId", Value: t.eniID},
		{Name: "macAddress", Value: macAddress(t.eniID)},
	}
	if t.ip != "" {
		details = append(details,
			keyValuePair{Name: "privateDnsName", Value: privateDNSName(region, t.ip)},
			keyValuePair{Name: "privateIPv4Address", Value: t.ip})
	}
	out.Attachments = []attachmentOutput{{ID: t.attachmentID, Type: "ElasticNetworkInterface", Status: status, Details: details}}

	for _, c := range t.containers {
		co := containerOutput{
			ContainerArn:      c.arn,
			TaskArn:           t.arn,
			Name:              c.name,
			Image:             c.image,
			LastStatus:        c.lastStatus,
			ExitCode:          c.exitCode,
			Reason:            c.reason,
			HealthStatus:      string(c.health),
			NetworkBindings:   []any{},
			NetworkInterfaces: []networkInterfaceOutput{},
		}
		if t.ip != "" {
			co.NetworkInterfaces = append(co.NetworkInterfaces, networkInterfaceOutput{AttachmentID: t.attachmentID, PrivateIpv4Address: t.ip})
		}
		out.Containers = append(out.Containers, co)
	}
	return out
}

// macAddress derives a stable, locally administered MAC address from an
// ENI id.
func macAddress(eni string) string {
	h := strings.TrimPrefix(eni, "eni-")
	for len(h) < 10 {
		h += "0"
	}
	return "0a:" + h[0:2] + ":" + h[2:4] + ":" + h[4:6] + ":" + h[6:8] + ":" + h[8:10]
}

// privateDNSName returns the EC2 private DNS name of ip in region.
func privateDNSName(region, ip string) string {
	host := "ip-" + strings.ReplaceAll(ip, ".", "-")
	if region == "us-east-1" {
		return host + ".ec2.internal"
	}
	return host + "." + region + ".compute.internal"
}
