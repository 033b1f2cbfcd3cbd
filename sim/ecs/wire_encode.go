package ecs

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/meshsim/meshsim/sim/awsproto"
)

// This file is the encoding half of the wire layer: it describes the state
// in the ECS API's response shapes (clusters, services, tasks, service
// deployments and revisions). Callers hold f.mu.

// clusterOutput describes c. Callers hold f.mu.
func (f *Fake) clusterOutput(c *cluster, tags bool) clusterOutput {
	out := clusterOutput{
		ClusterArn:                      c.arn,
		ClusterName:                     c.name,
		Status:                          c.status,
		Statistics:                      []keyValuePair{},
		Settings:                        c.in.Settings,
		Configuration:                   c.in.Configuration,
		CapacityProviders:               orEmptyList(c.in.CapacityProviders),
		DefaultCapacityProviderStrategy: orEmptyList(c.in.DefaultCapacityProviderStrategy),
		ServiceConnectDefaults:          c.in.ServiceConnectDefaults,
	}
	if tags {
		out.Tags = tagsOut(c.tags)
	}
	for _, s := range c.services {
		if s.status == serviceActive {
			out.ActiveServicesCount++
		}
		tallyTasks(&out, s.live)
	}
	for _, inst := range c.instances {
		if inst.status != instanceInactive {
			out.RegisteredContainerInstancesCount++
		}
	}
	for _, t := range c.tasks {
		if t.service == nil && t.alive() {
			tallyTasks(&out, []*task{t})
		}
	}
	return out
}

// orEmptyList returns raw, or an empty JSON list when raw is absent.
func orEmptyList(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || string(raw) == "null" {
		return json.RawMessage("[]")
	}
	return raw
}

// serviceOutput describes s. Callers hold f.mu.
func (f *Fake) serviceOutput(s *service, tags bool) serviceOutput {
	out := serviceOutput{
		ServiceArn:                    s.arn,
		ServiceName:                   s.name,
		ClusterArn:                    s.cluster.arn,
		Status:                        s.status,
		DesiredCount:                  s.desiredCount,
		TaskDefinition:                s.taskDefinitionARN(),
		LaunchType:                    s.in.LaunchType,
		PlatformVersion:               s.in.PlatformVersion,
		DeploymentConfiguration:       s.config,
		DeploymentController:          deploymentController{Type: s.controller},
		Deployments:                   []deploymentOutput{},
		Events:                        s.events,
		CreatedAt:                     timestamp(s.createdAt),
		CreatedBy:                     "arn:aws:iam::" + awsproto.Account + ":root",
		SchedulingStrategy:            "REPLICA",
		LoadBalancers:                 orEmptyList(s.in.LoadBalancers),
		ServiceRegistries:             s.registries,
		NetworkConfiguration:          s.networkConfiguration,
		CapacityProviderStrategy:      s.in.CapacityProviderStrategy,
		PlacementConstraints:          orEmptyList(s.in.PlacementConstraints),
		PlacementStrategy:             orEmptyList(s.in.PlacementStrategy),
		HealthCheckGracePeriodSeconds: s.in.HealthCheckGracePeriodSeconds,
		EnableECSManagedTags:          s.in.EnableECSManagedTags,
		PropagateTags:                 s.in.PropagateTags,
		EnableExecuteCommand:          s.in.EnableExecuteCommand,
		CurrentServiceRevisions:       []currentRevision{},
	}
	if s.current != nil {
		out.CurrentServiceDeployment = s.current.arn
	}
	if s.controller != controllerECS {
		out.TaskSets = []map[string]any{}
		for _, ts := range s.taskSets {
			out.TaskSets = append(out.TaskSets, f.taskSetOutput(ts, false))
		}
	}
	if out.Events == nil {
		out.Events = []serviceEvent{}
	}
	if out.ServiceRegistries == nil {
		out.ServiceRegistries = []serviceRegistry{}
	}
	if out.PropagateTags == "" {
		out.PropagateTags = "NONE"
	}
	if tags {
		out.Tags = tagsOut(s.tags)
	}
	counts := map[*deployment]*deploymentOutput{}
	for _, d := range s.deployments {
		out.Deployments = append(out.Deployments, deploymentOutput{
			ID:                          d.id,
			Status:                      d.status,
			TaskDefinition:              d.def.arn,
			DesiredCount:                f.requested(s, d),
			FailedTasks:                 d.failedTasks,
			CreatedAt:                   timestamp(d.createdAt),
			UpdatedAt:                   timestamp(d.updatedAt),
			LaunchType:                  s.in.LaunchType,
			PlatformVersion:             s.in.PlatformVersion,
			NetworkConfiguration:        d.revision.networkConfiguration,
			RolloutState:                d.rolloutState,
			RolloutStateReason:          d.rolloutStateReason,
			ServiceConnectConfiguration: d.revision.serviceConnect,
			ServiceConnectResources:     connectResources(d.revision.connect),
		})
	}
	for i, d := range s.deployments {
		counts[d] = &out.Deployments[i]
	}
	for _, t := range s.live {
		d := counts[t.deployment]
		switch {
		case t.lastStatus == statusRunning:
			out.RunningCount++
			if d != nil {
				d.RunningCount++
			}
		case t.pending():
			out.PendingCount++
			if d != nil {
				d.PendingCount++
			}
		}
	}
	// Deployments of the same revision (a rolling rollback to it) add up.
	byRevision := map[*serviceRevision]*currentRevision{}
	for _, d := range out.Deployments {
		dep := s.deployments[slices.IndexFunc(s.deployments, func(x *deployment) bool { return x.id == d.ID })]
		cr, ok := byRevision[dep.revision]
		if !ok {
			out.CurrentServiceRevisions = append(out.CurrentServiceRevisions, currentRevision{Arn: dep.revision.arn})
			cr = &out.CurrentServiceRevisions[len(out.CurrentServiceRevisions)-1]
			byRevision[dep.revision] = cr
		}
		cr.RequestedTaskCount += d.DesiredCount
		cr.RunningTaskCount += d.RunningCount
		cr.PendingTaskCount += d.PendingCount
	}
	return out
}

