package ecs

import (
	"encoding/json"
	"maps"
	"strconv"
	"time"
)

// This file holds the JSON shapes of the ECS API (member names as in the
// botocore model, camelCase). Members the fake does not act on are kept as
// raw JSON and echoed, so that clients see back what they sent.

// timestamp is a time in the JSON 1.1 form: epoch seconds, as a number.
type timestamp time.Time

// IsZero reports whether t is unset, for the omitzero JSON option.
func (t timestamp) IsZero() bool { return time.Time(t).IsZero() }

// MarshalJSON writes t as epoch seconds with millisecond precision.
func (t timestamp) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, float64(time.Time(t).UnixMilli())/1000, 'f', -1, 64), nil
}

// object is a JSON object whose members are kept raw.
type object map[string]json.RawMessage

// set stores v, marshalled, as member k.
func (o object) set(k string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only values built by this package are set; they always marshal.
		b = []byte("null")
	}
	o[k] = b
}

// setDefault stores v as member k unless k is present and not null.
func (o object) setDefault(k string, v any) {
	if raw, ok := o[k]; !ok || string(raw) == "null" {
		o.set(k, v)
	}
}

// merged returns a copy of o with the members of u laid over it.
func (o object) merged(u object) object {
	m := maps.Clone(o)
	if m == nil {
		m = object{}
	}
	maps.Copy(m, u)
	return m
}

type keyValuePair struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type failure struct {
	Arn    string `json:"arn,omitempty"`
	Reason string `json:"reason"`
	Detail string `json:"detail,omitempty"`
}

// Clusters.

type createClusterInput struct {
	ClusterName                     string          `json:"clusterName"`
	Tags                            json.RawMessage `json:"tags"`
	Settings                        json.RawMessage `json:"settings"`
	Configuration                   json.RawMessage `json:"configuration"`
	CapacityProviders               json.RawMessage `json:"capacityProviders"`
	DefaultCapacityProviderStrategy json.RawMessage `json:"defaultCapacityProviderStrategy"`
	ServiceConnectDefaults          json.RawMessage `json:"serviceConnectDefaults"`
}

type clusterOutput struct {
	ClusterArn                        string          `json:"clusterArn"`
	ClusterName                       string          `json:"clusterName"`
	Status                            string          `json:"status"`
	RegisteredContainerInstancesCount int             `json:"registeredContainerInstancesCount"`
	RunningTasksCount                 int             `json:"runningTasksCount"`
	PendingTasksCount                 int             `json:"pendingTasksCount"`
	ActiveServicesCount               int             `json:"activeServicesCount"`
	Statistics                        []keyValuePair  `json:"statistics"`
	Tags                              []tagKV         `json:"tags,omitzero"`
	Settings                          json.RawMessage `json:"settings,omitempty"`
	Configuration                     json.RawMessage `json:"configuration,omitempty"`
	CapacityProviders                 json.RawMessage `json:"capacityProviders"`
	DefaultCapacityProviderStrategy   json.RawMessage `json:"defaultCapacityProviderStrategy"`
	ServiceConnectDefaults            json.RawMessage `json:"serviceConnectDefaults,omitempty"`
}

type describeClustersInput struct {
	Clusters []string `json:"clusters"`
	Include  []string `json:"include"`
}

type listInput struct {
	Cluster    string `json:"cluster"`
	NextToken  string `json:"nextToken"`
	MaxResults *int   `json:"maxResults"`
}

type clusterRefInput struct {
	Cluster string `json:"cluster"`
}

// Task definitions.

type registerTaskDefinitionInput struct {
	raw                  object
	Family               string                `json:"family"`
	NetworkMode          string                `json:"networkMode"`
	ContainerDefinitions []containerDefinition `json:"containerDefinitions"`
}

// UnmarshalJSON keeps the raw members for echoing besides the ones parsed.
func (in *registerTaskDefinitionInput) UnmarshalJSON(b []byte) error {
	type fields registerTaskDefinitionInput // without this method
	var f fields
	err := unmarshalKeepingRaw(b, &f, &f.raw)
	*in = registerTaskDefinitionInput(f)
	return err
}

// unmarshalKeepingRaw decodes b into the parsed fields and, for echoing
// what a client sent, into raw.
func unmarshalKeepingRaw(b []byte, fields any, raw *object) error {
	if err := json.Unmarshal(b, fields); err != nil {
		return err
	}
	return json.Unmarshal(b, raw)
}

