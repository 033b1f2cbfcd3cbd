package ecs

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meshsim/meshsim/sim/awsproto"
	"github.com/meshsim/meshsim/sim/contract"
)

// loop runs the service scheduler until ctx is done: it reconciles the
// services that changed when kicked, and every service (forgetting what
// ECS forgets) every ReconcileInterval.
func (f *Fake) loop(ctx context.Context) {
	defer close(f.loopDone)
	tick := f.opts.Clock.NewTicker(f.opts.ReconcileInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.kickc:
			f.reconcileDirty()
		case <-tick.C():
			f.reconcileAll()
		}
	}
}

// reconcileDirty reconciles the services kicked since it last ran.
func (f *Fake) reconcileDirty() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	now := f.now()
	for s := range f.dirty {
		delete(f.dirty, s)
		if s.status != serviceInactive {
			f.reconcile(s, now)
		}
	}
}

// reconcileAll reconciles every service and forgets old STOPPED tasks and
// INACTIVE services.
func (f *Fake) reconcileAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	now := f.now()
	clear(f.dirty)
	for _, c := range f.clusters {
		for _, s := range c.services {
			if s.status != serviceInactive {
				f.reconcile(s, now)
			}
		}
	}
	f.prune(now)
}

// reconcile moves service s one step towards its desired state, as the ECS
// service scheduler does for a rolling update: it launches tasks of the
// PRIMARY deployment and stops tasks of older deployments (and surplus
// tasks) while, at every moment,
//
//   - tasks RUNNING >= minimumHealthyPercent × desiredCount, rounded up, and
//   - tasks not yet STOPPED <= maximumPercent × desiredCount, rounded down.
//
// Tasks that are stopping still count against maximumPercent, which keeps
// the bound even while they drain. Task failures are outside its control
// and can take RUNNING below the minimum. While a traffic-shifting
// deployment runs, it decides the tasks of each deployment instead (see
// reconcileShift). Callers hold f.mu.
func (f *Fake) reconcile(s *service, now time.Time) {
	if s.controller != controllerECS {
		f.reconcileTaskSets(s, now)
		return
	}
	if s.current.shifting() {
		f.reconcileShift(s, now)
		return
	}
	desired := s.desiredCount
	minHealthy := (desired**s.parsed.MinimumHealthyPercent + 99) / 100
	maxTotal := desired * *s.parsed.MaximumPercent / 100
	primary := s.deployments[0]
	// A deployment failed by the circuit breaker (without rollback) stops
	// launching tasks and leaves the others alone.
	frozen := primary.rolloutState == rolloutFailed && s.status == serviceActive

	tasks := f.serviceTasks(s)
	running, inflight := 0, len(tasks)
	live := map[*deployment][]*task{} // tasks meant to keep running
	for _, t := range tasks {
		if t.lastStatus == statusRunning {
			running++
		}
		if t.desiredStatus == statusRunning {
			live[t.deployment] = append(live[t.deployment], t)
		}
	}

	var stopped, started []string
	stop := func(t *task) {
		if t.lastStatus == statusRunning {
			running--
		}
		f.requestStop(t, "Scaling activity initiated by (deployment "+t.deployment.id+")", stopCodeScheduler)
		stopped = append(stopped, t.id)
	}

	// Tasks of older deployments that are not running yet are not needed.
	for _, d := range s.deployments[1:] {
		for _, t := range live[d] {
			if t.lastStatus != statusRunning {
				stop(t)
			}
		}
	}
	// Scale the primary deployment in: tasks that are not running first,
	// then the newest; never a task protected from scale-in.
	if extra := len(live[primary]) - desired; extra > 0 {
		for _, t := range scaleInOrder(live[primary]) {
			if extra == 0 {
				break
			}
			if t.lastStatus == statusRunning && running-1 < minHealthy || t.isProtected(now) {
				continue // within minimumHealthyPercent, or protected from scale-in
			}
			stop(t)
			extra--
		}
	}
	// Launch tasks of the primary deployment within maximumPercent.
	if !frozen && s.status == serviceActive {
		for range f.launches(s, min(desired-len(live[primary]), maxTotal-inflight), now) {
			started = append(started, f.launch(s, primary, now).id)
		}
	}
	// Stop running tasks of older deployments, oldest deployment first,
	// within minimumHealthyPercent.
	if !frozen {
		for _, d := range slices.Backward(s.deployments[1:]) {
			for _, t := range live[d] {
				if t.lastStatus == statusRunning && running-1 >= minHealthy {
					stop(t)
				}
			}
		}
	}

	f.record(s, started, stopped, now)
}

