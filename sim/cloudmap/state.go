package cloudmap

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/meshsim/meshsim/sim/awsproto"
	"github.com/meshsim/meshsim/sim/contract"
)

// Namespace types.
const (
	typeHTTP       = "HTTP"
	typeDNSPrivate = "DNS_PRIVATE"
	typeDNSPublic  = "DNS_PUBLIC"
)

// Service types.
const (
	serviceHTTP    = "HTTP"
	serviceDNSHTTP = "DNS_HTTP"
)

// Operation types, statuses and target types.
const (
	opCreateNamespace    = "CREATE_NAMESPACE"
	opDeleteNamespace    = "DELETE_NAMESPACE"
	opRegisterInstance   = "REGISTER_INSTANCE"
	opDeregisterInstance = "DEREGISTER_INSTANCE"
	opUpdateNamespace    = "UPDATE_NAMESPACE"
	opUpdateService      = "UPDATE_SERVICE"

	statusSubmitted = "SUBMITTED"
	statusSuccess   = "SUCCESS"
	statusFail      = "FAIL"

	targetNamespace = "NAMESPACE"
	targetService   = "SERVICE"
	targetInstance  = "INSTANCE"
)

type namespace struct {
	seq              uint64
	id, arn          string
	name, typ        string
	description      string
	creatorRequestID string
	vpc              string
	hostedZoneID     string
	soaTTL           *int64
	created          time.Time
	createOp         string
	tags             map[string]string
}

// isDNS reports whether the namespace has DNS records (private or public).
func (ns *namespace) isDNS() bool { return ns.typ == typeDNSPrivate || ns.typ == typeDNSPublic }

type service struct {
	seq              uint64
	id, arn          string
	name             string
	namespaceID      string
	typ              string
	description      string
	creatorRequestID string
	dnsConfig        *dnsConfig
	customHealth     *healthCheckCustomConfig
	// healthCheck is a Route 53 health check (public DNS namespaces only);
	// meshsim does not run it (see GetInstancesHealthStatus).
	healthCheck *healthCheckConfig
	created     time.Time
	instances   map[string]*instance
	revision    int64
	// attributes are the service attributes (UpdateServiceAttributes).
	attributes map[string]string
	tags       map[string]string
}

type instance struct {
	id               string
	attrs            map[string]string
	creatorRequestID string
	// health is HEALTHY or UNHEALTHY; it matters only in a service with a
	// custom health check.
	health string
}

type operation struct {
	seq              uint64 // orders operations by submission
	id               string
	typ              string
	status           string
	targets          map[string]string
	created, updated time.Time
	errorCode        string
	errorMessage     string
	creatorRequestID string
	updaterRequestID string
	due              time.Time
	// pending is the namespace a CREATE_NAMESPACE operation will create.
	pending *namespace
	// apply makes the change when the operation falls due; f.mu is held.
	apply func() error
}

func errNamespaceNotFound(id string) error {
	return awsproto.Errorf(http.StatusBadRequest, "NamespaceNotFound", "Namespace not found: %s", id)
}

func errServiceNotFound(id string) error {
	return awsproto.Errorf(http.StatusBadRequest, "ServiceNotFound", "Service not found: %s", id)
}

func errInstanceNotFound(serviceID, instanceID string) error {
	return awsproto.Errorf(http.StatusBadRequest, "InstanceNotFound",
		"Instance %s not found in service %s", instanceID, serviceID)
}

func invalidInput(format string, args ...any) error {
	return awsproto.Errorf(http.StatusBadRequest, "InvalidInput", format, args...)
}

// namespace finds a created namespace by id or ARN.
func (f *Fake) namespace(ref string) (*namespace, error) {
	if ref == "" {
		return nil, invalidInput("a namespace Id is required")
	}
	id := ref
	if strings.HasPrefix(ref, "arn:") {
		_, id, _ = strings.Cut(ref, ":namespace/")
	}
	ns, ok := f.namespaces[id]
	if !ok {
		return nil, errNamespaceNotFound(ref)
	}
	return ns, nil
}

// service finds a service by id or ARN.
func (f *Fake) service(ref string) (*service, error) {
	if ref == "" {
		return nil, invalidInput("a ServiceId is required")
	}
	id := ref
	if strings.HasPrefix(ref, "arn:") {
		_, id, _ = strings.Cut(ref, ":service/")
	}
	svc, ok := f.services[id]
	if !ok {
		return nil, errServiceNotFound(ref)
	}
	return svc, nil
}

// serviceCount is the number of services in the namespace nsID.
func (f *Fake) serviceCount(nsID string) int {
	n := 0
	for _, s := range f.services {
		if s.namespaceID == nsID {
			n++
		}
	}
	return n
}

