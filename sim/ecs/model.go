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
	in                createClusterInput
	services          map[string]*service // by name
	tasks             map[string]*task    // by task id
}

// family holds the revisions of a task definition family; revision n is
// revisions[n-1].
type family struct {
	revisions []*taskDef
}

type taskDef struct {
	arn        string
	family     string
	revision   int
	containers []containerDefinition
	// out is the taskDefinition member of DescribeTaskDefinition.
	out object
}

type service struct {
	arn, name string
	cluster   *cluster
	status    string
	createdAt time.Time
	in        createServiceInput // echoed members

	desiredCount         int
	config               object // deploymentConfiguration, defaults filled in
	parsed               deploymentConfig
	registries           []serviceRegistry
	networkConfiguration json.RawMessage
	serviceConnect       json.RawMessage

	deployments []*deployment  // deployments[0] is the PRIMARY one
	lastGood    *deployment    // the last deployment that completed
	events      []serviceEvent // newest first
	steady      bool

	failStreak  int       // consecutive task failures
	launchAfter time.Time // no launches before, after failures
}

type deployment struct {
	id                   string
	status               string
	def                  *taskDef
	createdAt, updatedAt time.Time
	rolloutState         string
	rolloutStateReason   string
	failedTasks          int
	serviceConnect       json.RawMessage
	networkConfiguration json.RawMessage
}

type task struct {
	id, arn    string
	seq        uint64 // launch order
	cluster    *cluster
	service    *service
	deployment *deployment
	def        *taskDef
	spec       TaskSpec
	grace      time.Duration
	// registrations are made when the task is RUNNING and healthy;
	// registered counts those made.
	registrations []registration
	registered    int

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
func newDeploymentID() string {
	b := make([]byte, 19)
	_, _ = rand.Read(b)
	d := make([]byte, 19)
	for i, v := range b {
		d[i] = '0' + v%10
	}
	d[0] = '1' + b[0]%9
	return "ecs-svc/" + string(d)
}