// taskOutput describes t, with its tags when tags is true. Callers hold
// f.mu.
func (f *Fake) taskOutput(t *task, tags bool) taskOutput {
	region := t.cluster.region
	out := taskOutput{
		TaskArn:            t.arn,
		ClusterArn:         t.cluster.arn,
		TaskDefinitionArn:  t.def.arn,
		LastStatus:         t.lastStatus,
		DesiredStatus:      t.desiredStatus,
		HealthStatus:       string(t.health),
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
		Overrides:          t.overridesOut(),
		CPU:                t.cpu,
		Memory:             t.memory,
		LaunchType:         t.launchType,
		PlatformVersion:    t.platformVersion,
		StartedBy:          t.startedBy,
		Group:              t.group,
		CapacityProvider:   t.capacityName,
		EnableExecute:      t.execute,
		Containers:         []containerOutput{},
	}
	if !t.connectivityAt.IsZero() {
		out.Connectivity = "CONNECTED"
	}
	if t.instance != nil {
		out.ContainerInstance = t.instance.arn
	}
	if tags {
		out.Tags = tagsOut(t.tags)
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
		out.Alarms.Status = sd.alarms
		if sd.alarms == monitorMonitoring && !sd.active() {
			out.Alarms.Status = monitorComplete
		}
		out.Alarms.AlarmNames = slices.Clone(a.AlarmNames)
		out.Alarms.TriggeredAlarmNames = append([]string{}, sd.alarmsTriggered...)
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

// connectResources returns the serviceConnectResources of a deployment.
func connectResources(sc *ServiceConnect) []serviceConnectResource {
	if sc == nil {
		return nil
	}
	out := []serviceConnectResource{}
	for _, s := range sc.Services {
		out = append(out, serviceConnectResource{DiscoveryName: s.DiscoveryName, DiscoveryArn: s.DiscoveryARN})
	}
	return out
}

// overridesOut returns the task's overrides as ECS describes them: as
// given, with containerOverrides always a list.
func (t *task) overridesOut() json.RawMessage {
	o := object{}
	if !isAbsent(t.overrides) {
		_ = json.Unmarshal(t.overrides, &o)
	}
	o.setDefault("containerOverrides", []any{})
	o.setDefault("inferenceAcceleratorOverrides", []any{})
	b, _ := json.Marshal(map[string]json.RawMessage(o))
	return b
}

// tallyTasks counts the RUNNING and pending tasks among tasks into out.
func tallyTasks(out *clusterOutput, tasks []*task) {
	for _, t := range tasks {
		switch {
		case t.lastStatus == statusRunning:
			out.RunningTasksCount++
		case t.pending():
			out.PendingTasksCount++
		}
	}
}
