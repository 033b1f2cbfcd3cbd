package ecs

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meshsim/meshsim/sim/contract"
)

// runShift runs a BLUE_GREEN, LINEAR or CANARY service deployment as ECS
// does: it scales the target (green) revision up to the full desired
// count beside the source (blue) revisions, shifts test traffic and then
// production traffic to it (all at once, in canary and rest, or in linear
// steps, with a bake after each step), bakes with both running, and
// scales the source down. At each lifecycle stage it runs the hooks
// configured for it. A failed hook, the circuit breaker or
// StopServiceDeployment rolls traffic back to the source and scales the
// target down.
func (f *Fake) runShift(sd *serviceDeployment) {
	defer f.runners.Done()
	if f.advance(sd) {
		return
	}
	f.mu.Lock()
	rollback := sd.rollbackReason != "" && sd.active()
	f.mu.Unlock()
	if rollback {
		f.rollBack(sd)
	}
}

// advance takes sd through its stages to the end; it reports false when it
// stopped before: a rollback was requested, the deployment ended otherwise
// (superseded, stopped by the circuit breaker), or the fake closed.
func (f *Fake) advance(sd *serviceDeployment) bool {
	return f.scaleUpAndTest(sd) && f.shiftProduction(sd) && f.cleanUp(sd)
}

// hooked enters stage, applying change, and runs the stage's lifecycle
// hooks; it reports false when the deployment is not to go on.
func (f *Fake) hooked(sd *serviceDeployment, stage string, change func()) bool {
	return f.enter(sd, stage, change) && f.runHooks(sd, stage)
}

// scaleUpAndTest takes sd from reconciling the running revisions through
// scaling up the new one to shifting test traffic to it.
func (f *Fake) scaleUpAndTest(sd *serviceDeployment) bool {
	s, green := sd.service, sd.target
	if len(sd.source) > 1 {
		// Reconcile the revisions the service runs: those that serve no
		// production traffic are no longer needed.
		if !f.hooked(sd, stageReconcile, func() {
			for _, d := range sd.source {
				if sd.base[d] == 0 {
					d.desired = 0
				}
			}
		}) {
			return false
		}
	}
	return f.hooked(sd, stagePreScaleUp, nil) &&
		f.enter(sd, stageScaleUp, func() { green.desired = s.desiredCount }) &&
		f.proceed(sd, -1, func() bool { return f.countTasks(s, green, statusRunning) >= green.desired }) &&
		f.hooked(sd, stagePostScaleUp, nil) &&
		f.hooked(sd, stageTestShift, func() { f.shift(sd, 0, maxTrafficPercent) }) &&
		f.hooked(sd, stagePostTestShift, nil)
}

// shiftProduction moves production traffic to the new revision in the
// strategy's steps, each baked, and bakes the end state.
func (f *Fake) shiftProduction(sd *serviceDeployment) bool {
	steps, stepBake := sd.parsed.steps()
	for i, w := range steps {
		if !f.hooked(sd, stagePreProdShift, nil) ||
			!f.hooked(sd, stageProdShift, func() { f.shift(sd, w, maxTrafficPercent) }) {
			return false
		}
		if i < len(steps)-1 && !f.proceed(sd, f.minutes(stepBake), nil) {
			return false
		}
	}
	return f.hooked(sd, stagePostProdShift, nil) &&
		f.enter(sd, stageBakeTime, nil) && f.proceed(sd, f.minutes(sd.parsed.bake()), nil)
}

// cleanUp retires the old revisions, waits for the service to run the new
// one only, and ends sd as successful.
func (f *Fake) cleanUp(sd *serviceDeployment) bool {
	s, green := sd.service, sd.target
	if !f.enter(sd, stageCleanUp, func() {
		// From here on the deployment cannot roll back.
		if sd.breaker == monitorMonitoring {
			sd.breaker = monitorComplete
		}
		for _, d := range sd.source {
			d.desired = 0
		}
	}) {
		return false
	}
	if !f.await(sd, -1, func() bool {
		return !sd.active() || green.rolloutState == rolloutCompleted && !slices.ContainsFunc(sd.source, func(d *deployment) bool {
			return slices.Contains(s.deployments, d)
		})
	}) {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if sd.active() {
		f.endServiceDeployment(sd, sdSuccessful, "")
	}
	return true
}

// enter moves sd to a lifecycle stage, applying change (with f.mu held)
// as it does; it reports false when the deployment is not to go on.
func (f *Fake) enter(sd *serviceDeployment, stage string, change func()) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if sd.halted() {
		return false
	}
	f.setStage(sd, stage)
	if change != nil {
		change()
		f.kick(sd.service)
		f.publish(sd.service)
	}
	return true
}

// setStage sets sd's lifecycle stage and sends a contract.EventDeploymentStage event.
// Callers hold f.mu.
func (f *Fake) setStage(sd *serviceDeployment, stage string) {
	sd.stage = stage
	sd.updatedAt = f.now()
	f.emit(contract.EventDeploymentStage, sd.arn, map[string]string{
		"service":           sd.service.name,
		"cluster":           sd.service.cluster.name,
		"serviceDeployment": sd.arn,
		"deployment":        sd.target.id,
		"stage":             stage,
		"status":            sd.status,
	})
}

// proceed waits as await does and reports whether the deployment goes on.
func (f *Fake) proceed(sd *serviceDeployment, d time.Duration, cond func() bool) bool {
	ok := f.await(sd, d, func() bool { return sd.halted() || cond != nil && cond() })
	f.mu.Lock()
	defer f.mu.Unlock()
	return ok && !sd.halted()
}

