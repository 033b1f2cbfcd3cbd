package ecs

import (
	"encoding/json"
	"net/http"
	"slices"

	"github.com/meshsim/meshsim/sim/awsproto"
)

// This file holds the service operations: Create/Update/Describe/List/
// DeleteService and ListServicesByNamespace.

func (f *Fake) createService(region string, in *createServiceInput) (any, error) {
	if !nameRE.MatchString(in.ServiceName) {
		return nil, invalidParameter("Service name can have up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens.")
	}
	if in.SchedulingStrategy != "" && in.SchedulingStrategy != "REPLICA" {
		return nil, invalidParameter("meshsim's ECS supports the REPLICA scheduling strategy only, not %s.", in.SchedulingStrategy)
	}
	controller := controllerECS
	if in.DeploymentController != nil && in.DeploymentController.Type != "" {
		controller = in.DeploymentController.Type
	}
	if err := in.validate(controller); err != nil {
		return nil, err
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, invalidParameter("%s", err.Error())
	}
	if err := checkDesiredCount(*in.DesiredCount); err != nil {
		return nil, err
	}
	config, parsed, err := deploymentConfiguration(nil, in.DeploymentConfiguration)
	if err != nil {
		return nil, err
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.activeCluster(region, in.Cluster)
	if err != nil {
		return nil, err
	}
	if s, ok := c.services[in.ServiceName]; ok {
		switch s.status {
		case serviceActive:
			return nil, invalidParameter("Creation of service was not idempotent.")
		case serviceDraining:
			return nil, invalidParameter("Unable to Start a service that is still Draining.")
		}
	}
	var td *taskDef
	if controller != controllerExternal {
		if td, err = f.activeTaskDefinition(region, in.TaskDefinition); err != nil {
			return nil, err
		}
		if err := in.checkLaunch(c, td); err != nil {
			return nil, err
		}
	}
	if err := f.checkTaskLimit(nil, *in.DesiredCount); err != nil {
		return nil, err
	}
	if err := f.checkRegistries(in.ServiceRegistries, td); err != nil {
		return nil, err
	}
	var connect *ServiceConnect
	if td != nil {
		if connect, err = f.resolveServiceConnect(c, in.ServiceConnectConfiguration, td); err != nil {
			return nil, err
		}
	}
	lb, err := f.parseLoadBalancers(in.LoadBalancers, td)
	if err != nil {
		return nil, err
	}
	s := &service{
		arn:                  awsproto.ARN(region, "ecs", "service/"+c.name+"/"+in.ServiceName),
		name:                 in.ServiceName,
		cluster:              c,
		status:               serviceActive,
		createdAt:            f.now(),
		in:                   *in,
		tags:                 parseTags(in.Tags),
		controller:           controller,
		desiredCount:         *in.DesiredCount,
		config:               config,
		parsed:               parsed,
		registries:           in.ServiceRegistries,
		networkConfiguration: in.NetworkConfiguration,
		serviceConnect:       in.ServiceConnectConfiguration,
		connect:              connect,
		lb:                   lb,
		tasks:                make(map[string]*task),
	}
	c.services[s.name] = s
	switch controller {
	case controllerECS:
		f.deploy(s, f.newRevision(s, td))
	case controllerCodeDeploy:
		// ECS makes the first task set of a CODE_DEPLOY service from it.
		ts := f.newTaskSet(s, td, &taskSetInput{NetworkConfiguration: in.NetworkConfiguration,
			LoadBalancers: in.LoadBalancers, ServiceRegistries: in.ServiceRegistries,
			PlatformVersion: in.PlatformVersion}, s.launchType(), 100)
		ts.status, ts.d.status = taskSetPrimary, taskSetPrimary
	}
	f.kick(s)
	f.publish(s)
	return map[string]any{"service": f.serviceOutput(s, true)}, nil
}

func (f *Fake) updateService(region string, in *updateServiceInput) (any, error) {
	if in.DesiredCount != nil {
		if err := checkDesiredCount(*in.DesiredCount); err != nil {
			return nil, err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.serviceToUpdate(region, in)
	if err != nil {
		return nil, err
	}
	if s.controller != controllerECS {
		return f.updateTaskSetService(s, in)
	}
	td := s.deployments[0].def
	if in.TaskDefinition != "" {
		if td, err = f.activeTaskDefinition(region, in.TaskDefinition); err != nil {
			return nil, err
		}
	}
	config, parsed := s.config, s.parsed
	if in.DeploymentConfiguration != nil {
		if config, parsed, err = deploymentConfiguration(s.config, in.DeploymentConfiguration); err != nil {
			return nil, err
		}
	}
	registries := s.registries
	if in.ServiceRegistries != nil {
		registries = in.ServiceRegistries
	}
	if err := f.checkRegistries(registries, td); err != nil {
		return nil, err
	}
	serviceConnect, connect := s.serviceConnect, s.connect
	if in.ServiceConnectConfiguration != nil {
		serviceConnect = in.ServiceConnectConfiguration
	}
	if in.ServiceConnectConfiguration != nil || td != s.deployments[0].def {
		// The port names must match the task definition to run.
		if connect, err = f.resolveServiceConnect(s.cluster, serviceConnect, td); err != nil {
			return nil, err
		}
	}

	s.config, s.parsed, s.registries = config, parsed, registries
	s.serviceConnect, s.connect = serviceConnect, connect
	if in.DesiredCount != nil {
		s.desiredCount = *in.DesiredCount
		s.steady = false
		// A traffic-shifting deployment that has scaled its target up
		// keeps it at the desired count.
		if sd := s.current; sd.shifting() && sd.rollbackReason == "" &&
			sd.stage != "" && sd.stage != stageReconcile && sd.stage != stagePreScaleUp {
			sd.target.desired = s.desiredCount
		}
	}
	if in.NetworkConfiguration != nil {
		s.networkConfiguration = in.NetworkConfiguration
	}
	if in.HealthCheckGracePeriodSeconds != nil {
		s.in.HealthCheckGracePeriodSeconds = in.HealthCheckGracePeriodSeconds
	}
	if in.ForceNewDeployment || td != s.deployments[0].def || in.ServiceRegistries != nil ||
		in.ServiceConnectConfiguration != nil || in.NetworkConfiguration != nil {
		f.deploy(s, f.newRevision(s, td))
	}
	f.kick(s)
	f.publish(s)
	return map[string]any{"service": f.serviceOutput(s, false)}, nil
}

func (f *Fake) describeServices(region string, in *describeServicesInput) (any, error) {
	if len(in.Services) == 0 {
		return nil, invalidParameter("services can not be empty.")
	}
	if len(in.Services) > 10 {
		return nil, invalidParameter("services can have at most 10 items.")
	}
	tags := slices.Contains(in.Include, "TAGS")
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.activeCluster(region, in.Cluster)
	if err != nil {
		return nil, err
	}
	out := []serviceOutput{}
	failures := []failure{}
	for _, ref := range in.Services {
		s, ok := c.services[lastSegment(ref)]
		if !ok {
			failures = append(failures, failure{Arn: awsproto.ARN(region, "ecs", "service/"+c.name+"/"+lastSegment(ref)), Reason: "MISSING"})
			continue
		}
		out = append(out, f.serviceOutput(s, tags))
	}
	return map[string]any{"services": out, "failures": failures}, nil
}

func (f *Fake) listServices(region string, in *listInput) (any, error) {
	f.mu.Lock()
	c, err := f.activeCluster(region, in.Cluster)
	var arns []string
	if err == nil {
		for _, s := range c.services {
			if s.status != serviceInactive {
				arns = append(arns, s.arn)
			}
		}
	}
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	slices.Sort(arns)
	return listResult("serviceArns", arns, in.NextToken, in.MaxResults, 10)
}

func (f *Fake) deleteService(region string, in *deleteServiceInput) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.findService(region, in.Cluster, in.Service)
	if err != nil {
		return nil, err
	}
	switch s.status {
	case serviceInactive:
		return nil, errServiceNotFound
	case serviceActive:
		if s.desiredCount > 0 && !in.Force {
			return nil, invalidParameter("The service cannot be stopped while it is scaled above 0.")
		}
		s.desiredCount = 0
		s.status = serviceDraining
		if sd := s.current; sd != nil && sd.active() {
			f.endServiceDeployment(sd, sdStopped, "The service was deleted.")
		}
		f.kick(s)
		f.publish(s)
	}
	return map[string]any{"service": f.serviceOutput(s, false)}, nil
}

// checkDesiredCount checks a desiredCount against ECS's bounds.
func checkDesiredCount(n int) error {
	if n < 0 || n > maxDesiredCount {
		return invalidParameter("desiredCount must be between 0 and %d (the Amazon ECS quota of tasks per service).", maxDesiredCount)
	}
	return nil
}

// checkRegistries validates a service's serviceRegistries against the task
// definition its tasks will run. Callers hold f.mu.
func (f *Fake) checkRegistries(regs []serviceRegistry, td *taskDef) error {
	if len(regs) == 0 {
		return nil
	}
	if len(regs) > 1 {
		return invalidParameter("A service can have only one service registry.")
	}
	if f.opts.Registry == nil {
		return invalidParameter("serviceRegistries: this meshsim ECS has no Cloud Map to register tasks in.")
	}
	r := regs[0]
	if r.RegistryArn == "" {
		return invalidParameter("serviceRegistries[0].registryArn is required.")
	}
	if r.ContainerName != "" && !slices.ContainsFunc(td.containers, func(c containerDefinition) bool { return c.Name == r.ContainerName }) {
		return invalidParameter("serviceRegistries[0].containerName %q is not a container of task definition %s.", r.ContainerName, td.arn)
	}
	return nil
}

type listServicesByNamespaceInput struct {
	Namespace  string `json:"namespace"`
	NextToken  string `json:"nextToken"`
	MaxResults *int   `json:"maxResults"`
}

func (f *Fake) listServicesByNamespace(region string, in *listServicesByNamespaceInput) (any, error) {
	if in.Namespace == "" {
		return nil, invalidParameter("namespace is required.")
	}
	if f.opts.Namespaces == nil {
		return nil, awsproto.Errorf(http.StatusBadRequest, codeNamespaceNotFound, "Namespace %s not found.", in.Namespace)
	}
	name, err := f.opts.Namespaces.NamespaceName(f.ctx, in.Namespace)
	if err != nil {
		return nil, namespaceError(in.Namespace, err)
	}
	f.mu.Lock()
	var arns []string
	for _, c := range f.clusters {
		if c.region != region {
			continue
		}
		for _, s := range c.services {
			if s.status == serviceActive && s.connect != nil && s.connect.Namespace == name {
				arns = append(arns, s.arn)
			}
		}
	}
	f.mu.Unlock()
	slices.Sort(arns)
	return listResult("serviceArns", arns, in.NextToken, in.MaxResults, 10)
}

// validate checks a CreateService request as ECS does, before the state is
// looked at.
func (in *createServiceInput) validate(controller string) error {
	switch controller {
	case controllerECS, controllerCodeDeploy, controllerExternal:
	default:
		return invalidParameter("deploymentController.type must be ECS, CODE_DEPLOY or EXTERNAL, not %s.", controller)
	}
	switch {
	case in.DesiredCount == nil:
		return invalidParameter("desiredCount is required for a REPLICA service.")
	case in.LaunchType != "" && !isAbsent(in.CapacityProviderStrategy) && string(in.CapacityProviderStrategy) != "[]":
		return invalidParameter("Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again.")
	case in.PropagateTags != "" && in.PropagateTags != "TASK_DEFINITION" && in.PropagateTags != "SERVICE" && in.PropagateTags != "NONE":
		return invalidParameter("propagateTags must be TASK_DEFINITION, SERVICE or NONE.")
	case in.HealthCheckGracePeriodSeconds != nil && (*in.HealthCheckGracePeriodSeconds < 0 || *in.HealthCheckGracePeriodSeconds > 2147483647):
		return invalidParameter("healthCheckGracePeriodSeconds must be between 0 and 2147483647.")
	case controller == controllerCodeDeploy && in.TaskDefinition == "":
		return invalidParameter("taskDefinition can not be blank.")
	case controller == controllerECS && in.TaskDefinition == "":
		return invalidParameter("taskDefinition can not be blank.")
	}
	if err := checkLaunchType(in.LaunchType); err != nil {
		return err
	}
	if controller == controllerExternal {
		// What each task set sets is not the service's.
		for member, set := range map[string]bool{
			"taskDefinition": in.TaskDefinition != "", "launchType": in.LaunchType != "",
			"platformVersion": in.PlatformVersion != "", "networkConfiguration": !isAbsent(in.NetworkConfiguration),
			"loadBalancers":     !isAbsent(in.LoadBalancers) && string(in.LoadBalancers) != "[]",
			"serviceRegistries": len(in.ServiceRegistries) > 0, "capacityProviderStrategy": !isAbsent(in.CapacityProviderStrategy) && string(in.CapacityProviderStrategy) != "[]",
			"serviceConnectConfiguration": !isAbsent(in.ServiceConnectConfiguration),
		} {
			if set {
				return invalidParameter("%s is set by each task set of a service with the EXTERNAL deployment controller (CreateTaskSet), not by the service.", member)
			}
		}
	}
	return nil
}

// checkLaunch checks that the service's tasks can run as it asks: the
// network configuration awsvpc needs, the launch type the task definition
// supports, the capacity providers of the cluster. Callers hold f.mu.
func (in *createServiceInput) checkLaunch(c *cluster, td *taskDef) error {
	if err := checkLaunch(td, in.LaunchType, in.NetworkConfiguration, in.PlacementConstraints, in.PlacementStrategy); err != nil {
		return err
	}
	var strategy []strategyItem
	if !isAbsent(in.CapacityProviderStrategy) {
		if err := json.Unmarshal(in.CapacityProviderStrategy, &strategy); err != nil {
			return invalidParameter("capacityProviderStrategy: %v", err)
		}
	}
	if len(strategy) > 0 {
		return checkStrategy(c, strategy)
	}
	return nil
}

// updateTaskSetService updates a service whose task sets deploy it: only
// what is not set per task set can change. Callers hold f.mu.
func (f *Fake) updateTaskSetService(s *service, in *updateServiceInput) (any, error) {
	if in.TaskDefinition != "" || in.ForceNewDeployment || in.NetworkConfiguration != nil ||
		in.ServiceRegistries != nil || in.ServiceConnectConfiguration != nil {
		return nil, invalidParameter("Unable to update task definition on services with a %s deployment controller. Use %s.",
			s.controller, map[string]string{controllerCodeDeploy: "AWS CodeDeploy to trigger a new deployment",
				controllerExternal: "task sets (CreateTaskSet, UpdateServicePrimaryTaskSet)"}[s.controller])
	}
	if in.DesiredCount != nil {
		s.desiredCount = *in.DesiredCount
		s.steady = false
	}
	if in.DeploymentConfiguration != nil {
		config, parsed, err := deploymentConfiguration(s.config, in.DeploymentConfiguration)
		if err != nil {
			return nil, err
		}
		s.config, s.parsed = config, parsed
	}
	if in.HealthCheckGracePeriodSeconds != nil {
		s.in.HealthCheckGracePeriodSeconds = in.HealthCheckGracePeriodSeconds
	}
	f.kick(s)
	f.publish(s)
	return map[string]any{"service": f.serviceOutput(s, false)}, nil
}

// serviceToUpdate returns the ACTIVE service an UpdateService request
// names, once its new desired count is within the task limit. Callers
// hold f.mu.
func (f *Fake) serviceToUpdate(region string, in *updateServiceInput) (*service, error) {
	s, err := f.findService(region, in.Cluster, in.Service)
	if err != nil {
		return nil, err
	}
	if s.status != serviceActive {
		return nil, errServiceNotActive
	}
	if in.DesiredCount != nil {
		if err := f.checkTaskLimit(s, *in.DesiredCount); err != nil {
			return nil, err
		}
	}
	return s, nil
}
