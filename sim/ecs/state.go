package ecs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Statuses, as the ECS API spells them.
const (
	clusterActive   = "ACTIVE"
	clusterInactive = "INACTIVE"

	taskDefActive   = "ACTIVE"
	taskDefInactive = "INACTIVE"

	serviceActive   = "ACTIVE"
	serviceDraining = "DRAINING"
	serviceInactive = "INACTIVE"

	deploymentPrimary  = "PRIMARY"
	deploymentActive   = "ACTIVE"
	deploymentInactive = "INACTIVE"

	rolloutInProgress = "IN_PROGRESS"
	rolloutCompleted  = "COMPLETED"
	rolloutFailed     = "FAILED"

	statusProvisioning   = "PROVISIONING"
	statusPending        = "PENDING"
	statusActivating     = "ACTIVATING"
	statusRunning        = "RUNNING"
	statusDeactivating   = "DEACTIVATING"
	statusStopping       = "STOPPING"
	statusDeprovisioning = "DEPROVISIONING"
	statusStopped        = "STOPPED"

	// Service deployment statuses.
	sdPending            = "PENDING"
	sdInProgress         = "IN_PROGRESS"
	sdSuccessful         = "SUCCESSFUL"
	sdStopped            = "STOPPED"
	sdRollbackRequested  = "ROLLBACK_REQUESTED"
	sdRollbackInProgress = "ROLLBACK_IN_PROGRESS"
	sdRollbackSuccessful = "ROLLBACK_SUCCESSFUL"
	sdRollbackFailed     = "ROLLBACK_FAILED"

	// Circuit breaker (and alarm) monitor statuses of a service deployment.
	monitorDisabled   = "DISABLED"
	monitorMonitoring = "MONITORING"
	monitorComplete   = "MONITORING_COMPLETE"
	monitorTriggered  = "TRIGGERED"

	stopCodeScheduler         = "ServiceSchedulerInitiated"
	stopCodeUser              = "UserInitiated"
	stopCodeFailedToStart     = "TaskFailedToStart"
	stopCodeEssentialExited   = "EssentialContainerExited"
	reasonEssentialExited     = "Essential container in task exited"
	reasonFailedHealthChecks  = "Task failed container health checks"
	reasonCircuitBreakerStart = "ECS deployment circuit breaker: tasks failed to start."
)

type cluster struct {
	arn, name, region string
	status            string
	in                createClusterInput // settings, configuration, capacity providers: as set
	tags              []tagKV
	services          map[string]*service           // by name
	tasks             map[string]*task              // by task id
	instances         map[string]*containerInstance // by container instance id
	instanceSeq       uint64                        // container instances registered so far
}

// family holds the revisions of a task definition family that have not
// been deleted, by revision number; last is the newest revision number
// ever registered.
type family struct {
	revisions map[int]*taskDef
	last      int
}

type taskDef struct {
	arn        string
	family     string
	revision   int
	status     string // ACTIVE or INACTIVE
	containers []containerDefinition
	// cpu and memory are the task size, as registered ("" when absent).
	cpu, memory string
	networkMode string // as registered; "" is ECS's default, bridge
	tags        []tagKV
	// out is the taskDefinition member of DescribeTaskDefinition.
	out object
}