// createNamespace starts the operation that creates ns, with Cloud Map's
// CreatorRequestId idempotency: a retried request gets the first request's
// operation back. f.mu must be held.
func (f *Fake) createNamespace(ns *namespace) (string, error) {
	if ns.creatorRequestID != "" {
		if opID, prev := f.namespaceRequest(ns.creatorRequestID); prev != nil {
			if prev.name == ns.name && prev.typ == ns.typ {
				return opID, nil
			}
			return "", &awsproto.Error{Status: http.StatusBadRequest, Code: "DuplicateRequest",
				Message: fmt.Sprintf("CreatorRequestId %s was already used for a different request", ns.creatorRequestID),
				Extra:   map[string]any{"DuplicateOperationId": opID}}
		}
	}
	if err := f.namespaceNameFree(ns.name); err != nil {
		return "", err
	}
	op := &operation{
		id:               newOperationID(),
		typ:              opCreateNamespace,
		targets:          map[string]string{targetNamespace: ns.id},
		creatorRequestID: ns.creatorRequestID,
		pending:          ns,
	}
	ns.createOp = op.id
	op.apply = func() error {
		for _, other := range f.namespaces {
			if other.name == ns.name {
				return namespaceExists(other)
			}
		}
		f.seq++
		ns.seq = f.seq
		f.namespaces[ns.id] = ns
		f.emit(contract.EventNamespaceCreated, ns.arn, map[string]string{"namespaceId": ns.id, "name": ns.name, "type": ns.typ})
		f.changes.Notify()
		return nil
	}
	f.submit(op)
	return op.id, nil
}

// namespaceRequest finds the namespace created, or being created, for the
// CreatorRequestId token, and the operation that creates it (which may have
// been forgotten since).
func (f *Fake) namespaceRequest(token string) (string, *namespace) {
	for _, ns := range f.namespaces {
		if ns.creatorRequestID == token {
			return ns.createOp, ns
		}
	}
	for _, op := range f.queue {
		if op.pending != nil && op.creatorRequestID == token {
			return op.id, op.pending
		}
	}
	return "", nil
}

// namespaceNameFree reports NamespaceAlreadyExists, or DuplicateRequest when
// another operation is creating a namespace of that name.
func (f *Fake) namespaceNameFree(name string) error {
	for _, other := range f.namespaces {
		if other.name == name {
			return namespaceExists(other)
		}
	}
	for _, op := range f.queue {
		if op.pending != nil && op.pending.name == name {
			return &awsproto.Error{Status: http.StatusBadRequest, Code: "DuplicateRequest",
				Message: fmt.Sprintf("Namespace %s is already being created by operation %s", name, op.id),
				Extra:   map[string]any{"DuplicateOperationId": op.id}}
		}
	}
	return nil
}

func namespaceExists(ns *namespace) error {
	return &awsproto.Error{Status: http.StatusBadRequest, Code: "NamespaceAlreadyExists",
		Message: fmt.Sprintf("Namespace %s already exists with id %s", ns.name, ns.id),
		Extra:   map[string]any{"NamespaceId": ns.id, "CreatorRequestId": ns.creatorRequestID}}
}

// deleteNamespace starts the operation that deletes a namespace without
// services. f.mu must be held.
func (f *Fake) deleteNamespace(ref string) (string, error) {
	ns, err := f.namespace(ref)
	if err != nil {
		return "", err
	}
	if n := f.serviceCount(ns.id); n > 0 {
		return "", namespaceInUse(ns, n)
	}
	op := &operation{
		id:      newOperationID(),
		typ:     opDeleteNamespace,
		targets: map[string]string{targetNamespace: ns.id},
	}
	op.apply = func() error {
		if _, ok := f.namespaces[ns.id]; !ok {
			return errNamespaceNotFound(ns.id)
		}
		if n := f.serviceCount(ns.id); n > 0 {
			return namespaceInUse(ns, n)
		}
		delete(f.namespaces, ns.id)
		f.emit(contract.EventNamespaceDeleted, ns.arn, map[string]string{"namespaceId": ns.id, "name": ns.name})
		f.changes.Notify()
		return nil
	}
	f.submit(op)
	return op.id, nil
}

func namespaceInUse(ns *namespace, services int) error {
	return awsproto.Errorf(http.StatusBadRequest, "ResourceInUse",
		"Namespace %s contains %d service(s); delete them before deleting the namespace", ns.id, services)
}

