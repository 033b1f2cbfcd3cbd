package cloudmap

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/meshsim/meshsim/sim/awsproto"
	"github.com/meshsim/meshsim/sim/contract"
)

// The JSON shapes below follow the servicediscovery 2017-03-14 model:
// PascalCase members, timestamps as epoch seconds.

// epochTime encodes a time as JSON 1.1 does: seconds since the epoch.
type epochTime time.Time

func (t epochTime) MarshalJSON() ([]byte, error) {
	ms := time.Time(t).UnixMilli()
	return []byte(strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64)), nil
}

type tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

type soa struct {
	TTL *int64 `json:"TTL,omitempty"`
}

type dnsProperties struct {
	HostedZoneID string `json:"HostedZoneId,omitempty"`
	SOA          *soa   `json:"SOA,omitempty"`
}

type httpProperties struct {
	HTTPName string `json:"HttpName"`
}

type namespaceProperties struct {
	DNSProperties  *dnsProperties  `json:"DnsProperties,omitempty"`
	HTTPProperties *httpProperties `json:"HttpProperties,omitempty"`
}

type namespaceJSON struct {
	Arn              string              `json:"Arn"`
	CreateDate       epochTime           `json:"CreateDate"`
	CreatorRequestID string              `json:"CreatorRequestId,omitempty"`
	Description      string              `json:"Description,omitempty"`
	ID               string              `json:"Id"`
	Name             string              `json:"Name"`
	Properties       namespaceProperties `json:"Properties"`
	ResourceOwner    string              `json:"ResourceOwner"`
	ServiceCount     int                 `json:"ServiceCount"`
	Type             string              `json:"Type"`
}

type dnsRecord struct {
	TTL  *int64 `json:"TTL"`
	Type string `json:"Type"`
}

type dnsConfig struct {
	DNSRecords    []dnsRecord `json:"DnsRecords"`
	NamespaceID   string      `json:"NamespaceId,omitempty"`
	RoutingPolicy string      `json:"RoutingPolicy,omitempty"`
}

type healthCheckCustomConfig struct {
	FailureThreshold *int32 `json:"FailureThreshold,omitempty"`
}

// healthCheckConfig is a Route 53 health check of a service in a public
// DNS namespace.
type healthCheckConfig struct {
	Type             string `json:"Type"`
	ResourcePath     string `json:"ResourcePath,omitempty"`
	FailureThreshold *int32 `json:"FailureThreshold,omitempty"`
}

type serviceJSON struct {
	Arn                     string                   `json:"Arn"`
	CreateDate              epochTime                `json:"CreateDate"`
	CreatedByAccount        string                   `json:"CreatedByAccount"`
	CreatorRequestID        string                   `json:"CreatorRequestId,omitempty"`
	Description             string                   `json:"Description,omitempty"`
	DNSConfig               *dnsConfig               `json:"DnsConfig,omitempty"`
	HealthCheckConfig       *healthCheckConfig       `json:"HealthCheckConfig,omitempty"`
	HealthCheckCustomConfig *healthCheckCustomConfig `json:"HealthCheckCustomConfig,omitempty"`
	ID                      string                   `json:"Id"`
	InstanceCount           int                      `json:"InstanceCount"`
	Name                    string                   `json:"Name"`
	NamespaceID             string                   `json:"NamespaceId,omitempty"`
	ResourceOwner           string                   `json:"ResourceOwner"`
	Type                    string                   `json:"Type"`
}

type instanceJSON struct {
	Attributes       map[string]string `json:"Attributes"`
	CreatedByAccount string            `json:"CreatedByAccount"`
	CreatorRequestID string            `json:"CreatorRequestId,omitempty"`
	ID               string            `json:"Id"`
}

type httpInstanceSummary struct {
	Attributes    map[string]string `json:"Attributes"`
	HealthStatus  string            `json:"HealthStatus"`
	InstanceID    string            `json:"InstanceId"`
	NamespaceName string            `json:"NamespaceName"`
	ServiceName   string            `json:"ServiceName"`
}