type service struct {
	arn, name string
	cluster   *cluster
	status    string
	createdAt time.Time
	in        createServiceInput // echoed members
	tags      []tagKV
	// controller is the deployment controller: ECS, or EXTERNAL and
	// CODE_DEPLOY, whose services run task sets instead of deployments.
	controller string
	// taskSets are the task sets of an EXTERNAL or CODE_DEPLOY service,
	// the PRIMARY one first; deployments is empty for such a service.
	taskSets []*taskSet

	desiredCount         int
	config               object // deploymentConfiguration, defaults filled in
	parsed               deploymentConfig
	registries           []serviceRegistry
	networkConfiguration json.RawMessage
	serviceConnect       json.RawMessage
	// connect is serviceConnect resolved: nil when Service Connect is off.
	connect *ServiceConnect
	// lb is the service's loadBalancers; nil without any.
	lb *loadBalancing

	deployments []*deployment  // deployments[0] is the PRIMARY one
	lastGood    *deployment    // the last deployment that completed
	events      []serviceEvent // newest first
	steady      bool
	// current is the newest service deployment (currentServiceDeployment);
	// history holds them all, oldest first.
	current *serviceDeployment
	history []*serviceDeployment

	failStreak  int       // consecutive task failures
	launchAfter time.Time // no launches before, after failures
	// launchTokens are the launches the service may make now; they refill
	// at TaskLaunchRate from tokensAt on.
	launchTokens float64
	tokensAt     time.Time

	// live are the tasks of the service that have not stopped, in launch
	// order; tasks are all its tasks the fake remembers, by task id.
	live  []*task
	tasks map[string]*task
	// traffic is the service's traffic split as the watchers last saw it;
	// nil when the service is INACTIVE.
	traffic *ServiceTraffic
	// inactiveAt is when the service became INACTIVE.
	inactiveAt time.Time
}

// deployment is an entry of a service's deployments[]: the tasks of one
// service revision that the scheduler runs.
type deployment struct {
	id                   string
	status               string
	def                  *taskDef
	revision             *serviceRevision
	createdAt, updatedAt time.Time
	rolloutState         string
	rolloutStateReason   string
	failedTasks          int
	// desired is the number of tasks a traffic-shifting deployment asks of
	// this deployment (requestedTaskCount); rolling deployments compute it.
	desired int
	// production and test are the traffic weights (percent) a
	// traffic-shifting deployment gives this deployment.
	production, test float64
}

// serviceRevision is a service revision: the configuration a deployment
// runs (task definition, network, discovery, Service Connect). Rolling back
// deploys an earlier revision again.
type serviceRevision struct {
	arn                  string
	service              *service
	def                  *taskDef
	createdAt            time.Time
	serviceConnect       json.RawMessage // as given, echoed
	connect              *ServiceConnect // resolved, nil when off
	networkConfiguration json.RawMessage
	registries           []serviceRegistry
}

// serviceDeployment is a service deployment as DescribeServiceDeployments
// shows it: the move of a service from its source revisions to a target
// revision under one deployment configuration.
type serviceDeployment struct {
	arn     string
	service *service
	config  object
	parsed  deploymentConfig
	// shift is true for BLUE_GREEN, LINEAR and CANARY deployments that have
	// a source to shift traffic from; the others roll.
	shift  bool
	source []*deployment
	target *deployment
	// base are the source deployments' production weights when the
	// deployment started: what a rollback restores.
	base map[*deployment]float64

	status, statusReason, stage                            string
	createdAt, startedAt, updatedAt, finishedAt, stoppedAt time.Time
	hooks                                                  []*hookRun
	rollback                                               *rollbackInfo
	breaker                                                string // monitor status
	alarms                                                 string // monitor status of the alarms
	alarmsTriggered                                        []string
	alarmsIgnored                                          map[string]bool // in ALARM when the deployment started
	breakerFailures                                        int             // failures when it tripped
	rollbackReason                                         string          // set when a rollback is requested
	rollbackEvent                                          string          // the service event's "deployment failed: " text
	wake                                                   chan struct{}
}

type rollbackInfo struct {
	reason    string
	startedAt time.Time
	to        *deployment
}

// notify wakes the goroutine that runs the service deployment.
func (sd *serviceDeployment) notify() {
	select {
	case sd.wake <- struct{}{}:
	default:
	}
}

// active reports whether the service deployment has not ended.
func (sd *serviceDeployment) active() bool {
	switch sd.status {
	case sdPending, sdInProgress, sdRollbackRequested, sdRollbackInProgress:
		return true
	}
	return false
}

// shifting reports whether sd is a traffic-shifting deployment that still
// decides how many tasks each deployment runs.
func (sd *serviceDeployment) shifting() bool {
	return sd != nil && sd.shift && sd.active() && sd.service.status == serviceActive
}