// record records the tasks reconcile started and stopped in the service's
// events, and settles the service. Callers hold f.mu.
func (f *Fake) record(s *service, started, stopped []string, now time.Time) {
	if len(started) > 0 {
		f.serviceEvent(s, fmt.Sprintf("(service %s) has started %d tasks: %s.", s.name, len(started), taskList(started)))
	}
	if len(stopped) > 0 {
		f.serviceEvent(s, fmt.Sprintf("(service %s) has stopped %d running tasks: %s.", s.name, len(stopped), taskList(stopped)))
	}
	f.settle(s, now)
}

// reconcileShift gives each deployment of s the number of tasks the
// traffic-shifting deployment asks of it (deployment.desired), with no
// bounds: ECS runs the target revision at full size beside the source
// before it shifts traffic. Tasks that are not running yet go first, then
// the newest. Callers hold f.mu.
func (f *Fake) reconcileShift(s *service, now time.Time) {
	live := map[*deployment][]*task{}
	for _, t := range f.serviceTasks(s) {
		if t.desiredStatus == statusRunning {
			live[t.deployment] = append(live[t.deployment], t)
		}
	}
	var stopped, started []string
	for _, d := range s.deployments {
		if extra := len(live[d]) - d.desired; extra > 0 {
			for _, t := range scaleInOrder(live[d])[:extra] {
				f.requestStop(t, "Scaling activity initiated by (deployment "+t.deployment.id+")", stopCodeScheduler)
				stopped = append(stopped, t.id)
			}
		}
		if d.rolloutState != rolloutFailed {
			for range f.launches(s, d.desired-len(live[d]), now) {
				started = append(started, f.launch(s, d, now).id)
			}
		}
	}
	f.record(s, started, stopped, now)
}

// scaleInOrder returns tasks in the order the scheduler stops them when it
// scales in: those not running yet first, then the newest.
func scaleInOrder(tasks []*task) []*task {
	out := slices.Clone(tasks)
	slices.SortStableFunc(out, func(a, b *task) int {
		if ar, br := a.lastStatus == statusRunning, b.lastStatus == statusRunning; ar != br {
			if ar {
				return 1
			}
			return -1
		}
		return cmp.Compare(b.seq, a.seq)
	})
	return out
}

// settle retires deployments whose tasks have all stopped, completes the
// primary deployment once it runs alone at the desired count, and notes a
// steady state. Callers hold f.mu.
func (f *Fake) settle(s *service, now time.Time) {
	if s.controller != controllerECS {
		f.settleTaskSets(s, now)
		return
	}
	f.settleDeployments(s, now)
}

// settleDeployments settles a service that the ECS deployment controller
// deploys. Callers hold f.mu.
func (f *Fake) settleDeployments(s *service, now time.Time) {
	alive := map[*deployment]int{}
	runningOf := map[*deployment]int{}
	running, total := 0, 0
	for _, t := range f.serviceTasks(s) {
		alive[t.deployment]++
		total++
		if t.lastStatus == statusRunning {
			runningOf[t.deployment]++
			running++
		}
	}
	primary := s.deployments[0]
	kept := []*deployment{primary}
	for _, d := range s.deployments[1:] {
		if alive[d] > 0 {
			kept = append(kept, d)
			continue
		}
		d.status = deploymentInactive
		d.updatedAt = now
		f.emitDeployment(s, d)
	}
	s.deployments = kept

	if primary.rolloutState == rolloutInProgress && len(s.deployments) == 1 &&
		runningOf[primary] == s.desiredCount && alive[primary] == s.desiredCount {
		primary.rolloutState = rolloutCompleted
		primary.rolloutStateReason = "ECS deployment " + primary.id + " completed."
		primary.updatedAt = now
		s.lastGood = primary
		f.serviceEvent(s, fmt.Sprintf("(service %s) (deployment %s) deployment completed.", s.name, primary.id))
		f.emitDeployment(s, primary)
	}
	// The service deployment ends as its deployments settle: when its
	// target completes (a traffic-shifting one only once it cleans up), or
	// when what it rolled back to completes (rolling) or its target is gone
	// (traffic shifting).
	if sd := s.current; sd != nil {
		completed := primary.rolloutState == rolloutCompleted
		switch {
		case sd.status == sdInProgress && sd.target == primary && completed && (!sd.shift || sd.stage == stageCleanUp):
			f.endServiceDeployment(sd, sdSuccessful, "")
		case sd.status == sdRollbackInProgress && !sd.shift && sd.rollback != nil && sd.rollback.to == primary && completed,
			sd.status == sdRollbackInProgress && sd.shift && !slices.Contains(s.deployments, sd.target):
			f.endServiceDeployment(sd, sdRollbackSuccessful, sd.statusReason)
		}
	}

	steady := len(s.deployments) == 1 && running == s.desiredCount && total == s.desiredCount
	if steady && !s.steady {
		f.serviceEvent(s, fmt.Sprintf("(service %s) has reached a steady state.", s.name))
	}
	s.steady = steady

	if s.status == serviceDraining && total == 0 {
		s.status = serviceInactive
		s.inactiveAt = now
		f.inactiveServices.push(s)
	}
	if s.current != nil {
		s.current.notify()
	}
	f.publish(s)
}