// registerInstance validates a registration and starts its operation. A
// CreatorRequestId seen before returns the earlier operation. f.mu must be
// held.
func (f *Fake) registerInstance(serviceRef, instanceID, token string, attrs map[string]string) (string, error) {
	svc, err := f.service(serviceRef)
	if err != nil {
		return "", err
	}
	if err := validateInstanceID(instanceID); err != nil {
		return "", err
	}
	if err := validateAttributes(svc, attrs); err != nil {
		return "", err
	}
	if token != "" {
		if opID, ok := f.registerTokens[token]; ok {
			op := f.operations[opID]
			if op.targets[targetService] == svc.id && op.targets[targetInstance] == instanceID {
				return opID, nil
			}
			return "", &awsproto.Error{Status: http.StatusBadRequest, Code: "DuplicateRequest",
				Message: fmt.Sprintf("CreatorRequestId %s was already used to register instance %s in service %s",
					token, op.targets[targetInstance], op.targets[targetService]),
				Extra: map[string]any{"DuplicateOperationId": opID}}
		}
	}
	attrs = copyMap(attrs)
	op := &operation{
		id:               newOperationID(),
		typ:              opRegisterInstance,
		targets:          map[string]string{targetNamespace: svc.namespaceID, targetService: svc.id, targetInstance: instanceID},
		creatorRequestID: token,
	}
	op.apply = func() error {
		s, ok := f.services[svc.id]
		if !ok {
			return errServiceNotFound(svc.id)
		}
		health := Healthy
		if v, ok := attrs[AttrInitHealthStatus]; ok {
			health = v
		}
		s.instances[instanceID] = &instance{id: instanceID, attrs: attrs, creatorRequestID: token, health: health}
		s.revision++
		f.emit(contract.EventInstanceRegistered, s.arn, instanceDetail(instanceID, attrs))
		f.changes.Notify()
		return nil
	}
	if token != "" {
		f.registerTokens[token] = op.id
	}
	f.submit(op)
	return op.id, nil
}

// deregisterInstance starts the operation that removes an instance. f.mu must
// be held.
func (f *Fake) deregisterInstance(serviceRef, instanceID string) (string, error) {
	svc, err := f.service(serviceRef)
	if err != nil {
		return "", err
	}
	if instanceID == "" {
		return "", invalidInput("InstanceId is required")
	}
	if _, ok := svc.instances[instanceID]; !ok {
		return "", errInstanceNotFound(svc.id, instanceID)
	}
	op := &operation{
		id:      newOperationID(),
		typ:     opDeregisterInstance,
		targets: map[string]string{targetNamespace: svc.namespaceID, targetService: svc.id, targetInstance: instanceID},
	}
	op.apply = func() error {
		s, ok := f.services[svc.id]
		if !ok {
			return errServiceNotFound(svc.id)
		}
		inst, ok := s.instances[instanceID]
		if !ok {
			return errInstanceNotFound(svc.id, instanceID)
		}
		delete(s.instances, instanceID)
		s.revision++
		f.emit(contract.EventInstanceDeregistered, s.arn, instanceDetail(instanceID, inst.attrs))
		f.changes.Notify()
		return nil
	}
	f.submit(op)
	return op.id, nil
}

func instanceDetail(id string, attrs map[string]string) map[string]string {
	return map[string]string{"instanceId": id, "ipv4": attrs[AttrIPv4], "port": attrs[AttrPort]}
}

// updateHealth sets the custom health status of an instance. f.mu must be
// held.
func (f *Fake) updateHealth(serviceRef, instanceID, status string) error {
	svc, err := f.service(serviceRef)
	if err != nil {
		return err
	}
	inst, ok := svc.instances[instanceID]
	if !ok {
		return errInstanceNotFound(svc.id, instanceID)
	}
	if status != Healthy && status != Unhealthy {
		return invalidInput("Status must be HEALTHY or UNHEALTHY, not %q", status)
	}
	if svc.customHealth == nil {
		return awsproto.Errorf(http.StatusBadRequest, "CustomHealthNotFound",
			"Service %s has no custom health check (HealthCheckCustomConfig)", svc.id)
	}
	if inst.health == status {
		return nil
	}
	inst.health = status
	svc.revision++
	f.emit(contract.EventInstanceHealth, svc.arn, map[string]string{"instanceId": instanceID, "status": status})
	f.changes.Notify()
	return nil
}

// foundInstance is an instance with the health status DiscoverInstances
// reports for it.
type foundInstance struct {
	inst   *instance
	health string
}