type containerDefinition struct {
	raw          object
	Name         string         `json:"name"`
	Image        string         `json:"image"`
	Essential    *bool          `json:"essential"`
	PortMappings []portMapping  `json:"portMappings"`
	Environment  []keyValuePair `json:"environment"`
	HealthCheck  *healthCheck   `json:"healthCheck"`
	StopTimeout  *int           `json:"stopTimeout"`
	// EntryPoint, Command, WorkingDirectory and User say how the
	// container's process is started, as docker run takes them.
	EntryPoint       []string `json:"entryPoint"`
	Command          []string `json:"command"`
	WorkingDirectory string   `json:"workingDirectory"`
	User             string   `json:"user"`
}

// UnmarshalJSON keeps the raw members for echoing besides the ones parsed.
func (c *containerDefinition) UnmarshalJSON(b []byte) error {
	type fields containerDefinition // without this method
	var f fields
	err := unmarshalKeepingRaw(b, &f, &f.raw)
	*c = containerDefinition(f)
	return err
}

// essential reports whether the container is essential (the default).
func (c *containerDefinition) essential() bool { return c.Essential == nil || *c.Essential }

// MarshalJSON echoes the container definition as ECS describes it: what was
// registered, with the defaults ECS fills in.
func (c containerDefinition) MarshalJSON() ([]byte, error) {
	o := maps.Clone(c.raw)
	if o == nil {
		o = object{}
	}
	o.set("essential", c.essential())
	ports := make([]portMapping, len(c.PortMappings))
	for i, p := range c.PortMappings {
		if p.Protocol == "" {
			p.Protocol = "tcp"
		}
		if p.HostPort == nil && p.ContainerPort != nil {
			p.HostPort = p.ContainerPort
		}
		ports[i] = p
	}
	o.set("portMappings", ports)
	o.setDefault("environment", []keyValuePair{})
	o.setDefault("mountPoints", []any{})
	o.setDefault("volumesFrom", []any{})
	o.setDefault("cpu", 0)
	if c.HealthCheck != nil {
		o.set("healthCheck", c.HealthCheck.withDefaults())
	}
	return json.Marshal(map[string]json.RawMessage(o))
}

type portMapping struct {
	ContainerPort      *int   `json:"containerPort,omitempty"`
	HostPort           *int   `json:"hostPort,omitempty"`
	Protocol           string `json:"protocol,omitempty"`
	Name               string `json:"name,omitempty"`
	AppProtocol        string `json:"appProtocol,omitempty"`
	ContainerPortRange string `json:"containerPortRange,omitempty"`
}

type healthCheck struct {
	Command     []string `json:"command"`
	Interval    *int     `json:"interval,omitempty"`
	Timeout     *int     `json:"timeout,omitempty"`
	Retries     *int     `json:"retries,omitempty"`
	StartPeriod *int     `json:"startPeriod,omitempty"`
}

// withDefaults fills in ECS's health check defaults: interval 30 s,
// timeout 5 s, 3 retries, no start period.
func (h healthCheck) withDefaults() healthCheck {
	def := func(p *int, v int) *int {
		if p != nil {
			return p
		}
		return &v
	}
	h.Interval = def(h.Interval, 30)
	h.Timeout = def(h.Timeout, 5)
	h.Retries = def(h.Retries, 3)
	h.StartPeriod = def(h.StartPeriod, 0)
	return h
}

type describeTaskDefinitionInput struct {
	TaskDefinition string   `json:"taskDefinition"`
	Include        []string `json:"include"`
}

// Services.

type createServiceInput struct {
	Cluster                       string                `json:"cluster"`
	ServiceName                   string                `json:"serviceName"`
	TaskDefinition                string                `json:"taskDefinition"`
	DesiredCount                  *int                  `json:"desiredCount"`
	DeploymentConfiguration       object                `json:"deploymentConfiguration"`
	DeploymentController          *deploymentController `json:"deploymentController"`
	SchedulingStrategy            string                `json:"schedulingStrategy"`
	ServiceRegistries             []serviceRegistry     `json:"serviceRegistries"`
	NetworkConfiguration          json.RawMessage       `json:"networkConfiguration"`
	ServiceConnectConfiguration   json.RawMessage       `json:"serviceConnectConfiguration"`
	LaunchType                    string                `json:"launchType"`
	PlatformVersion               string                `json:"platformVersion"`
	LoadBalancers                 json.RawMessage       `json:"loadBalancers"`
	CapacityProviderStrategy      json.RawMessage       `json:"capacityProviderStrategy"`
	PlacementConstraints          json.RawMessage       `json:"placementConstraints"`
	PlacementStrategy             json.RawMessage       `json:"placementStrategy"`
	HealthCheckGracePeriodSeconds *int                  `json:"healthCheckGracePeriodSeconds"`
	EnableECSManagedTags          bool                  `json:"enableECSManagedTags"`
	PropagateTags                 string                `json:"propagateTags"`
	EnableExecuteCommand          bool                  `json:"enableExecuteCommand"`
	Tags                          json.RawMessage       `json:"tags"`
}