// serviceTasks returns the tasks of s that have not stopped, oldest first.
// The slice is the service's own: callers hold f.mu and do not keep or
// change it.
func (f *Fake) serviceTasks(s *service) []*task { return s.live }

// launches returns how many of want tasks s may launch now: none while it
// backs off after failures, and no more than its launch tokens, which
// refill at TaskLaunchRate per ECS minute up to a tenth of it. Callers
// hold f.mu.
func (f *Fake) launches(s *service, want int, now time.Time) int {
	if want <= 0 || now.Before(s.launchAfter) {
		return 0
	}
	rate := float64(f.opts.TaskLaunchRate)
	burst := max(1, rate/10)
	if s.tokensAt.IsZero() {
		s.launchTokens = burst
	} else {
		s.launchTokens = min(burst, s.launchTokens+rate*float64(now.Sub(s.tokensAt))/float64(f.opts.Minute))
	}
	s.tokensAt = now
	n := min(want, int(s.launchTokens))
	s.launchTokens -= float64(n)
	return n
}

// taskList formats task ids as ECS service events do: "(task a) (task b)".
func taskList(ids []string) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = "(task " + id + ")"
	}
	return strings.Join(parts, " ")
}

// failDeployment marks the primary deployment d FAILED for reason (its
// rolloutStateReason), with the service event "deployment failed: " +
// event, as the deployment circuit breaker (breaker) or a stop with
// rollback does; with rollback, it rolls back to the last completed
// deployment. A traffic-shifting deployment rolls its traffic back instead.
// Callers hold f.mu.
func (f *Fake) failDeployment(s *service, d *deployment, reason, event string, breaker, rollback bool) {
	sd := s.current
	if sd != nil && sd.status == sdRollbackInProgress && sd.rollback != nil && sd.rollback.to == d {
		// What a rolling deployment rolled back to failed too: no further
		// rollback.
		d.rolloutState, d.rolloutStateReason, d.updatedAt = rolloutFailed, reason, f.now()
		f.serviceEvent(s, fmt.Sprintf("(service %s) (deployment %s) deployment failed: %s", s.name, d.id, event))
		f.emitDeployment(s, d)
		f.endServiceDeployment(sd, sdRollbackFailed, reason)
		return
	}
	if sd != nil && sd.target != d {
		sd = nil
	}
	if sd.shifting() {
		if rollback {
			f.requestRollback(sd, reason, event, breaker)
			return
		}
		if breaker {
			sd.breaker, sd.breakerFailures = monitorTriggered, d.failedTasks
		}
	}
	now := f.now()
	d.rolloutState = rolloutFailed
	d.rolloutStateReason = reason
	d.updatedAt = now
	f.serviceEvent(s, fmt.Sprintf("(service %s) (deployment %s) deployment failed: %s", s.name, d.id, event))
	f.emitDeployment(s, d)
	if sd != nil && breaker && sd.breaker == monitorMonitoring {
		sd.breaker, sd.breakerFailures = monitorTriggered, d.failedTasks
	}
	if !rollback || s.lastGood == nil || s.lastGood == d || sd.shifting() {
		if sd != nil && sd.active() {
			f.endServiceDeployment(sd, sdStopped, reason)
		}
		return
	}
	good := s.lastGood
	f.serviceEvent(s, fmt.Sprintf("(service %s) rolling back to deployment %s.", s.name, good.id))
	rev := good.revision
	s.serviceConnect, s.connect = rev.serviceConnect, rev.connect
	s.networkConfiguration, s.registries = rev.networkConfiguration, rev.registries
	s.failStreak, s.launchAfter = 0, time.Time{}
	to := f.addDeployment(s, rev)
	if sd != nil && sd.active() {
		sd.rollback = &rollbackInfo{reason: reason, startedAt: now, to: to}
		f.setSDStatus(sd, sdRollbackInProgress, reason)
	}
}

