package ecs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/meshsim/meshsim/sim/contract"
)

// runTask takes task t through its lifecycle, as the ECS agent does on the
// fake's behalf: PROVISIONING, PENDING while the runtime starts it,
// ACTIVATING until its essential containers are healthy and it is
// registered in Cloud Map, RUNNING; then, once it is to stop, DEACTIVATING
// (deregistered first), STOPPING (the runtime stops its containers),
// DEPROVISIONING and STOPPED.
func (f *Fake) runTask(t *task) {
	defer f.taskGroup.Done()
	if f.provision(t) && f.start(t) {
		if f.activate(t) {
			f.waitForStop(t)
		}
		f.deactivate(t)
	}
	f.finish(t)
}

// provision waits out ProvisionDelay; it reports whether the task is still
// to run.
func (f *Fake) provision(t *task) bool {
	if d := f.opts.ProvisionDelay; d > 0 {
		timer := f.opts.Clock.NewTimer(d)
		defer timer.Stop()
	wait:
		for {
			select {
			case <-timer.C():
				break wait
			case <-t.wake:
				if f.stopRequested(t) {
					return false
				}
			}
		}
	}
	return !f.stopRequested(t)
}

// start asks the runtime to start the task's containers; it reports
// whether they started.
func (f *Fake) start(t *task) bool {
	f.mu.Lock()
	if t.desiredStatus == statusStopped {
		f.mu.Unlock()
		return false
	}
	f.setStatus(t, statusPending)
	t.pullStartedAt = f.now()
	ctx, cancel := context.WithCancel(f.ctx)
	defer cancel()
	t.cancelStart = cancel
	f.mu.Unlock()

	var started Started
	err := errors.New("CannotStartContainerError: meshsim's ECS has no task runtime")
	if f.opts.Runtime != nil {
		started, err = f.opts.Runtime.Start(ctx, t.spec, func(r TaskReport) { f.report(t, r) })
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	t.cancelStart = nil
	t.pullStoppedAt = f.now()
	if err != nil {
		if t.desiredStatus == statusRunning {
			for _, c := range t.containers {
				c.reason = err.Error()
			}
			f.failTask(t, err.Error(), stopCodeFailedToStart, true)
		}
		return false
	}
	t.ip = started.IP
	t.connectivityAt = f.now()
	for _, c := range t.containers {
		if c.lastStatus == statusPending {
			c.lastStatus = statusRunning
		}
	}
	if t.desiredStatus == statusRunning {
		f.setStatus(t, statusActivating)
	}
	return true
}

// activate waits for the task's essential containers to be healthy, then
// registers the task in Cloud Map and makes it RUNNING. It reports whether
// the task became RUNNING.
func (f *Fake) activate(t *task) bool {
	for {
		f.mu.Lock()
		f.check(t)
		stop := t.desiredStatus == statusStopped
		ready := t.health == HealthHealthy || !t.healthChecked()
		f.mu.Unlock()
		if stop {
			return false
		}
		if ready {
			break
		}
		<-t.wake
	}

	for i, r := range t.registrations {
		f.mu.Lock()
		stop := t.desiredStatus == statusStopped
		attrs := f.instanceAttributes(t, r)
		t.registered = i + 1 // deregistered on stop even if registering fails halfway
		f.mu.Unlock()
		if stop {
			return false
		}
		if err := f.opts.Registry.RegisterInstance(f.ctx, r.serviceID, t.id, attrs); err != nil {
			f.mu.Lock()
			f.failTask(t, fmt.Sprintf("ResourceInitializationError: failed to register the task in Cloud Map service %s: %v", r.serviceID, err), stopCodeFailedToStart, true)
			f.mu.Unlock()
			return false
		}
	}

	if !f.registerTargets(t) {
		return false
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	if t.desiredStatus == statusStopped {
		return false
	}
	t.startedAt = f.now()
	f.setStatus(t, statusRunning)
	if s := t.service; s != nil {
		s.failStreak, s.launchAfter = 0, time.Time{}
		if cb := s.parsed.DeploymentCircuitBreaker; cb == nil || cb.ResetOnHealthyTask == nil || *cb.ResetOnHealthyTask {
			t.deployment.failedTasks = 0
		}
		f.settle(s, t.startedAt)
	}
	return true
}

// waitForStop waits until the task is to stop, stopping it when an
// essential container exits or it turns unhealthy.
func (f *Fake) waitForStop(t *task) {
	for {
		f.mu.Lock()
		f.check(t)
		stop := t.desiredStatus == statusStopped
		f.mu.Unlock()
		if stop {
			return
		}
		<-t.wake
	}
}

// deactivate stops a started task: deregistered from Cloud Map first, then
// its containers stopped by the runtime.
func (f *Fake) deactivate(t *task) {
	f.mu.Lock()
	if t.lastStatus == statusActivating || t.lastStatus == statusRunning {
		f.setStatus(t, statusDeactivating)
	}
	registered := t.registrations[:t.registered]
	f.mu.Unlock()

	for _, r := range registered {
		if err := f.opts.Registry.DeregisterInstance(f.ctx, r.serviceID, t.id); err != nil {
			f.taskError(t, "deregister", err)
		}
	}
	drain := f.deregisterTargets(t) // the target groups' deregistration delay
	if len(registered) > 0 {
		drain = max(drain, f.scaled(f.opts.DeregistrationDelay))
	}
	if drain > 0 {
		timer := f.opts.Clock.NewTimer(drain)
		<-timer.C()
	}

	f.mu.Lock()
	f.setStatus(t, statusStopping)
	f.mu.Unlock()
	if err := f.opts.Runtime.Stop(f.ctx, t.id, t.grace); err != nil {
		f.taskError(t, "stop", err)
	}
	f.mu.Lock()
	t.executionStoppedAt = f.now()
	f.setStatus(t, statusDeprovisioning)
	f.mu.Unlock()
}

// finish makes the task STOPPED.
func (f *Fake) finish(t *task) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t.desiredStatus != statusStopped {
		f.requestStop(t, "Task stopped", stopCodeScheduler)
	}
	if t.lastStatus != statusDeprovisioning {
		f.setStatus(t, statusDeprovisioning)
	}
	for _, c := range t.containers {
		c.lastStatus = statusStopped
	}
	t.stoppedAt = f.now()
	f.setStatus(t, statusStopped)
	f.stoppedTasks.push(t)
	if s := t.service; s != nil {
		if i := slices.Index(s.live, t); i >= 0 {
			s.live = slices.Delete(s.live, i, i+1)
		}
		if s.status != serviceInactive {
			f.settle(s, t.stoppedAt)
			f.kick(s)
		}
	}
}

// stopRequested reports whether the task is to stop.
func (f *Fake) stopRequested(t *task) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return t.desiredStatus == statusStopped
}