type operationJSON struct {
	CreateDate   epochTime         `json:"CreateDate"`
	ErrorCode    string            `json:"ErrorCode,omitempty"`
	ErrorMessage string            `json:"ErrorMessage,omitempty"`
	ID           string            `json:"Id"`
	OwnerAccount string            `json:"OwnerAccount"`
	Status       string            `json:"Status"`
	Targets      map[string]string `json:"Targets"`
	Type         string            `json:"Type"`
	UpdateDate   epochTime         `json:"UpdateDate"`
}

type filter struct {
	Name      string   `json:"Name"`
	Values    []string `json:"Values"`
	Condition string   `json:"Condition"`
}

type operationIDOutput struct {
	OperationID string `json:"OperationId"`
}

// opOutput answers a request that starts an asynchronous operation.
func opOutput(opID string, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return operationIDOutput{OperationID: opID}, nil
}

// serviceOutput answers CreateService and GetService.
type serviceOutput struct {
	Service serviceJSON `json:"Service"`
}

type empty struct{}

func (f *Fake) nsJSON(ns *namespace) namespaceJSON {
	out := namespaceJSON{
		Arn:              ns.arn,
		CreateDate:       epochTime(ns.created),
		CreatorRequestID: ns.creatorRequestID,
		Description:      ns.description,
		ID:               ns.id,
		Name:             ns.name,
		Properties:       namespaceProperties{HTTPProperties: &httpProperties{HTTPName: ns.name}},
		ResourceOwner:    awsproto.Account,
		ServiceCount:     f.serviceCount(ns.id),
		Type:             ns.typ,
	}
	if ns.isDNS() {
		out.Properties.DNSProperties = &dnsProperties{HostedZoneID: ns.hostedZoneID, SOA: &soa{TTL: ns.soaTTL}}
	}
	return out
}

func svcJSON(s *service) serviceJSON {
	return serviceJSON{
		Arn:                     s.arn,
		CreateDate:              epochTime(s.created),
		CreatedByAccount:        awsproto.Account,
		CreatorRequestID:        s.creatorRequestID,
		Description:             s.description,
		DNSConfig:               s.dnsConfig,
		HealthCheckConfig:       s.healthCheck,
		HealthCheckCustomConfig: s.customHealth,
		ID:                      s.id,
		InstanceCount:           len(s.instances),
		Name:                    s.name,
		NamespaceID:             s.namespaceID,
		ResourceOwner:           awsproto.Account,
		Type:                    s.typ,
	}
}

func opJSON(op *operation) operationJSON {
	return operationJSON{
		CreateDate:   epochTime(op.created),
		ErrorCode:    op.errorCode,
		ErrorMessage: op.errorMessage,
		ID:           op.id,
		OwnerAccount: awsproto.Account,
		Status:       op.status,
		Targets:      op.targets,
		Type:         op.typ,
		UpdateDate:   epochTime(op.updated),
	}
}