type task struct {
	id, arn    string
	seq        uint64 // launch order
	cluster    *cluster
	service    *service
	deployment *deployment // nil for a task RunTask or StartTask started
	def        *taskDef
	// startedBy and group are as ECS reports them: the deployment (or task
	// set) id and "service:NAME" for a service's tasks, what RunTask was
	// given (group "family:FAMILY" by default) for the others.
	startedBy, group string
	launchType       string
	platformVersion  string
	// overrides is the task's overrides as given (containerOverrides, cpu,
	// memory…); cpu and memory the task size after them.
	overrides   json.RawMessage
	cpu, memory string
	tags        []tagKV
	// instance is the container instance of an EC2 task StartTask placed.
	instance       *containerInstance
	capacityName   string // capacity provider of the task, if any
	execute        bool   // enableExecuteCommand
	protected      bool   // task scale-in protection
	protectedUntil time.Time
	spec           TaskSpec
	grace          time.Duration
	// registrations are made when the task is RUNNING and healthy;
	// registered counts those made.
	registrations []registration
	// targets are the task's load balancer targets, registered (when
	// targetsRegistered) once its registrations are made.
	targets           []lbTarget
	targetsRegistered bool
	registered        int

	lastStatus    string
	desiredStatus string
	health        HealthStatus
	ip            string
	containers    []*containerState
	version       int64
	stopCode      string
	stoppedReason string
	attachmentID  string
	eniID         string
	subnetID      string

	createdAt, pullStartedAt, pullStoppedAt, startedAt time.Time
	stoppingAt, stoppedAt, executionStoppedAt          time.Time
	connectivityAt                                     time.Time

	wake        chan struct{} // the task's goroutine has something to look at
	cancelStart context.CancelFunc
}

type containerState struct {
	arn, name, image string
	essential        bool
	hasHealthCheck   bool
	lastStatus       string
	health           HealthStatus
	exitCode         *int
	reason           string
}

type registration struct {
	serviceID string
	port      int
}

// notify wakes the task's goroutine.
func (t *task) notify() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// alive reports whether the task has not reached STOPPED.
func (t *task) alive() bool { return t.lastStatus != statusStopped }

// pending reports whether the task counts as pending, as pendingCount does.
func (t *task) pending() bool {
	switch t.lastStatus {
	case statusProvisioning, statusPending, statusActivating:
		return true
	}
	return false
}

// randomHex returns n random hex digits.
func randomHex(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)[:n]
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return fmt.Sprintf("%s-%s-%s-%s-%s", h[:8], h[8:12], h[12:16], h[16:20], h[20:])
}

// newDeploymentID returns an ECS deployment id: "ecs-svc/" and 19 digits.
func newDeploymentID() string { return "ecs-svc/" + randomDigits(19) }

// randomDigits returns n random decimal digits, the first not 0.
func randomDigits(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	d := make([]byte, n)
	for i, v := range b {
		d[i] = '0' + v%10
	}
	d[0] = '1' + b[0]%9
	return string(d)
}

// randomToken returns n random characters of the URL-safe base64 alphabet,
// as the ids of service deployment ARNs are made of.
func randomToken(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i, v := range b {
		b[i] = alphabet[v%64]
	}
	return string(b)
}

// launchType returns the launch type of the service's tasks: the one it
// was created with, FARGATE by default.
func (s *service) launchType() string {
	if s.in.LaunchType != "" {
		return s.in.LaunchType
	}
	return "FARGATE"
}

// taskDefinitionARN returns the task definition the service runs: its
// primary deployment's, or its primary task set's ("" when it has none).
func (s *service) taskDefinitionARN() string {
	switch {
	case len(s.deployments) > 0:
		return s.deployments[0].def.arn
	case len(s.taskSets) > 0 && s.taskSets[0].status == taskSetPrimary:
		return s.taskSets[0].d.def.arn
	}
	return ""
}
