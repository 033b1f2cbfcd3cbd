package cloudmap

import (
	"fmt"
	"maps"
	"net/http"

	"github.com/meshsim/meshsim/sim/awsproto"
	"github.com/meshsim/meshsim/sim/contract"
)

// namespaceChange is the Namespace member of UpdateHttpNamespace,
// UpdatePrivateDnsNamespace and UpdatePublicDnsNamespace: a description
// (required) and, for DNS namespaces, the SOA record's TTL.
type namespaceChange struct {
	Description *string `json:"Description"`
	Properties  *struct {
		DNSProperties *struct {
			SOA *soa `json:"SOA"`
		} `json:"DnsProperties"`
	} `json:"Properties"`
}

type updateNamespaceInput struct {
	ID               string           `json:"Id"`
	Namespace        *namespaceChange `json:"Namespace"`
	UpdaterRequestID string           `json:"UpdaterRequestId"`
}

func (f *Fake) apiUpdateHTTPNamespace(c *awsproto.Call) (any, error) {
	return f.apiUpdateNamespace(c, typeHTTP)
}

func (f *Fake) apiUpdatePrivateDNSNamespace(c *awsproto.Call) (any, error) {
	return f.apiUpdateNamespace(c, typeDNSPrivate)
}

func (f *Fake) apiUpdatePublicDNSNamespace(c *awsproto.Call) (any, error) {
	return f.apiUpdateNamespace(c, typeDNSPublic)
}

