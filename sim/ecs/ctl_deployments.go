package ecs

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/meshsim/meshsim/sim/awsproto"
)

const (
	codeServiceDeploymentNotFound = "ServiceDeploymentNotFoundException"
	codeConflict                  = "ConflictException"
)

var errServiceDeploymentNotFound = awsproto.Errorf(http.StatusBadRequest, codeServiceDeploymentNotFound, "Service deployment not found.")

// conflict returns a ConflictException about resource.
func conflict(resource, format string, args ...any) error {
	return &awsproto.Error{Status: http.StatusBadRequest, Code: codeConflict,
		Message: fmt.Sprintf(format, args...), Extra: map[string]any{"resourceIds": []string{resource}}}
}

// newRevision makes a service revision of s running td with the service's
// current configuration. Callers hold f.mu.
func (f *Fake) newRevision(s *service, td *taskDef) *serviceRevision {
	rev := &serviceRevision{
		service:              s,
		arn:                  awsproto.ARN(s.cluster.region, "ecs", "service-revision/"+s.cluster.name+"/"+s.name+"/"+randomDigits(19)),
		def:                  td,
		createdAt:            f.now(),
		serviceConnect:       s.serviceConnect,
		connect:              s.connect,
		networkConfiguration: s.networkConfiguration,
		registries:           s.registries,
	}
	f.revisions[rev.arn] = rev
	return rev
}

// addDeployment makes a PRIMARY deployment of rev for s; the previous
// primary becomes ACTIVE. Callers hold f.mu.
func (f *Fake) addDeployment(s *service, rev *serviceRevision) *deployment {
	now := f.now()
	d := &deployment{
		id:           newDeploymentID(),
		status:       deploymentPrimary,
		def:          rev.def,
		revision:     rev,
		createdAt:    now,
		updatedAt:    now,
		rolloutState: rolloutInProgress,
	}
	if len(s.deployments) > 0 {
		old := s.deployments[0]
		old.status = deploymentActive
		old.updatedAt = now
		f.emitDeployment(s, old)
	}
	s.deployments = append([]*deployment{d}, s.deployments...)
	s.steady = false
	f.emitDeployment(s, d)
	return d
}

// deploy starts a service deployment that moves s to rev: a new PRIMARY
// deployment, rolled out by the scheduler (ROLLING, or any strategy when
// nothing runs yet) or by a goroutine that shifts traffic to it
// (BLUE_GREEN, LINEAR, CANARY). A service deployment still in progress is
// superseded. Callers hold f.mu.
func (f *Fake) deploy(s *service, rev *serviceRevision) {
	now := f.now()
	sources := slices.Clone(s.deployments)
	before := f.weights(s)
	if prev := s.current; prev != nil && prev.active() {
		f.endServiceDeployment(prev, sdStopped, "Superseded by a new service deployment.")
	}
	d := f.addDeployment(s, rev)
	sd := &serviceDeployment{
		arn:       awsproto.ARN(s.cluster.region, "ecs", "service-deployment/"+s.cluster.name+"/"+s.name+"/"+randomToken(20)),
		service:   s,
		config:    s.config,
		parsed:    s.parsed,
		shift:     s.parsed.shifts() && len(sources) > 0,
		source:    sources,
		target:    d,
		status:    sdInProgress,
		createdAt: now,
		startedAt: now,
		updatedAt: now,
		breaker:   monitorDisabled,
		wake:      make(chan struct{}, 1),
	}
	if cb := s.parsed.DeploymentCircuitBreaker; cb != nil && cb.Enable {
		sd.breaker = monitorMonitoring
	}
	f.watchAlarms(sd)
	s.lb.assignTargetGroups(d, sd.shift)
	s.current = sd
	s.history = append(s.history, sd)
	f.serviceDeployments[sd.arn] = sd
	f.emitServiceDeployment(sd)
	if !sd.shift {
		return
	}
	// The sources keep the share of production traffic they had, and the
	// tasks they are meant to run, until traffic moves.
	sd.base = map[*deployment]float64{}
	total := 0.0
	for _, src := range sources {
		total += before[src].production
	}
	live := map[*deployment]int{}
	for _, t := range f.serviceTasks(s) {
		if t.desiredStatus == statusRunning {
			live[t.deployment]++
		}
	}
	for _, src := range sources {
		w := before[src].production
		if total == 0 {
			w = 0
			if src == sources[0] {
				w = maxTrafficPercent
			}
		} else {
			w = w * maxTrafficPercent / total
		}
		sd.base[src] = w
		src.production, src.test, src.desired = w, w, live[src]
	}
	d.production, d.test, d.desired = 0, 0, 0
	if !f.closed {
		f.runners.Add(1)
		go f.runShift(sd)
	}
}