type updateServiceInput struct {
	Cluster                       string            `json:"cluster"`
	Service                       string            `json:"service"`
	DesiredCount                  *int              `json:"desiredCount"`
	TaskDefinition                string            `json:"taskDefinition"`
	DeploymentConfiguration       object            `json:"deploymentConfiguration"`
	ForceNewDeployment            bool              `json:"forceNewDeployment"`
	ServiceRegistries             []serviceRegistry `json:"serviceRegistries"`
	NetworkConfiguration          json.RawMessage   `json:"networkConfiguration"`
	ServiceConnectConfiguration   json.RawMessage   `json:"serviceConnectConfiguration"`
	HealthCheckGracePeriodSeconds *int              `json:"healthCheckGracePeriodSeconds"`
}

type deleteServiceInput struct {
	Cluster string `json:"cluster"`
	Service string `json:"service"`
	Force   bool   `json:"force"`
}

type describeServicesInput struct {
	Cluster  string   `json:"cluster"`
	Services []string `json:"services"`
	Include  []string `json:"include"`
}

type deploymentController struct {
	Type string `json:"type"`
}

type serviceRegistry struct {
	RegistryArn   string `json:"registryArn,omitempty"`
	Port          *int   `json:"port,omitempty"`
	ContainerName string `json:"containerName,omitempty"`
	ContainerPort *int   `json:"containerPort,omitempty"`
}

type serviceOutput struct {
	ServiceArn                    string               `json:"serviceArn"`
	ServiceName                   string               `json:"serviceName"`
	ClusterArn                    string               `json:"clusterArn"`
	Status                        string               `json:"status"`
	DesiredCount                  int                  `json:"desiredCount"`
	RunningCount                  int                  `json:"runningCount"`
	PendingCount                  int                  `json:"pendingCount"`
	TaskDefinition                string               `json:"taskDefinition,omitempty"`
	LaunchType                    string               `json:"launchType,omitempty"`
	PlatformVersion               string               `json:"platformVersion,omitempty"`
	DeploymentConfiguration       object               `json:"deploymentConfiguration"`
	DeploymentController          deploymentController `json:"deploymentController"`
	Deployments                   []deploymentOutput   `json:"deployments"`
	Events                        []serviceEvent       `json:"events"`
	CreatedAt                     timestamp            `json:"createdAt,omitzero"`
	CreatedBy                     string               `json:"createdBy"`
	SchedulingStrategy            string               `json:"schedulingStrategy"`
	LoadBalancers                 json.RawMessage      `json:"loadBalancers"`
	ServiceRegistries             []serviceRegistry    `json:"serviceRegistries"`
	NetworkConfiguration          json.RawMessage      `json:"networkConfiguration,omitempty"`
	CapacityProviderStrategy      json.RawMessage      `json:"capacityProviderStrategy,omitempty"`
	PlacementConstraints          json.RawMessage      `json:"placementConstraints"`
	PlacementStrategy             json.RawMessage      `json:"placementStrategy"`
	HealthCheckGracePeriodSeconds *int                 `json:"healthCheckGracePeriodSeconds,omitempty"`
	EnableECSManagedTags          bool                 `json:"enableECSManagedTags"`
	PropagateTags                 string               `json:"propagateTags"`
	EnableExecuteCommand          bool                 `json:"enableExecuteCommand"`
	Tags                          []tagKV              `json:"tags,omitzero"`
	TaskSets                      []map[string]any     `json:"taskSets,omitzero"`
	CurrentServiceDeployment      string               `json:"currentServiceDeployment,omitempty"`
	CurrentServiceRevisions       []currentRevision    `json:"currentServiceRevisions"`
}

type currentRevision struct {
	Arn                string `json:"arn"`
	RequestedTaskCount int    `json:"requestedTaskCount"`
	RunningTaskCount   int    `json:"runningTaskCount"`
	PendingTaskCount   int    `json:"pendingTaskCount"`
}

type deploymentOutput struct {
	ID                          string                   `json:"id"`
	Status                      string                   `json:"status"`
	TaskDefinition              string                   `json:"taskDefinition"`
	DesiredCount                int                      `json:"desiredCount"`
	PendingCount                int                      `json:"pendingCount"`
	RunningCount                int                      `json:"runningCount"`
	FailedTasks                 int                      `json:"failedTasks"`
	CreatedAt                   timestamp                `json:"createdAt,omitzero"`
	UpdatedAt                   timestamp                `json:"updatedAt,omitzero"`
	LaunchType                  string                   `json:"launchType,omitempty"`
	PlatformVersion             string                   `json:"platformVersion,omitempty"`
	NetworkConfiguration        json.RawMessage          `json:"networkConfiguration,omitempty"`
	RolloutState                string                   `json:"rolloutState"`
	RolloutStateReason          string                   `json:"rolloutStateReason,omitempty"`
	ServiceConnectConfiguration json.RawMessage          `json:"serviceConnectConfiguration,omitempty"`
	ServiceConnectResources     []serviceConnectResource `json:"serviceConnectResources,omitempty"`
}

