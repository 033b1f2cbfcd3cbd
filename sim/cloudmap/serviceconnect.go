package cloudmap

import (
	"context"
	"strings"

	"github.com/meshsim/meshsim/sim/awsproto"
	"github.com/meshsim/meshsim/sim/contract"
)

// NamespaceName returns the name of a created namespace given by name, id or
// ARN, as ECS resolves the namespace of a Service Connect configuration.
// The error is NamespaceNotFound when there is none.
func (f *Fake) NamespaceName(ctx context.Context, ref string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	ns, err := f.namespaceByRef(ref)
	if err != nil {
		return "", err
	}
	return ns.name, nil
}

// ServiceConnectService returns the ARN of the service named name in the
// namespace given by name, id or ARN, creating it if it does not exist, as
// ECS does for each discoveryName of a Service Connect configuration. A
// created service has type HTTP: it is discovered by API calls only, with
// no DNS records. Errors are NamespaceNotFound and InvalidInput.
func (f *Fake) ServiceConnectService(ctx context.Context, namespace, name string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := validateServiceName(name); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	ns, err := f.namespaceByRef(namespace)
	if err != nil {
		return "", err
	}
	for _, s := range f.services {
		if s.namespaceID == ns.id && s.name == name {
			return s.arn, nil
		}
	}
	// The namespace ARN is arn:aws:servicediscovery:REGION:ACCOUNT:namespace/ID.
	region := ""
	if parts := strings.SplitN(ns.arn, ":", 5); len(parts) == 5 {
		region = parts[3]
	}
	id := "srv-" + randomID(16)
	f.seq++
	svc := &service{
		seq:         f.seq,
		id:          id,
		arn:         awsproto.ARN(region, "servicediscovery", "service/"+id),
		name:        name,
		namespaceID: ns.id,
		typ:         serviceHTTP,
		description: "Created by Amazon ECS Service Connect",
		created:     f.now(),
		instances:   make(map[string]*instance),
	}
	f.services[id] = svc
	f.emit(contract.EventServiceCreated, svc.arn, map[string]string{"serviceId": id, "name": svc.name, "namespaceId": ns.id, "namespace": ns.name})
	f.changes.Notify()
	return svc.arn, nil
}

// namespaceByRef finds a created namespace by id, ARN or name (the oldest
// of that name). f.mu must be held.
func (f *Fake) namespaceByRef(ref string) (*namespace, error) {
	if ns, err := f.namespace(ref); err == nil {
		return ns, nil
	}
	var found *namespace
	for _, ns := range f.namespaces {
		if ns.name == ref && (found == nil || ns.seq < found.seq) {
			found = ns
		}
	}
	if found == nil {
		return nil, errNamespaceNotFound(ref)
	}
	return found, nil
}