// setSDStatus sets the status of sd. Callers hold f.mu.
func (f *Fake) setSDStatus(sd *serviceDeployment, status, reason string) {
	sd.status, sd.statusReason = status, reason
	sd.updatedAt = f.now()
	f.emitServiceDeployment(sd)
}

// endServiceDeployment ends sd with status (SUCCESSFUL, STOPPED,
// ROLLBACK_SUCCESSFUL). Callers hold f.mu.
func (f *Fake) endServiceDeployment(sd *serviceDeployment, status, reason string) {
	now := f.now()
	if status == sdStopped {
		sd.stoppedAt = now
	} else {
		sd.finishedAt = now
	}
	if sd.breaker == monitorMonitoring {
		sd.breaker = monitorComplete
	}
	f.setSDStatus(sd, status, reason)
	sd.notify()
}

// emitServiceDeployment sends a "servicedeployment.state" event.
func (f *Fake) emitServiceDeployment(sd *serviceDeployment) {
	f.emit("servicedeployment.state", sd.arn, map[string]string{
		"service":        sd.service.name,
		"cluster":        sd.service.cluster.name,
		"status":         sd.status,
		"reason":         sd.statusReason,
		"stage":          sd.stage,
		"strategy":       sd.parsed.Strategy,
		"deployment":     sd.target.id,
		"taskDefinition": sd.target.def.arn,
	})
}

// trafficWeights are the production and test traffic weights (percent) of
// a deployment.
type trafficWeights struct{ production, test float64 }

// weights returns how traffic to s is split between its deployments: the
// weights of its traffic-shifting deployment, or else (rolling) each
// deployment's share of the running tasks. Callers hold f.mu.
func (f *Fake) weights(s *service) map[*deployment]trafficWeights {
	out := map[*deployment]trafficWeights{}
	if sd := s.current; sd != nil && sd.shift {
		for _, d := range s.deployments {
			out[d] = trafficWeights{d.production, d.test}
		}
		return out
	}
	running := map[*deployment]int{}
	total := 0
	for _, t := range f.serviceTasks(s) {
		if t.lastStatus == statusRunning {
			running[t.deployment]++
			total++
		}
	}
	for i, d := range s.deployments {
		w := 0.0
		switch {
		case total > 0:
			w = float64(running[d]) * maxTrafficPercent / float64(total)
		case i == 0:
			w = maxTrafficPercent
		}
		out[d] = trafficWeights{w, w}
	}
	return out
}

// requested returns the number of tasks s asks of deployment d
// (requestedTaskCount, a deployment's desiredCount). Callers hold f.mu.
func (f *Fake) requested(s *service, d *deployment) int {
	if s.current.shifting() {
		return d.desired
	}
	if len(s.deployments) > 0 && d == s.deployments[0] {
		return s.desiredCount
	}
	n := 0
	for _, t := range f.serviceTasks(s) {
		if t.deployment == d && t.desiredStatus == statusRunning {
			n++
		}
	}
	return n
}

// countTasks returns the number of tasks of deployment d of s whose last
// status is status. Callers hold f.mu.
func (f *Fake) countTasks(s *service, d *deployment, status string) int {
	n := 0
	for _, t := range f.serviceTasks(s) {
		if t.deployment == d && t.lastStatus == status {
			n++
		}
	}
	return n
}

// API operations.

// Outputs.
