package ecs

import (
	"fmt"
	"slices"
)

// AlarmStates reads CloudWatch alarms' states, for the deployments that
// watch alarms (deploymentConfiguration.alarms).
type AlarmStates interface {
	// AlarmState returns the alarm's state (OK, ALARM or
	// INSUFFICIENT_DATA) and whether the alarm exists.
	AlarmState(name string) (state string, ok bool)
}

// stateAlarm is CloudWatch's ALARM state.
const stateAlarm = "ALARM"

// watchAlarms starts watching sd's alarms, if its configuration enables
// them. An alarm already in ALARM is ignored until it leaves that state,
// as ECS ignores the alarms that are in ALARM when a deployment starts.
// Callers hold f.mu.
func (f *Fake) watchAlarms(sd *serviceDeployment) {
	sd.alarms = monitorDisabled
	a := sd.parsed.Alarms
	if a == nil || !a.Enable {
		return
	}
	sd.alarms = monitorMonitoring
	sd.alarmsIgnored = map[string]bool{}
	if f.opts.Alarms == nil {
		return
	}
	for _, name := range a.AlarmNames {
		if state, ok := f.opts.Alarms.AlarmState(name); ok && state == stateAlarm {
			sd.alarmsIgnored[name] = true
		}
	}
}

// AlarmChanged tells ECS that a CloudWatch alarm went into state. A
// service deployment in progress (or baking) that watches the alarm fails
// when it goes into ALARM, and rolls back if its alarms configuration says
// so.
func (f *Fake) AlarmChanged(name, state string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.servicesWatching(name) {
		sd := s.current
		if state != stateAlarm {
			delete(sd.alarmsIgnored, name)
			continue
		}
		if sd.alarmsIgnored[name] {
			continue
		}
		sd.alarms = monitorTriggered
		sd.alarmsTriggered = append(sd.alarmsTriggered, name)
		reason := fmt.Sprintf("ECS deployment alarms triggered: %s went into ALARM state.", name)
		f.failDeployment(s, sd.target, reason, fmt.Sprintf("alarm %s went into ALARM state.", name), false, sd.parsed.Alarms.Rollback)
	}
}

// servicesWatching returns the services whose current service deployment
// is active and monitoring alarm name. Callers hold f.mu.
func (f *Fake) servicesWatching(name string) []*service {
	var out []*service
	for _, c := range f.clusters {
		for _, s := range c.services {
			sd := s.current
			if sd != nil && sd.active() && sd.alarms == monitorMonitoring && slices.Contains(sd.parsed.Alarms.AlarmNames, name) {
				out = append(out, s)
			}
		}
	}
	return out
}

// ServiceTaskCounts are one ACTIVE service's task counts, as Container
// Insights publishes them (RunningTaskCount, PendingTaskCount,
// DesiredTaskCount, DeploymentCount).
type ServiceTaskCounts struct {
	Cluster, Service                       string
	Desired, Running, Pending, Deployments int
}

// TaskCounts returns the task counts of every ACTIVE service, for the
// metrics CloudWatch holds about them.
func (f *Fake) TaskCounts() []ServiceTaskCounts {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ServiceTaskCounts
	for _, c := range f.clusters {
		for _, s := range c.services {
			if s.status != serviceActive {
				continue
			}
			n := ServiceTaskCounts{Cluster: c.name, Service: s.name, Desired: s.desiredCount, Deployments: len(s.deployments)}
			for _, t := range s.live {
				switch {
				case t.lastStatus == statusRunning:
					n.Running++
				case t.pending():
					n.Pending++
				}
			}
			out = append(out, n)
		}
	}
	return out
}