// discover finds the instances of a service as DiscoverInstances does: by
// namespace (HTTP) name and service name, filtered by QueryParameters, then
// OptionalParameters when any instance matches them, then by health. The
// result is ordered by instance id. f.mu must be held.
func (f *Fake) discover(nsName, svcName, healthFilter string, query, optional map[string]string) ([]foundInstance, int64, error) {
	if nsName == "" || svcName == "" {
		return nil, 0, invalidInput("NamespaceName and ServiceName are required")
	}
	var ns *namespace
	for _, n := range f.namespaces {
		if n.name == nsName {
			ns = n
			break
		}
	}
	if ns == nil {
		return nil, 0, errNamespaceNotFound(nsName)
	}
	var svc *service
	for _, s := range f.services {
		if s.namespaceID == ns.id && s.name == svcName {
			svc = s
			break
		}
	}
	if svc == nil {
		return nil, 0, errServiceNotFound(svcName)
	}
	switch healthFilter {
	case "":
		healthFilter = Healthy
	case Healthy, Unhealthy, "ALL", "HEALTHY_OR_ELSE_ALL":
	default:
		return nil, 0, invalidInput("HealthStatus must be HEALTHY, UNHEALTHY, ALL or HEALTHY_OR_ELSE_ALL, not %q", healthFilter)
	}

	var matched, optMatched []foundInstance
	for _, inst := range svc.instances {
		if !matchAttrs(inst.attrs, query) {
			continue
		}
		fi := foundInstance{inst: inst, health: Unknown}
		if svc.customHealth != nil {
			fi.health = inst.health
		}
		matched = append(matched, fi)
		if len(optional) > 0 && matchAttrs(inst.attrs, optional) {
			optMatched = append(optMatched, fi)
		}
	}
	if len(optMatched) > 0 {
		matched = optMatched
	}
	if svc.customHealth != nil {
		var healthy, unhealthy []foundInstance
		for _, fi := range matched {
			if fi.health == Healthy {
				healthy = append(healthy, fi)
			} else {
				unhealthy = append(unhealthy, fi)
			}
		}
		switch healthFilter {
		case Healthy:
			matched = healthy
		case Unhealthy:
			matched = unhealthy
		case "HEALTHY_OR_ELSE_ALL":
			if len(healthy) > 0 {
				matched = healthy
			}
		}
	}
	sort.Slice(matched, func(i, j int) bool { return matched[i].inst.id < matched[j].inst.id })
	return matched, svc.revision, nil
}

func matchAttrs(attrs, want map[string]string) bool {
	for k, v := range want {
		if got, ok := attrs[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// submit records op and applies it now, or queues it for the operation
// goroutine when there is a propagation delay. f.mu must be held.
func (f *Fake) submit(op *operation) {
	now := f.now()
	f.opSeq++
	op.seq = f.opSeq
	op.created, op.updated = now, now
	f.operations[op.id] = op
	if f.delay <= 0 {
		f.finish(op)
		return
	}
	op.status = statusSubmitted
	op.due = now.Add(f.delay)
	f.queue = append(f.queue, op)
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// finish applies op and records its outcome. f.mu must be held.
func (f *Fake) finish(op *operation) {
	err := op.apply()
	op.apply = nil
	op.pending = nil
	op.updated = f.now()
	op.status = statusSuccess
	if err != nil {
		op.status = statusFail
		op.errorMessage = err.Error()
		if e, ok := err.(*awsproto.Error); ok {
			op.errorCode = e.Code
			op.errorMessage = e.Message
		}
	}
	f.finished = append(f.finished, op.id)
	for len(f.finished) > f.opLimit {
		f.forget(f.finished[0])
		f.finished = f.finished[1:]
	}
}

// forget drops a finished operation and the CreatorRequestId that led to it.
// f.mu must be held.
func (f *Fake) forget(opID string) {
	op, ok := f.operations[opID]
	if !ok {
		return
	}
	delete(f.operations, opID)
	if t := op.creatorRequestID; t != "" && f.registerTokens[t] == opID {
		delete(f.registerTokens, t)
	}
	if t := op.updaterRequestID; t != "" && f.updateTokens[t] == opID {
		delete(f.updateTokens, t)
	}
}

// run applies queued operations as they fall due, until Close. The delay is
// the same for every operation, so the queue is in due order.
func (f *Fake) run() {
	defer f.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		wait := time.Duration(-1)
		f.mu.Lock()
		for len(f.queue) > 0 {
			op := f.queue[0]
			if d := op.due.Sub(f.now()); d > 0 {
				wait = d
				break
			}
			f.queue = f.queue[1:]
			f.finish(op)
		}
		f.mu.Unlock()
		var due <-chan time.Time
		if wait >= 0 {
			timer.Reset(wait)
			due = timer.C
		}
		select {
		case <-f.done:
			timer.Stop()
			return
		case <-f.wake:
			timer.Stop()
		case <-due:
		}
	}
}

// randomID returns n random characters from [a-z2-7], like the lower-case ids
// Cloud Map gives namespaces, services and operations.
func randomID(n int) string {
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(strings.ToLower(rand.Text()))
	}
	return b.String()[:n]
}

func newOperationID() string { return randomID(32) + "-" + randomID(8) }

func newHostedZoneID() string { return "Z0" + rand.Text()[:19] }