// await waits until cond (called with f.mu held) holds or, when d >= 0, d
// has passed. It reports false when the fake closes first.
func (f *Fake) await(sd *serviceDeployment, d time.Duration, cond func() bool) bool {
	var timeout <-chan time.Time
	if d >= 0 {
		t := f.opts.Clock.NewTimer(d)
		defer t.Stop()
		timeout = t.C()
	}
	for {
		f.mu.Lock()
		ok := cond()
		f.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-sd.wake:
		case <-timeout:
			return true
		case <-f.runCtx.Done():
			return false
		}
	}
}

// pause waits until sd is woken or, when d >= 0, d has passed. It reports
// false when the fake closes first.
func (f *Fake) pause(sd *serviceDeployment, d time.Duration) bool {
	var timeout <-chan time.Time
	if d >= 0 {
		t := f.opts.Clock.NewTimer(d)
		defer t.Stop()
		timeout = t.C()
	}
	select {
	case <-sd.wake:
	case <-timeout:
	case <-f.runCtx.Done():
		return false
	}
	return true
}

// halted reports whether sd is not to go on: it ended, or a rollback was
// requested.
func (sd *serviceDeployment) halted() bool {
	return !sd.active() || sd.rollbackReason != ""
}

// shift gives the target production and test percent of the traffic,
// and the sources the rest in proportion to their production weights when
// the deployment started. Callers hold f.mu.
func (f *Fake) shift(sd *serviceDeployment, production, test float64) {
	sd.target.production, sd.target.test = production, test
	for _, d := range sd.source {
		d.production = sd.base[d] * (maxTrafficPercent - production) / maxTrafficPercent
		d.test = sd.base[d] * (maxTrafficPercent - test) / maxTrafficPercent
	}
	f.trafficChanged(sd)
}

// trafficChanged sends a contract.EventDeploymentTraffic event with the weights of
// sd's service and notifies the watchers. Callers hold f.mu.
func (f *Fake) trafficChanged(sd *serviceDeployment) {
	s := sd.service
	var prod, test []string
	for _, d := range s.deployments {
		prod = append(prod, d.id+"="+formatPercent(d.production))
		test = append(test, d.id+"="+formatPercent(d.test))
	}
	sd.updatedAt = f.now()
	f.shiftListenerRules(sd)
	f.emit(contract.EventDeploymentTraffic, sd.arn, map[string]string{
		"service":           s.name,
		"cluster":           s.cluster.name,
		"serviceDeployment": sd.arn,
		"deployment":        sd.target.id,
		"stage":             sd.stage,
		"status":            sd.status,
		"productionWeight":  formatPercent(sd.target.production),
		"testWeight":        formatPercent(sd.target.test),
		"production":        strings.Join(prod, ","),
		"test":              strings.Join(test, ","),
	})
	f.publish(s)
}

// formatPercent formats a traffic weight (percent) in its shortest form.
func formatPercent(p float64) string { return strconv.FormatFloat(p, 'f', -1, 64) }

// requestRollback asks for sd to roll back, for reason (its statusReason)
// with the service event "deployment failed: " + event. Callers hold f.mu.
func (f *Fake) requestRollback(sd *serviceDeployment, reason, event string, breaker bool) {
	if sd.halted() {
		return
	}
	sd.rollbackReason = reason
	sd.rollbackEvent = event
	if breaker {
		sd.breaker = monitorTriggered
		sd.breakerFailures = sd.target.failedTasks
	}
	f.setSDStatus(sd, sdRollbackRequested, reason)
	sd.notify()
}

// rollBack rolls a traffic-shifting deployment back: the source revision
// that served the most production traffic is PRIMARY again, all traffic
// goes back to the sources as it was, and the target is scaled down.
func (f *Fake) rollBack(sd *serviceDeployment) {
	f.mu.Lock()
	s, green := sd.service, sd.target
	now := f.now()
	to := sd.source[0]
	for _, d := range sd.source {
		if sd.base[d] > sd.base[to] {
			to = d
		}
	}
	sd.rollback = &rollbackInfo{reason: sd.rollbackReason, startedAt: now, to: to}
	f.setSDStatus(sd, sdRollbackInProgress, sd.rollbackReason)
	green.rolloutState = rolloutFailed
	green.rolloutStateReason = sd.rollbackReason
	green.updatedAt = now
	f.emitDeployment(s, green)
	f.serviceEvent(s, fmt.Sprintf("(service %s) (deployment %s) deployment failed: %s", s.name, green.id, sd.rollbackEvent))
	f.serviceEvent(s, fmt.Sprintf("(service %s) rolling back to deployment %s.", s.name, to.id))
	if i := slices.Index(s.deployments, to); i != 0 {
		rest := slices.Clone(s.deployments)
		if i > 0 {
			rest = slices.Delete(rest, i, i+1)
		}
		s.deployments = append([]*deployment{to}, rest...)
	}
	for _, d := range s.deployments[1:] {
		if d.status == deploymentPrimary {
			d.status = deploymentActive
			d.updatedAt = now
			f.emitDeployment(s, d)
		}
	}
	to.status = deploymentPrimary
	to.updatedAt = now
	f.emitDeployment(s, to)
	// Traffic goes back first, then the target is scaled down.
	f.setStage(sd, stageProdShift)
	f.shift(sd, 0, 0)
	f.setStage(sd, stageCleanUp)
	green.desired = 0
	f.kick(s)
	f.mu.Unlock()

	if !f.await(sd, -1, func() bool { return sd.status != sdRollbackInProgress || !slices.Contains(s.deployments, green) }) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if sd.status == sdRollbackInProgress {
		f.endServiceDeployment(sd, sdRollbackSuccessful, sd.rollbackReason)
	}
}