// threshold returns the number of failed tasks that trips the circuit
// breaker of a service of desired tasks.
func (cb *circuitBreaker) threshold(desired int) int {
	typ, value := "BOUNDED_PERCENT", 50
	if t := cb.ThresholdConfiguration; t != nil {
		typ, value = t.Type, t.Value
	}
	percent := (desired*value + 99) / 100
	switch typ {
	case "COUNT":
		return max(value, 1)
	case "UNBOUNDED_PERCENT":
		return max(percent, 1)
	default:
		return min(max(percent, 3), 200)
	}
}

// launch creates a task of deployment d of s, PROVISIONING, and starts the
// goroutine that runs it. Callers hold f.mu.
func (f *Fake) launch(s *service, d *deployment, now time.Time) *task {
	sc := d.revision.connect
	t := f.newTask(s.cluster, d.def, now, firstSubnet(d.revision.networkConfiguration), s, sc)
	t.service, t.deployment = s, d
	t.spec.Service = s.name
	t.startedBy, t.group = d.id, "service:"+s.name
	t.launchType, t.platformVersion = s.launchType(), s.in.PlatformVersion
	t.execute = s.in.EnableExecuteCommand
	t.tags = launchTags(s.cluster, s, d.def, s.in.PropagateTags, s.in.EnableECSManagedTags, nil)
	for _, r := range d.revision.registries {
		t.registrations = append(t.registrations, registration{serviceID: r.RegistryArn, port: registryPort(r, t.spec)})
	}
	t.targets = s.lb.targetsFor(d)
	if sc != nil {
		for _, cs := range sc.Services {
			t.registrations = append(t.registrations, registration{serviceID: cs.DiscoveryARN, port: int(cs.ContainerPort)})
		}
	}
	s.tasks[t.id] = t
	s.live = append(s.live, t)
	f.startTask(t)
	return t
}

// newTask makes a task of task definition def in cluster c, with its
// containers (after the Service Connect proxy of sc, when not nil, for
// service s), in subnet. Callers hold f.mu and start it with startTask.
func (f *Fake) newTask(c *cluster, def *taskDef, now time.Time, subnet string, s *service, sc *ServiceConnect) *task {
	id := randomHex(32)
	f.taskSeq++
	t := &task{
		id:            id,
		seq:           f.taskSeq,
		arn:           awsproto.ARN(c.region, "ecs", "task/"+c.name+"/"+id),
		cluster:       c,
		def:           def,
		desiredStatus: statusRunning,
		health:        HealthUnknown,
		createdAt:     now,
		attachmentID:  newUUID(),
		eniID:         "eni-" + randomHex(17),
		subnetID:      subnet,
		wake:          make(chan struct{}, 1),
	}
	t.spec = TaskSpec{
		TaskID:            id,
		TaskARN:           t.arn,
		Cluster:           c.name,
		Family:            def.family,
		Revision:          def.revision,
		TaskDefinitionARN: def.arn,
	}
	if sc != nil {
		// ECS adds the Service Connect proxy, which starts first.
		spec := f.connectContainer(s, sc)
		t.grace = spec.StopTimeout
		t.spec.Containers = append(t.spec.Containers, spec)
		t.containers = append(t.containers, &containerState{
			arn:        awsproto.ARN(c.region, "ecs", "container/"+c.name+"/"+id+"/"+newUUID()),
			name:       spec.Name,
			image:      spec.Image,
			essential:  spec.Essential,
			lastStatus: statusPending,
			health:     HealthUnknown,
		})
	}
	for _, cd := range def.containers {
		spec := ContainerSpec{
			Name:             cd.Name,
			Image:            cd.Image,
			EntryPoint:       slices.Clone(cd.EntryPoint),
			Command:          slices.Clone(cd.Command),
			WorkingDirectory: cd.WorkingDirectory,
			User:             cd.User,
			Essential:        cd.essential(),
			Env:              map[string]string{},
			StopTimeout:      f.seconds(30),
		}
		for _, kv := range cd.Environment {
			spec.Env[kv.Name] = kv.Value
		}
		for _, p := range cd.PortMappings {
			pm := PortMapping{ContainerPort: uint32(*p.ContainerPort), Protocol: p.Protocol, Name: p.Name, AppProtocol: p.AppProtocol}
			if pm.Protocol == "" {
				pm.Protocol = "tcp"
			}
			spec.Ports = append(spec.Ports, pm)
		}
		if cd.HealthCheck != nil {
			h := cd.HealthCheck.withDefaults()
			spec.HealthCheck = &HealthCheck{
				Command:  slices.Clone(h.Command),
				Interval: f.seconds(*h.Interval),
				// The timeout is the application's time to answer, a
				// data-plane matter: it is not time-scaled.
				Timeout:     time.Duration(*h.Timeout) * time.Second,
				Retries:     *h.Retries,
				StartPeriod: f.seconds(*h.StartPeriod),
			}
		}
		if cd.StopTimeout != nil {
			spec.StopTimeout = f.seconds(*cd.StopTimeout)
		}
		t.grace = max(t.grace, spec.StopTimeout)
		t.spec.Containers = append(t.spec.Containers, spec)
		t.containers = append(t.containers, &containerState{
			arn:            awsproto.ARN(c.region, "ecs", "container/"+c.name+"/"+id+"/"+newUUID()),
			name:           cd.Name,
			image:          cd.Image,
			essential:      spec.Essential,
			hasHealthCheck: spec.HealthCheck != nil,
			lastStatus:     statusPending,
			health:         HealthUnknown,
		})
	}
	t.cpu, t.memory = def.cpu, def.memory
	return t
}