// report records what the runtime reports about a container of t.
func (f *Fake) report(t *task, r TaskReport) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !t.alive() {
		return
	}
	for _, c := range t.containers {
		if c.name != r.Container {
			continue
		}
		if r.Health != "" && r.Health != c.health {
			c.health = r.Health
			t.version++
		}
		if r.Exit != nil {
			code := r.Exit.Code
			c.exitCode = &code
			c.reason = r.Exit.Reason
			c.lastStatus = statusStopped
			t.version++
		}
	}
	t.notify()
}

// check decides on what the runtime reported: a task whose essential
// container exited, or whose essential containers' health checks failed,
// is stopped (and replaced by the scheduler). Callers hold f.mu.
func (f *Fake) check(t *task) {
	if t.desiredStatus == statusStopped {
		return
	}
	for _, c := range t.containers {
		if c.essential && c.lastStatus == statusStopped {
			f.failTask(t, reasonEssentialExited, stopCodeEssentialExited, t.lastStatus != statusRunning)
			return
		}
	}
	health := HealthUnknown
	if t.healthChecked() {
		health = HealthHealthy
		for _, c := range t.containers {
			if !c.essential || !c.hasHealthCheck {
				continue
			}
			switch c.health {
			case HealthUnhealthy:
				health = HealthUnhealthy
			case HealthUnknown:
				if health == HealthHealthy {
					health = HealthUnknown
				}
			}
		}
	}
	if health != t.health {
		t.health = health
		t.version++
	}
	if health == HealthUnhealthy {
		if s := t.service; s != nil {
			f.serviceEvent(s, fmt.Sprintf("(service %s) (task %s) failed container health checks.", s.name, t.id))
		}
		f.failTask(t, reasonFailedHealthChecks, stopCodeScheduler, true)
	}
}