type serviceEvent struct {
	ID        string    `json:"id"`
	CreatedAt timestamp `json:"createdAt"`
	Message   string    `json:"message"`
}

// Tasks.

type listTasksInput struct {
	Cluster           string `json:"cluster"`
	ServiceName       string `json:"serviceName"`
	Family            string `json:"family"`
	StartedBy         string `json:"startedBy"`
	ContainerInstance string `json:"containerInstance"`
	LaunchType        string `json:"launchType"`
	DesiredStatus     string `json:"desiredStatus"`
	NextToken         string `json:"nextToken"`
	MaxResults        *int   `json:"maxResults"`
}

type describeTasksInput struct {
	Cluster string   `json:"cluster"`
	Tasks   []string `json:"tasks"`
	Include []string `json:"include"`
}

type stopTaskInput struct {
	Cluster string `json:"cluster"`
	Task    string `json:"task"`
	Reason  string `json:"reason"`
}

type taskOutput struct {
	TaskArn            string             `json:"taskArn"`
	ClusterArn         string             `json:"clusterArn"`
	TaskDefinitionArn  string             `json:"taskDefinitionArn"`
	LastStatus         string             `json:"lastStatus"`
	DesiredStatus      string             `json:"desiredStatus"`
	HealthStatus       string             `json:"healthStatus"`
	LaunchType         string             `json:"launchType,omitempty"`
	PlatformVersion    string             `json:"platformVersion,omitempty"`
	AvailabilityZone   string             `json:"availabilityZone"`
	Connectivity       string             `json:"connectivity,omitempty"`
	ConnectivityAt     timestamp          `json:"connectivityAt,omitzero"`
	Containers         []containerOutput  `json:"containers"`
	Attachments        []attachmentOutput `json:"attachments"`
	CreatedAt          timestamp          `json:"createdAt,omitzero"`
	PullStartedAt      timestamp          `json:"pullStartedAt,omitzero"`
	PullStoppedAt      timestamp          `json:"pullStoppedAt,omitzero"`
	StartedAt          timestamp          `json:"startedAt,omitzero"`
	StoppingAt         timestamp          `json:"stoppingAt,omitzero"`
	StoppedAt          timestamp          `json:"stoppedAt,omitzero"`
	ExecutionStoppedAt timestamp          `json:"executionStoppedAt,omitzero"`
	StartedBy          string             `json:"startedBy,omitempty"`
	Group              string             `json:"group,omitempty"`
	StopCode           string             `json:"stopCode,omitempty"`
	StoppedReason      string             `json:"stoppedReason,omitempty"`
	Version            int64              `json:"version"`
	Overrides          json.RawMessage    `json:"overrides"`
	CPU                string             `json:"cpu,omitempty"`
	Memory             string             `json:"memory,omitempty"`
	ContainerInstance  string             `json:"containerInstanceArn,omitempty"`
	CapacityProvider   string             `json:"capacityProviderName,omitempty"`
	EnableExecute      bool               `json:"enableExecuteCommand"`
	Tags               []tagKV            `json:"tags,omitzero"`
}

type containerOutput struct {
	ContainerArn      string                   `json:"containerArn"`
	TaskArn           string                   `json:"taskArn"`
	Name              string                   `json:"name"`
	Image             string                   `json:"image"`
	LastStatus        string                   `json:"lastStatus"`
	ExitCode          *int                     `json:"exitCode,omitempty"`
	Reason            string                   `json:"reason,omitempty"`
	HealthStatus      string                   `json:"healthStatus"`
	NetworkBindings   []any                    `json:"networkBindings"`
	NetworkInterfaces []networkInterfaceOutput `json:"networkInterfaces"`
}

type networkInterfaceOutput struct {
	AttachmentID       string `json:"attachmentId"`
	PrivateIpv4Address string `json:"privateIpv4Address,omitempty"`
}

type attachmentOutput struct {
	ID      string         `json:"id"`
	Type    string         `json:"type"`
	Status  string         `json:"status"`
	Details []keyValuePair `json:"details"`
}

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

type serviceConnectResource struct {
	DiscoveryName string `json:"discoveryName"`
	DiscoveryArn  string `json:"discoveryArn"`
}

type deregisterTaskDefinitionInput struct {
	TaskDefinition string `json:"taskDefinition"`
}

type deleteTaskDefinitionsInput struct {
	TaskDefinitions []string `json:"taskDefinitions"`
}