// apiUpdateNamespace starts the UPDATE_NAMESPACE operation of a namespace
// of type typ: the operation of each Update*Namespace call must match the
// namespace's type, as in AWS.
func (f *Fake) apiUpdateNamespace(c *awsproto.Call, typ string) (any, error) {
	var in updateNamespaceInput
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	ch := in.Namespace
	switch {
	case ch == nil:
		return nil, invalidInput("Namespace is required")
	case ch.Description == nil:
		return nil, invalidInput("Namespace.Description is required")
	case typ == typeHTTP && ch.Properties != nil:
		return nil, invalidInput("an HTTP namespace has no Properties to update")
	}
	if err := validateDescription(*ch.Description); err != nil {
		return nil, err
	}
	var ttl *int64
	if p := ch.Properties; p != nil && p.DNSProperties != nil && p.DNSProperties.SOA != nil {
		t, err := checkSOATTL(p.DNSProperties.SOA.TTL)
		if err != nil {
			return nil, err
		}
		ttl = t
	}
	if len(in.UpdaterRequestID) > 64 {
		return nil, invalidInput("UpdaterRequestId is longer than 64 characters")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	ns, err := f.namespace(in.ID)
	if err != nil {
		return nil, err
	}
	if ns.typ != typ {
		return nil, invalidInput("namespace %s is of type %s, not %s", ns.id, ns.typ, typ)
	}
	if t := in.UpdaterRequestID; t != "" {
		if opID, ok := f.updateTokens[t]; ok {
			if op := f.operations[opID]; op != nil && op.targets[targetNamespace] == ns.id {
				return opOutput(opID, nil)
			}
			return nil, &awsproto.Error{Status: http.StatusBadRequest, Code: "DuplicateRequest",
				Message: fmt.Sprintf("UpdaterRequestId %s was already used for a different request", t),
				Extra:   map[string]any{"DuplicateOperationId": opID}}
		}
	}
	desc := *ch.Description
	op := &operation{
		id:               newOperationID(),
		typ:              opUpdateNamespace,
		targets:          map[string]string{targetNamespace: ns.id},
		updaterRequestID: in.UpdaterRequestID,
	}
	op.apply = func() error {
		if _, ok := f.namespaces[ns.id]; !ok {
			return errNamespaceNotFound(ns.id)
		}
		ns.description = desc
		if ttl != nil {
			ns.soaTTL = ttl
		}
		f.emit(contract.EventNamespaceUpdated, ns.arn, map[string]string{"namespaceId": ns.id, "name": ns.name})
		f.changes.Notify()
		return nil
	}
	if in.UpdaterRequestID != "" {
		f.updateTokens[in.UpdaterRequestID] = op.id
	}
	f.submit(op)
	return opOutput(op.id, nil)
}

// serviceChange is the Service member of UpdateService.
type serviceChange struct {
	Description *string `json:"Description"`
	DNSConfig   *struct {
		DNSRecords []dnsRecord `json:"DnsRecords"`
	} `json:"DnsConfig"`
	HealthCheckConfig *healthCheckConfig `json:"HealthCheckConfig"`
}

// apiUpdateService starts the UPDATE_SERVICE operation, as AWS documents
// it: the TTLs of the service's DNS records may change (not their types
// or number), a HealthCheckConfig (public DNS namespaces) is added, changed
// or, when omitted, deleted, the description is replaced when given; a
// HealthCheckCustomConfig stays as it is. A service of an HTTP namespace
// cannot be updated.
func (f *Fake) apiUpdateService(c *awsproto.Call) (any, error) {
	var in struct {
		ID      string         `json:"Id"`
		Service *serviceChange `json:"Service"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	ch := in.Service
	if ch == nil {
		return nil, invalidInput("Service is required")
	}
	if ch.Description != nil {
		if err := validateDescription(*ch.Description); err != nil {
			return nil, err
		}
	}
	if err := validateHealthCheckConfig(ch.HealthCheckConfig); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	svc, err := f.service(in.ID)
	if err != nil {
		return nil, err
	}
	records, err := f.checkServiceChange(svc, ch)
	if err != nil {
		return nil, err
	}
	op := &operation{
		id:      newOperationID(),
		typ:     opUpdateService,
		targets: map[string]string{targetService: svc.id},
	}
	op.apply = func() error {
		if _, ok := f.services[svc.id]; !ok {
			return errServiceNotFound(svc.id)
		}
		if ch.Description != nil {
			svc.description = *ch.Description
		}
		if svc.dnsConfig != nil {
			svc.dnsConfig = &dnsConfig{DNSRecords: records, RoutingPolicy: svc.dnsConfig.RoutingPolicy}
		}
		svc.healthCheck = ch.HealthCheckConfig
		f.emit(contract.EventServiceUpdated, svc.arn, map[string]string{"serviceId": svc.id, "name": svc.name})
		f.changes.Notify()
		return nil
	}
	f.submit(op)
	return opOutput(op.id, nil)
}

// checkServiceChange checks an UpdateService change against the service
// and returns its new DNS records.
func (f *Fake) checkServiceChange(svc *service, ch *serviceChange) ([]dnsRecord, error) {
	ns := f.namespaces[svc.namespaceID]
	if ns == nil || !ns.isDNS() {
		return nil, invalidInput("service %s is in an HTTP namespace: its settings cannot be updated", svc.id)
	}
	if ch.HealthCheckConfig != nil && ns.typ != typeDNSPublic {
		return nil, invalidInput("HealthCheckConfig (Route 53 health checks) is only supported in public DNS namespaces")
	}
	if svc.dnsConfig == nil {
		if ch.DNSConfig != nil {
			return nil, invalidInput("service %s has no DNS records to update", svc.id)
		}
		return nil, nil
	}
	if ch.DNSConfig == nil {
		return nil, invalidInput("Service.DnsConfig is required: service %s has DNS records, and omitting them would delete them", svc.id)
	}
	records := ch.DNSConfig.DNSRecords
	if len(records) != len(svc.dnsConfig.DNSRecords) {
		return nil, invalidInput("Service.DnsConfig.DnsRecords must list the service's %d record(s), not %d: only their TTLs can change",
			len(svc.dnsConfig.DNSRecords), len(records))
	}
	for i, rec := range records {
		if old := svc.dnsConfig.DNSRecords[i]; rec.Type != old.Type {
			return nil, invalidInput("Service.DnsConfig.DnsRecords[%d].Type is %s; the record type cannot change from %s", i, rec.Type, old.Type)
		}
		if rec.TTL == nil || *rec.TTL < 0 || *rec.TTL > 2147483647 {
			return nil, invalidInput("Service.DnsConfig.DnsRecords[%d].TTL is required, between 0 and 2147483647", i)
		}
	}
	return append([]dnsRecord(nil), records...), nil
}

// Service attributes.

// maxServiceAttributes is how many attributes a service can have.
const maxServiceAttributes = 30

func (f *Fake) apiGetServiceAttributes(c *awsproto.Call) (any, error) {
	var in struct {
		ServiceID string `json:"ServiceId"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	svc, err := f.service(in.ServiceID)
	if err != nil {
		return nil, err
	}
	attrs := maps.Clone(svc.attributes)
	if attrs == nil {
		attrs = map[string]string{}
	}
	return struct {
		ServiceAttributes serviceAttributesJSON `json:"ServiceAttributes"`
	}{serviceAttributesJSON{Attributes: attrs, ResourceOwner: awsproto.Account, ServiceArn: svc.arn}}, nil
}

type serviceAttributesJSON struct {
	Attributes    map[string]string `json:"Attributes"`
	ResourceOwner string            `json:"ResourceOwner"`
	ServiceArn    string            `json:"ServiceArn"`
}

func (f *Fake) apiUpdateServiceAttributes(c *awsproto.Call) (any, error) {
	var in struct {
		ServiceID  string            `json:"ServiceId"`
		Attributes map[string]string `json:"Attributes"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	if len(in.Attributes) == 0 {
		return nil, invalidInput("Attributes needs at least one attribute")
	}
	for _, k := range sortedKeys(in.Attributes) {
		if k == "" || len(k) > 255 {
			return nil, invalidInput("attribute key %q must be 1 to 255 characters", k)
		}
		if len(in.Attributes[k]) > 1024 {
			return nil, invalidInput("value of attribute %s is longer than 1024 characters", k)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	svc, err := f.service(in.ServiceID)
	if err != nil {
		return nil, err
	}
	merged := maps.Clone(svc.attributes)
	if merged == nil {
		merged = map[string]string{}
	}
	maps.Copy(merged, in.Attributes)
	if len(merged) > maxServiceAttributes {
		return nil, awsproto.Errorf(http.StatusBadRequest, "ServiceAttributesLimitExceededException",
			"service %s would have %d attributes; a service can have at most %d", svc.id, len(merged), maxServiceAttributes)
	}
	svc.attributes = merged
	f.emit(contract.EventServiceUpdated, svc.arn, map[string]string{"serviceId": svc.id, "name": svc.name})
	f.changes.Notify()
	return empty{}, nil
}

func (f *Fake) apiDeleteServiceAttributes(c *awsproto.Call) (any, error) {
	var in struct {
		ServiceID  string   `json:"ServiceId"`
		Attributes []string `json:"Attributes"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	if n := len(in.Attributes); n < 1 || n > maxServiceAttributes {
		return nil, invalidInput("Attributes must list 1 to %d keys, not %d", maxServiceAttributes, n)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	svc, err := f.service(in.ServiceID)
	if err != nil {
		return nil, err
	}
	for _, k := range in.Attributes {
		delete(svc.attributes, k)
	}
	f.emit(contract.EventServiceUpdated, svc.arn, map[string]string{"serviceId": svc.id, "name": svc.name})
	f.changes.Notify()
	return empty{}, nil
}