func (f *Fake) apiCreateHTTPNamespace(c *awsproto.Call) (any, error) {
	var in struct {
		Name             string `json:"Name"`
		CreatorRequestID string `json:"CreatorRequestId"`
		Description      string `json:"Description"`
		Tags             []tag  `json:"Tags"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	if err := validateNamespaceName(in.Name, 1024); err != nil {
		return nil, err
	}
	if err := validateDescription(in.Description); err != nil {
		return nil, err
	}
	if err := validateTags(in.Tags); err != nil {
		return nil, err
	}
	return f.apiCreateNamespace(c.Region, &namespace{
		name:             in.Name,
		typ:              typeHTTP,
		description:      in.Description,
		creatorRequestID: in.CreatorRequestID,
		tags:             tagMap(in.Tags),
	})
}

// dnsNamespaceInput is the request of CreatePrivateDnsNamespace and
// CreatePublicDnsNamespace (which has no Vpc).
type dnsNamespaceInput struct {
	Name             string `json:"Name"`
	Vpc              string `json:"Vpc"`
	CreatorRequestID string `json:"CreatorRequestId"`
	Description      string `json:"Description"`
	Properties       *struct {
		DNSProperties *struct {
			SOA *soa `json:"SOA"`
		} `json:"DnsProperties"`
	} `json:"Properties"`
	Tags []tag `json:"Tags"`
}

// soaTTL returns the SOA TTL a request sets, checked against the model.
func (in *dnsNamespaceInput) soaTTL() (*int64, error) {
	p := in.Properties
	if p == nil || p.DNSProperties == nil || p.DNSProperties.SOA == nil {
		return nil, nil
	}
	return checkSOATTL(p.DNSProperties.SOA.TTL)
}

func checkSOATTL(ttl *int64) (*int64, error) {
	if ttl == nil || *ttl < 0 || *ttl > 2147483647 {
		return nil, invalidInput("Properties.DnsProperties.SOA.TTL must be between 0 and 2147483647")
	}
	return ttl, nil
}

func (f *Fake) apiCreatePrivateDNSNamespace(c *awsproto.Call) (any, error) {
	return f.apiCreateDNSNamespace(c, typeDNSPrivate)
}

func (f *Fake) apiCreatePublicDNSNamespace(c *awsproto.Call) (any, error) {
	return f.apiCreateDNSNamespace(c, typeDNSPublic)
}

// apiCreateDNSNamespace creates a private (with a Vpc) or public DNS
// namespace.
func (f *Fake) apiCreateDNSNamespace(c *awsproto.Call, typ string) (any, error) {
	var in dnsNamespaceInput
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	if err := validateNamespaceName(in.Name, 253); err != nil {
		return nil, err
	}
	switch {
	case typ == typeDNSPrivate && in.Vpc == "":
		return nil, invalidInput("Vpc is required for a private DNS namespace")
	case typ == typeDNSPublic && in.Vpc != "":
		return nil, invalidInput("a public DNS namespace takes no Vpc")
	}
	if err := validateDescription(in.Description); err != nil {
		return nil, err
	}
	if err := validateTags(in.Tags); err != nil {
		return nil, err
	}
	ttl, err := in.soaTTL()
	if err != nil {
		return nil, err
	}
	return f.apiCreateNamespace(c.Region, &namespace{
		name:             in.Name,
		typ:              typ,
		description:      in.Description,
		creatorRequestID: in.CreatorRequestID,
		vpc:              in.Vpc,
		hostedZoneID:     newHostedZoneID(),
		soaTTL:           ttl,
		tags:             tagMap(in.Tags),
	})
}

// apiCreateNamespace gives a namespace that a Create*Namespace request
// describes its id, ARN and creation time, and starts creating it.
func (f *Fake) apiCreateNamespace(region string, ns *namespace) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ns.id = "ns-" + randomID(16)
	ns.arn = awsproto.ARN(region, "servicediscovery", "namespace/"+ns.id)
	ns.created = f.now()
	return opOutput(f.createNamespace(ns))
}

func (f *Fake) apiGetNamespace(c *awsproto.Call) (any, error) {
	var in struct {
		ID string `json:"Id"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	ns, err := f.namespace(in.ID)
	if err != nil {
		return nil, err
	}
	return struct {
		Namespace namespaceJSON `json:"Namespace"`
	}{f.nsJSON(ns)}, nil
}

func (f *Fake) apiListNamespaces(c *awsproto.Call) (any, error) {
	var in struct {
		Filters    []filter `json:"Filters"`
		MaxResults *int     `json:"MaxResults"`
		NextToken  string   `json:"NextToken"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var all []*namespace
	for _, ns := range f.namespaces {
		ok, err := matchNamespace(ns, in.Filters)
		if err != nil {
			return nil, err
		}
		if ok {
			all = append(all, ns)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].seq < all[j].seq })
	all, next, err := awsproto.Page(paging, all, func(ns *namespace) string { return seqKey(ns.seq) }, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	out := struct {
		Namespaces []namespaceJSON `json:"Namespaces"`
		NextToken  string          `json:"NextToken,omitempty"`
	}{Namespaces: []namespaceJSON{}, NextToken: next}
	for _, ns := range all {
		j := f.nsJSON(ns)
		j.CreatorRequestID = "" // NamespaceSummary has no CreatorRequestId
		out.Namespaces = append(out.Namespaces, j)
	}
	return out, nil
}

func matchNamespace(ns *namespace, filters []filter) (bool, error) {
	for _, flt := range filters {
		var (
			got   string
			conds []string // the conditions the filter allows
		)
		switch flt.Name {
		case "TYPE":
			got = ns.typ
			conds = []string{"EQ", "IN"}
		case "NAME", "HTTP_NAME":
			got = ns.name
			conds = []string{"EQ", "BEGINS_WITH"}
		case "RESOURCE_OWNER":
			got = "SELF"
			conds = []string{"EQ"}
		default:
			return false, invalidInput("Filters.Name must be TYPE, NAME, HTTP_NAME or RESOURCE_OWNER, not %q", flt.Name)
		}
		ok, err := matchFilter(flt, got, conds)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// matchFilter applies one ListNamespaces/ListServices filter to a value.
func matchFilter(flt filter, got string, allowed []string) (bool, error) {
	cond := flt.Condition
	if cond == "" {
		cond = "EQ"
	}
	permitted := false
	for _, c := range allowed {
		permitted = permitted || c == cond
	}
	if !permitted {
		return false, invalidInput("Condition %s is not supported for filter %s (use %s)", cond, flt.Name, strings.Join(allowed, ", "))
	}
	if len(flt.Values) == 0 {
		return false, invalidInput("filter %s needs at least one value", flt.Name)
	}
	switch cond {
	case "EQ", "BEGINS_WITH":
		if len(flt.Values) != 1 {
			return false, invalidInput("Condition %s takes exactly one value", cond)
		}
		if cond == "EQ" {
			return got == flt.Values[0], nil
		}
		return strings.HasPrefix(got, flt.Values[0]), nil
	}
	for _, v := range flt.Values {
		if got == v {
			return true, nil
		}
	}
	return false, nil
}

func (f *Fake) apiDeleteNamespace(c *awsproto.Call) (any, error) {
	var in struct {
		ID string `json:"Id"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return opOutput(f.deleteNamespace(in.ID))
}

// createServiceInput is the request of CreateService.
type createServiceInput struct {
	Name                    string                   `json:"Name"`
	CreatorRequestID        string                   `json:"CreatorRequestId"`
	Description             string                   `json:"Description"`
	DNSConfig               *dnsConfig               `json:"DnsConfig"`
	HealthCheckConfig       *healthCheckConfig       `json:"HealthCheckConfig"`
	HealthCheckCustomConfig *healthCheckCustomConfig `json:"HealthCheckCustomConfig"`
	NamespaceID             string                   `json:"NamespaceId"`
	Tags                    []tag                    `json:"Tags"`
	Type                    string                   `json:"Type"`
}

// validate checks what can be checked without the namespace.
func (in *createServiceInput) validate() error {
	for _, check := range []func() error{
		func() error { return validateServiceName(in.Name) },
		func() error { return validateDescription(in.Description) },
		func() error { return validateTags(in.Tags) },
		func() error { return validateHealthCheckConfig(in.HealthCheckConfig) },
	} {
		if err := check(); err != nil {
			return err
		}
	}
	if in.Type != "" && in.Type != serviceHTTP {
		return invalidInput("Type must be HTTP, not %q", in.Type)
	}
	if in.HealthCheckConfig != nil && in.HealthCheckCustomConfig != nil {
		return invalidInput("a service takes HealthCheckConfig or HealthCheckCustomConfig, not both")
	}
	if c := in.HealthCheckCustomConfig; c != nil && c.FailureThreshold != nil && (*c.FailureThreshold < 1 || *c.FailureThreshold > 10) {
		return invalidInput("HealthCheckCustomConfig.FailureThreshold must be between 1 and 10")
	}
	return nil
}

// serviceType checks the request's DnsConfig and HealthCheckConfig against
// namespace ns and returns the type of the service it creates.
func (in *createServiceInput) serviceType(ns *namespace) (string, error) {
	if in.HealthCheckConfig != nil && ns.typ != typeDNSPublic {
		return "", invalidInput("HealthCheckConfig (Route 53 health checks) is only supported in public DNS namespaces; use HealthCheckCustomConfig")
	}
	if in.DNSConfig == nil {
		return serviceHTTP, nil
	}
	if in.Type == serviceHTTP {
		return "", invalidInput("a service of Type HTTP cannot have a DnsConfig")
	}
	if !ns.isDNS() {
		return "", invalidInput("DnsConfig is not supported in HTTP namespace %s", ns.id)
	}
	if err := validateDNSConfig(in.DNSConfig); err != nil {
		return "", err
	}
	return serviceDNSHTTP, nil
}

func (f *Fake) apiCreateService(c *awsproto.Call) (any, error) {
	var in createServiceInput
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	if err := in.validate(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	nsRef := in.NamespaceID
	if nsRef == "" && in.DNSConfig != nil {
		nsRef = in.DNSConfig.NamespaceID
	}
	if nsRef == "" {
		return nil, invalidInput("NamespaceId is required")
	}
	ns, err := f.namespace(nsRef)
	if err != nil {
		return nil, err
	}
	typ, err := in.serviceType(ns)
	if err != nil {
		return nil, err
	}
	for _, s := range f.services {
		if s.namespaceID != ns.id || s.name != in.Name {
			continue
		}
		if in.CreatorRequestID != "" && s.creatorRequestID == in.CreatorRequestID {
			return serviceOutput{svcJSON(s)}, nil
		}
		return nil, &awsproto.Error{Status: http.StatusBadRequest, Code: "ServiceAlreadyExists",
			Message: "Service " + in.Name + " already exists in namespace " + ns.id,
			Extra:   map[string]any{"ServiceId": s.id, "ServiceArn": s.arn, "CreatorRequestId": s.creatorRequestID}}
	}
	var dc *dnsConfig
	if in.DNSConfig != nil {
		dc = &dnsConfig{DNSRecords: in.DNSConfig.DNSRecords, RoutingPolicy: in.DNSConfig.RoutingPolicy}
		if dc.RoutingPolicy == "" {
			dc.RoutingPolicy = "MULTIVALUE"
		}
	}
	id := "srv-" + randomID(16)
	f.seq++
	svc := &service{
		seq:              f.seq,
		id:               id,
		arn:              awsproto.ARN(c.Region, "servicediscovery", "service/"+id),
		name:             in.Name,
		namespaceID:      ns.id,
		typ:              typ,
		description:      in.Description,
		creatorRequestID: in.CreatorRequestID,
		dnsConfig:        dc,
		customHealth:     in.HealthCheckCustomConfig,
		healthCheck:      in.HealthCheckConfig,
		created:          f.now(),
		instances:        make(map[string]*instance),
		tags:             tagMap(in.Tags),
	}
	if svc.customHealth != nil && svc.customHealth.FailureThreshold == nil {
		one := int32(1)
		svc.customHealth = &healthCheckCustomConfig{FailureThreshold: &one}
	}
	f.services[id] = svc
	f.emit(contract.EventServiceCreated, svc.arn, map[string]string{"serviceId": id, "name": svc.name, "namespaceId": ns.id, "namespace": ns.name})
	f.changes.Notify()
	return serviceOutput{svcJSON(svc)}, nil
}

func (f *Fake) apiGetService(c *awsproto.Call) (any, error) {
	var in struct {
		ID string `json:"Id"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	svc, err := f.service(in.ID)
	if err != nil {
		return nil, err
	}
	return serviceOutput{svcJSON(svc)}, nil
}

func (f *Fake) apiListServices(c *awsproto.Call) (any, error) {
	var in struct {
		Filters    []filter `json:"Filters"`
		MaxResults *int     `json:"MaxResults"`
		NextToken  string   `json:"NextToken"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var all []*service
	for _, s := range f.services {
		ok, err := matchService(s, in.Filters)
		if err != nil {
			return nil, err
		}
		if ok {
			all = append(all, s)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].seq < all[j].seq })
	all, next, err := awsproto.Page(paging, all, func(s *service) string { return seqKey(s.seq) }, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	out := struct {
		Services  []serviceJSON `json:"Services"`
		NextToken string        `json:"NextToken,omitempty"`
	}{Services: []serviceJSON{}, NextToken: next}
	for _, s := range all {
		j := svcJSON(s)
		j.CreatorRequestID, j.NamespaceID = "", "" // ServiceSummary has neither
		out.Services = append(out.Services, j)
	}
	return out, nil
}

// matchService applies ListServices filters to a service. Unlike
// matchNamespace it checks every filter, so a bad one is reported even after
// one that does not match.
func matchService(s *service, filters []filter) (bool, error) {
	keep := true
	for _, flt := range filters {
		var ok bool
		var err error
		switch flt.Name {
		case "NAMESPACE_ID":
			ok, err = matchFilter(flt, s.namespaceID, []string{"EQ", "IN"})
		case "RESOURCE_OWNER":
			ok, err = matchFilter(flt, "SELF", []string{"EQ"})
		default:
			err = invalidInput("Filters.Name must be NAMESPACE_ID or RESOURCE_OWNER, not %q", flt.Name)
		}
		if err != nil {
			return false, err
		}
		keep = keep && ok
	}
	return keep, nil
}

func (f *Fake) apiDeleteService(c *awsproto.Call) (any, error) {
	var in struct {
		ID string `json:"Id"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	svc, err := f.service(in.ID)
	if err != nil {
		return nil, err
	}
	if n := len(svc.instances); n > 0 {
		return nil, awsproto.Errorf(http.StatusBadRequest, "ResourceInUse",
			"Service %s has %d registered instance(s); deregister them before deleting the service", svc.id, n)
	}
	delete(f.services, svc.id)
	f.emit(contract.EventServiceDeleted, svc.arn, map[string]string{"serviceId": svc.id, "name": svc.name})
	f.changes.Notify()
	return empty{}, nil
}

func (f *Fake) apiRegisterInstance(c *awsproto.Call) (any, error) {
	var in struct {
		Attributes       map[string]string `json:"Attributes"`
		InstanceID       string            `json:"InstanceId"`
		ServiceID        string            `json:"ServiceId"`
		CreatorRequestID string            `json:"CreatorRequestId"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return opOutput(f.registerInstance(in.ServiceID, in.InstanceID, in.CreatorRequestID, in.Attributes))
}

func (f *Fake) apiDeregisterInstance(c *awsproto.Call) (any, error) {
	var in struct {
		InstanceID string `json:"InstanceId"`
		ServiceID  string `json:"ServiceId"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return opOutput(f.deregisterInstance(in.ServiceID, in.InstanceID))
}

func (f *Fake) apiGetInstance(c *awsproto.Call) (any, error) {
	var in struct {
		InstanceID string `json:"InstanceId"`
		ServiceID  string `json:"ServiceId"`
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
	inst, ok := svc.instances[in.InstanceID]
	if !ok {
		return nil, errInstanceNotFound(svc.id, in.InstanceID)
	}
	return struct {
		Instance      instanceJSON `json:"Instance"`
		ResourceOwner string       `json:"ResourceOwner"`
	}{
		Instance: instanceJSON{Attributes: inst.attrs, CreatedByAccount: awsproto.Account,
			CreatorRequestID: inst.creatorRequestID, ID: inst.id},
		ResourceOwner: awsproto.Account,
	}, nil
}

func (f *Fake) apiListInstances(c *awsproto.Call) (any, error) {
	var in struct {
		ServiceID  string `json:"ServiceId"`
		MaxResults *int   `json:"MaxResults"`
		NextToken  string `json:"NextToken"`
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
	ids := make([]string, 0, len(svc.instances))
	for id := range svc.instances {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	ids, next, err := awsproto.Page(paging, ids, awsproto.Self, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	out := struct {
		Instances     []instanceJSON `json:"Instances"`
		NextToken     string         `json:"NextToken,omitempty"`
		ResourceOwner string         `json:"ResourceOwner"`
	}{Instances: []instanceJSON{}, NextToken: next, ResourceOwner: awsproto.Account}
	for _, id := range ids {
		inst := svc.instances[id]
		out.Instances = append(out.Instances, instanceJSON{Attributes: inst.attrs, CreatedByAccount: awsproto.Account, ID: id})
	}
	return out, nil
}

type discoverInput struct {
	NamespaceName      string            `json:"NamespaceName"`
	ServiceName        string            `json:"ServiceName"`
	HealthStatus       string            `json:"HealthStatus"`
	MaxResults         *int              `json:"MaxResults"`
	OptionalParameters map[string]string `json:"OptionalParameters"`
	OwnerAccount       string            `json:"OwnerAccount"`
	QueryParameters    map[string]string `json:"QueryParameters"`
}

// decodeDiscover decodes a DiscoverInstances or DiscoverInstancesRevision
// request. A namespace of another account is not found.
func decodeDiscover(c *awsproto.Call) (discoverInput, error) {
	var in discoverInput
	if err := c.Decode(&in); err != nil {
		return in, err
	}
	if in.OwnerAccount != "" && in.OwnerAccount != awsproto.Account {
		return in, errNamespaceNotFound(in.NamespaceName)
	}
	return in, nil
}

func (f *Fake) apiDiscoverInstances(c *awsproto.Call) (any, error) {
	in, err := decodeDiscover(c)
	if err != nil {
		return nil, err
	}
	max := 100
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 1000 {
			return nil, invalidInput("MaxResults must be between 1 and 1000")
		}
		max = *in.MaxResults
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	found, rev, err := f.discover(in.NamespaceName, in.ServiceName, in.HealthStatus, in.QueryParameters, in.OptionalParameters)
	if err != nil {
		return nil, err
	}
	if len(found) > max {
		found = found[:max]
	}
	out := struct {
		Instances         []httpInstanceSummary `json:"Instances"`
		InstancesRevision int64                 `json:"InstancesRevision"`
	}{Instances: []httpInstanceSummary{}, InstancesRevision: rev}
	for _, fi := range found {
		out.Instances = append(out.Instances, httpInstanceSummary{
			Attributes:    fi.inst.attrs,
			HealthStatus:  fi.health,
			InstanceID:    fi.inst.id,
			NamespaceName: in.NamespaceName,
			ServiceName:   in.ServiceName,
		})
	}
	return out, nil
}

func (f *Fake) apiDiscoverInstancesRevision(c *awsproto.Call) (any, error) {
	in, err := decodeDiscover(c)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	_, rev, err := f.discover(in.NamespaceName, in.ServiceName, "ALL", nil, nil)
	if err != nil {
		return nil, err
	}
	return struct {
		InstancesRevision int64 `json:"InstancesRevision"`
	}{rev}, nil
}

func (f *Fake) apiUpdateInstanceCustomHealthStatus(c *awsproto.Call) (any, error) {
	var in struct {
		InstanceID string `json:"InstanceId"`
		ServiceID  string `json:"ServiceId"`
		Status     string `json:"Status"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.updateHealth(in.ServiceID, in.InstanceID, in.Status); err != nil {
		return nil, err
	}
	return empty{}, nil
}

func (f *Fake) apiGetOperation(c *awsproto.Call) (any, error) {
	var in struct {
		OperationID  string `json:"OperationId"`
		OwnerAccount string `json:"OwnerAccount"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	op, ok := f.operations[in.OperationID]
	if !ok || (in.OwnerAccount != "" && in.OwnerAccount != awsproto.Account) {
		return nil, awsproto.Errorf(http.StatusBadRequest, "OperationNotFound", "Operation not found: %s", in.OperationID)
	}
	return struct {
		Operation operationJSON `json:"Operation"`
	}{opJSON(op)}, nil
}

// paging is how Cloud Map's List operations page: up to 100 items (the
// default), opaque NextTokens, InvalidInput for a bad value.
var paging = awsproto.Paging{Default: 100, Max: 100, SizeMember: "MaxResults", TokenMember: "NextToken", Code: "InvalidInput"}

// seqKey is the paging key of an item ordered by its sequence number.
func seqKey(seq uint64) string { return fmt.Sprintf("%020d", seq) }