// startTask adds t to its cluster, PROVISIONING, and starts the goroutine
// that runs it. Callers hold f.mu.
func (f *Fake) startTask(t *task) {
	t.cluster.tasks[t.id] = t
	f.setStatus(t, statusProvisioning)
	f.taskGroup.Add(1)
	go f.runTask(t)
}

// registryPort returns the port a service registry announces for the
// task's instances: its containerPort, else its port, else the first port
// mapping of its container (or of the task).
func registryPort(r serviceRegistry, spec TaskSpec) int {
	switch {
	case r.ContainerPort != nil:
		return *r.ContainerPort
	case r.Port != nil:
		return *r.Port
	}
	for _, c := range spec.Containers {
		if (r.ContainerName == "" || c.Name == r.ContainerName) && len(c.Ports) > 0 {
			return int(c.Ports[0].ContainerPort)
		}
	}
	return 0
}

// serviceEvent records message in the service's events[] (newest first,
// at most 100) and sends it to the bus. The list is copied, never changed
// in place, as responses being encoded may hold it. Callers hold f.mu.
func (f *Fake) serviceEvent(s *service, message string) {
	e := serviceEvent{ID: newUUID(), CreatedAt: timestamp(f.now()), Message: message}
	s.events = append([]serviceEvent{e}, s.events[:min(len(s.events), 99)]...)
	f.emit(contract.EventServiceEvent, s.arn, map[string]string{
		"service": s.name, "cluster": s.cluster.name, "id": e.ID, "message": message,
	})
}

// emitDeployment sends the state of deployment d of s to the bus.
func (f *Fake) emitDeployment(s *service, d *deployment) {
	f.emit(contract.EventDeploymentState, s.arn, map[string]string{
		"service":         s.name,
		"cluster":         s.cluster.name,
		"id":              d.id,
		"status":          d.status,
		"rolloutState":    d.rolloutState,
		"reason":          d.rolloutStateReason,
		"taskDefinition":  d.def.arn,
		"serviceRevision": d.revision.arn,
		"failedTasks":     strconv.Itoa(d.failedTasks),
	})
}

// firstSubnet returns the first subnet of a networkConfiguration, or a
// made-up one.
func firstSubnet(raw json.RawMessage) string {
	var nc struct {
		AwsvpcConfiguration struct {
			Subnets []string `json:"subnets"`
		} `json:"awsvpcConfiguration"`
	}
	if json.Unmarshal(raw, &nc) == nil && len(nc.AwsvpcConfiguration.Subnets) > 0 {
		return nc.AwsvpcConfiguration.Subnets[0]
	}
	return "subnet-meshsim"
}