// healthChecked reports whether an essential container of t has a health
// check, so that t is healthy only once they pass.
func (t *task) healthChecked() bool {
	for _, c := range t.containers {
		if c.essential && c.hasHealthCheck {
			return true
		}
	}
	return false
}

// requestStop sets the task's desired status to STOPPED; its goroutine
// stops it. A RUNNING or ACTIVATING task is DEACTIVATING at once, so that
// it no longer counts as running. Callers hold f.mu.
func (f *Fake) requestStop(t *task, reason, code string) {
	if t.desiredStatus == statusStopped || !t.alive() {
		return
	}
	t.desiredStatus = statusStopped
	t.stoppedReason, t.stopCode = reason, code
	t.stoppingAt = f.now()
	t.version++
	if t.lastStatus == statusRunning || t.lastStatus == statusActivating {
		f.setStatus(t, statusDeactivating)
	}
	if t.cancelStart != nil {
		t.cancelStart()
	}
	t.notify()
	if t.service != nil {
		f.kick(t.service)
	}
}

// failTask stops t for reason. The service waits before it launches again
// (longer after each consecutive failure); a failure that counts (the task
// never got RUNNING, or failed its health checks) adds to the deployment's
// failedTasks and may trip its circuit breaker. Callers hold f.mu.
func (f *Fake) failTask(t *task, reason, code string, counts bool) {
	if t.desiredStatus == statusStopped {
		return
	}
	f.requestStop(t, reason, code)
	s := t.service
	if s == nil {
		return
	}
	now := f.now()
	s.failStreak++
	s.launchAfter = now.Add(f.opts.RestartBackoff << min(s.failStreak-1, 5))
	if !counts {
		return
	}
	d := t.deployment
	d.failedTasks++
	d.updatedAt = now
	// A traffic-shifting deployment watches its tasks until it cleans up.
	watching := s.current == nil || !s.current.shift || s.current.breaker == monitorMonitoring
	cb := s.parsed.DeploymentCircuitBreaker
	if cb != nil && cb.Enable && watching && len(s.deployments) > 0 && d == s.deployments[0] && d.rolloutState == rolloutInProgress &&
		d.failedTasks >= cb.threshold(s.desiredCount) {
		f.failDeployment(s, d, reasonCircuitBreakerStart, "tasks failed to start.", true, cb.Rollback)
	}
}

// setStatus moves t to lastStatus to and sends a contract.EventTaskState event.
// Callers hold f.mu.
func (f *Fake) setStatus(t *task, to string) {
	from := t.lastStatus
	t.lastStatus = to
	t.version++
	if t.deployment != nil {
		t.deployment.updatedAt = f.now()
	}
	detail := map[string]string{
		"from":           from,
		"to":             to,
		"cluster":        t.cluster.name,
		"taskDefinition": t.def.arn,
		"ip":             t.ip,
	}
	if t.service != nil {
		detail["service"] = t.service.name
		detail["deployment"] = t.deployment.id
	}
	if to == statusStopped {
		detail["stoppedReason"] = t.stoppedReason
	}
	f.emit(contract.EventTaskState, t.arn, detail)
}

// taskError sends a contract.EventTaskError event: a step of stopping a task that
// failed without stopping the lifecycle.
func (f *Fake) taskError(t *task, step string, err error) {
	f.emit(contract.EventTaskError, t.arn, map[string]string{"step": step, "error": err.Error(), "cluster": t.cluster.name})
}

// instanceAttributes returns the Cloud Map attributes ECS registers a task
// with. Callers hold f.mu.
func (f *Fake) instanceAttributes(t *task, r registration) map[string]string {
	region := t.cluster.region
	attrs := map[string]string{
		"AWS_INSTANCE_IPV4":          t.ip,
		"AVAILABILITY_ZONE":          region + "a",
		"REGION":                     region,
		"ECS_CLUSTER_NAME":           t.cluster.name,
		"ECS_TASK_DEFINITION_FAMILY": t.def.family,
	}
	if t.service != nil {
		attrs["ECS_SERVICE_NAME"] = t.service.name
		attrs[AttrDeploymentID] = t.deployment.id
	}
	attrs[AttrTaskDefinitionARN] = t.def.arn
	if r.port > 0 {
		attrs["AWS_INSTANCE_PORT"] = strconv.Itoa(r.port)
	}
	return attrs
}
