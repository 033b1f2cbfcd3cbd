package ecs

import (
	"fmt"
	"slices"
	"time"
)

// This file is the scheduler of services whose deployment controller is
// EXTERNAL or CODE_DEPLOY: each task set runs its scale of the service's
// desired count, with no bounds between task sets (whoever controls the
// deployment shifts them), and a DRAINING task set is forgotten once its
// tasks have stopped.

// reconcileTaskSets moves the task sets of s one step towards their
// computed desired counts. Callers hold f.mu.
func (f *Fake) reconcileTaskSets(s *service, now time.Time) {
	live := map[*deployment][]*task{}
	for _, t := range f.serviceTasks(s) {
		if t.desiredStatus == statusRunning {
			live[t.deployment] = append(live[t.deployment], t)
		}
	}
	var stopped, started []string
	for _, ts := range s.taskSets {
		d := ts.d
		want := ts.computedDesired()
		if extra := len(live[d]) - want; extra > 0 {
			for _, t := range scaleInOrder(live[d]) {
				if extra == 0 {
					break
				}
				if t.isProtected(now) && ts.status != taskSetDraining {
					continue
				}
				f.requestStop(t, "Scaling activity initiated by (deployment "+d.id+")", stopCodeScheduler)
				stopped = append(stopped, t.id)
				extra--
			}
		}
		for range f.launches(s, want-len(live[d]), now) {
			t := f.launch(s, d, now)
			t.launchType, t.platformVersion = ts.launchType, ts.platform
			started = append(started, t.id)
		}
	}
	if len(started) > 0 {
		f.serviceEvent(s, fmt.Sprintf("(service %s) has started %d tasks: %s.", s.name, len(started), taskList(started)))
	}
	if len(stopped) > 0 {
		f.serviceEvent(s, fmt.Sprintf("(service %s) has stopped %d running tasks: %s.", s.name, len(stopped), taskList(stopped)))
	}
	f.settleTaskSets(s, now)
}

// settleTaskSets counts each task set's tasks, notes its stability,
// forgets DRAINING task sets whose tasks have all stopped, and notes a
// steady state. Callers hold f.mu.
func (f *Fake) settleTaskSets(s *service, now time.Time) {
	for _, ts := range s.taskSets {
		ts.running, ts.pending, ts.live = 0, 0, 0
	}
	byDeployment := map[*deployment]*taskSet{}
	for _, ts := range s.taskSets {
		byDeployment[ts.d] = ts
	}
	total := 0
	for _, t := range f.serviceTasks(s) {
		total++
		ts := byDeployment[t.deployment]
		if ts == nil {
			continue
		}
		ts.live++
		switch {
		case t.lastStatus == statusRunning:
			ts.running++
		case t.pending():
			ts.pending++
		}
	}
	steady := true
	s.taskSets = slices.DeleteFunc(s.taskSets, func(ts *taskSet) bool {
		return ts.status == taskSetDraining && ts.live == 0
	})
	for _, ts := range s.taskSets {
		want := ts.computedDesired()
		stability := stabilityStabilizing
		if ts.running == want && ts.live == want {
			stability = stabilitySteady
		}
		if stability != ts.stability {
			ts.stability, ts.stabilityAt = stability, now
		}
		steady = steady && stability == stabilitySteady
	}
	if steady && !s.steady {
		f.serviceEvent(s, fmt.Sprintf("(service %s) has reached a steady state.", s.name))
	}
	s.steady = steady
	if s.status == serviceDraining && total == 0 {
		s.status = serviceInactive
		s.inactiveAt = now
		f.inactiveServices.push(s)
	}
	f.publish(s)
}
