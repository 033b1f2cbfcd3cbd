package route53

import (
	"fmt"
	"net/http"
	"net/netip"
	"reflect"
	"slices"
	"strings"

	"github.com/meshsim/meshsim/sim/awsproto"
	"github.com/meshsim/meshsim/sim/contract"
)

// recordTypes are the record types Route 53 accepts.
var recordTypes = []string{"A", "AAAA", "CAA", "CNAME", "DS", "HTTPS", "MX", "NAPTR", "NS", "PTR", "SOA", "SPF", "SRV", "SSHFP", "SVCB", "TLSA", "TXT"}

// describe names a record set as AWS's messages do.
func describe(s recordSet) string {
	d := fmt.Sprintf("[name='%s', type='%s'", s.Name, s.Type)
	if s.SetIdentifier != "" {
		d += fmt.Sprintf(", set-identifier='%s'", s.SetIdentifier)
	}
	return d + "]"
}

// changeDescription names a change as AWS's InvalidInput messages do.
func changeDescription(c change) string {
	id := "null"
	if c.ResourceRecordSet.SetIdentifier != "" {
		id = c.ResourceRecordSet.SetIdentifier
	}
	return fmt.Sprintf("Change with [Action=%s, Name=%s, Type=%s, SetIdentifier=%s]", c.Action, c.ResourceRecordSet.Name, c.ResourceRecordSet.Type, id)
}

// policy names a record set's routing policy.
func policy(s recordSet) string {
	switch {
	case s.Weight != nil:
		return "weighted"
	case s.Failover != "":
		return "failover"
	}
	return "simple"
}

// checkShape validates one change on its own, as Route 53's request
// validation does (InvalidInput), and normalises its names; n is the
// change's index from 1.
func (f *Fake) checkShape(c *change, n int) error {
	s := &c.ResourceRecordSet
	field := fmt.Sprintf("changeBatch.changes.%d.member", n)
	switch c.Action {
	case "CREATE", "DELETE", "UPSERT":
	default:
		return awsproto.Errorf(http.StatusBadRequest, "InvalidInput", "1 validation error detected: Value '%s' at '%s.action' failed to satisfy constraint: Member must satisfy enum value set: [CREATE, DELETE, UPSERT]", c.Action, field)
	}
	if s.Name == "" {
		return awsproto.Errorf(http.StatusBadRequest, "InvalidInput", "1 validation error detected: Value null at '%s.resourceRecordSet.name' failed to satisfy constraint: Member must not be null", field)
	}
	if !slices.Contains(recordTypes, s.Type) {
		return awsproto.Errorf(http.StatusBadRequest, "InvalidInput", "1 validation error detected: Value '%s' at '%s.resourceRecordSet.type' failed to satisfy constraint: Member must satisfy enum value set: [%s]", s.Type, field, strings.Join(recordTypes, ", "))
	}
	s.Name = canonical(s.Name)
	if err := validName(s.Name); err != nil {
		return awsproto.Errorf(http.StatusBadRequest, "InvalidInput", "Invalid request: %v in %s", err, changeDescription(*c))
	}
	if s.Region != "" || s.GeoLocation != nil || s.MultiValueAnswer != nil {
		return awsproto.Errorf(http.StatusBadRequest, "InvalidInput", "meshsim's Route 53 answers simple, weighted and failover routing only: latency, geolocation and multivalue answer routing are not simulated (%s)", changeDescription(*c))
	}
	hasAlias, hasRecords := s.AliasTarget != nil, s.TTL != nil || len(s.ResourceRecords) > 0
	if hasAlias == hasRecords || (hasRecords && (s.TTL == nil || len(s.ResourceRecords) == 0)) {
		found := "none"
		if hasAlias && hasRecords {
			found = "more than one"
		}
		return awsproto.Errorf(http.StatusBadRequest, "InvalidInput", "Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords], or TrafficPolicyInstanceId], but found %s in %s", found, changeDescription(*c))
	}
	if s.TTL != nil && (*s.TTL < 0 || *s.TTL > 2147483647) {
		return awsproto.Errorf(http.StatusBadRequest, "InvalidInput", "1 validation error detected: Value '%d' at '%s.resourceRecordSet.tTL' failed to satisfy constraint: Member must have value between 0 and 2147483647", *s.TTL, field)
	}
	if hasAlias {
		s.AliasTarget.DNSName = canonical(s.AliasTarget.DNSName)
		s.AliasTarget.HostedZoneId = s.AliasTarget.HostedZoneId[strings.LastIndex(s.AliasTarget.HostedZoneId, "/")+1:]
	}
	return checkPolicy(c, field)
}

// checkPolicy validates a change's routing policy fields.
func checkPolicy(c *change, field string) error {
	s := &c.ResourceRecordSet
	policies := 0
	if s.Weight != nil {
		policies++
		if *s.Weight < 0 || *s.Weight > 255 {
			return awsproto.Errorf(http.StatusBadRequest, "InvalidInput", "1 validation error detected: Value '%d' at '%s.resourceRecordSet.weight' failed to satisfy constraint: Member must have value between 0 and 255", *s.Weight, field)
		}
	}
	if s.Failover != "" {
		policies++
		if s.Failover != "PRIMARY" && s.Failover != "SECONDARY" {
			return awsproto.Errorf(http.StatusBadRequest, "InvalidInput", "1 validation error detected: Value '%s' at '%s.resourceRecordSet.failover' failed to satisfy constraint: Member must satisfy enum value set: [PRIMARY, SECONDARY]", s.Failover, field)
		}
	}
	switch {
	case policies > 1:
		return awsproto.Errorf(http.StatusBadRequest, "InvalidInput", "Invalid request: Expected exactly one of [Weight, Region, Failover, GeoLocation, MultiValueAnswer, GeoProximityLocation, or CidrRoutingConfig], but found more than one in %s", changeDescription(*c))
	case policies == 1 && s.SetIdentifier == "":
		return awsproto.Errorf(http.StatusBadRequest, "InvalidInput", "Invalid request: Missing field 'SetIdentifier' in %s", changeDescription(*c))
	case policies == 0 && s.SetIdentifier != "":
		return awsproto.Errorf(http.StatusBadRequest, "InvalidInput", "Invalid request: Expected exactly one of [Weight, Region, Failover, GeoLocation, MultiValueAnswer, GeoProximityLocation, or CidrRoutingConfig], but found none in %s", changeDescription(*c))
	case len(s.SetIdentifier) > 128:
		return awsproto.Errorf(http.StatusBadRequest, "InvalidInput", "1 validation error detected: Value at '%s.resourceRecordSet.setIdentifier' failed to satisfy constraint: Member must have length less than or equal to 128", field)
	}
	return nil
}

// checkValues returns the batch messages about s's values.
func checkValues(s recordSet) []string {
	var msgs []string
	for _, rr := range s.ResourceRecords {
		v := strings.TrimSpace(rr.Value)
		switch s.Type {
		case "A":
			if a, err := netip.ParseAddr(v); err != nil || !a.Is4() {
				msgs = append(msgs, fmt.Sprintf("Invalid Resource Record: 'FATAL problem: ARRDATAIllegalIPv4Address (Value is not a valid IPv4 address) encountered with '%s''", rr.Value))
			}
		case "AAAA":
			if a, err := netip.ParseAddr(v); err != nil || !a.Is6() || a.Is4In6() {
				msgs = append(msgs, fmt.Sprintf("Invalid Resource Record: 'FATAL problem: AAAARRDATAIllegalIPv6Address (Value is not a valid IPv6 address) encountered with '%s''", rr.Value))
			}
		case "CNAME":
			if validName(canonical(v)) != nil {
				msgs = append(msgs, fmt.Sprintf("Invalid Resource Record: 'FATAL problem: DomainLabelEmpty (Domain label is empty) encountered with '%s''", rr.Value))
			}
		}
	}
	if s.Type == "CNAME" && len(s.ResourceRecords) > 1 {
		msgs = append(msgs, fmt.Sprintf("RRSet of type CNAME with DNS name %s is not permitted because it contains more than one resource record", s.Name))
	}
	return msgs
}

// batch applies a change batch to a copy of a zone's record sets,
// collecting every message AWS would give.
type batch struct {
	f    *Fake
	z    *zone
	sets []recordSet
	msgs []string
}

func (b *batch) fail(format string, args ...any) {
	b.msgs = append(b.msgs, fmt.Sprintf(format, args...))
}

func (b *batch) find(s recordSet) int {
	return slices.IndexFunc(b.sets, func(o recordSet) bool {
		return o.Name == s.Name && o.Type == s.Type && o.SetIdentifier == s.SetIdentifier
	})
}

// apply applies one change.
func (b *batch) apply(c change) {
	s := c.ResourceRecordSet
	if !inZone(s.Name, b.z.name) {
		b.fail("RRSet with DNS name %s is not permitted in zone %s", s.Name, b.z.name)
		return
	}
	i := b.find(s)
	switch c.Action {
	case "DELETE":
		switch {
		case i < 0:
			b.fail("Tried to delete resource record set %s but it was not found", describe(s))
		case !sameSet(b.sets[i], s):
			b.fail("Tried to delete resource record set %s but the values provided do not match the current values", describe(s))
		case s.Name == b.z.name && s.Type == "SOA":
			b.fail("A HostedZone must contain exactly one SOA record.")
		case s.Name == b.z.name && s.Type == "NS":
			b.fail("A HostedZone must contain at least one NS record for the zone itself.")
		default:
			b.sets = slices.Delete(b.sets, i, i+1)
		}
		return
	case "CREATE":
		if i >= 0 {
			b.fail("Tried to create resource record set %s but it already exists", describe(s))
			return
		}
	}
	if !b.valid(s) {
		return
	}
	if i >= 0 {
		b.sets[i] = s
	} else {
		b.sets = append(b.sets, s)
	}
}

// valid checks s against the other record sets and the health checks
// before it is created or replaces its namesake.
func (b *batch) valid(s recordSet) bool {
	n := len(b.msgs)
	b.msgs = append(b.msgs, checkValues(s)...)
	if s.Type == "CNAME" && s.Name == b.z.name {
		b.fail("RRSet of type CNAME with DNS name %s is not permitted at apex in zone %s", s.Name, b.z.name)
	}
	for _, o := range b.sets {
		if o.Name != s.Name || (o.Type == s.Type && o.SetIdentifier == s.SetIdentifier) {
			continue
		}
		switch {
		case s.Type == "CNAME" && o.Type != "CNAME":
			b.fail("RRSet of type CNAME with DNS name %s is not permitted as it conflicts with other records with the same DNS name in zone %s", s.Name, b.z.name)
		case o.Type == "CNAME" && s.Type != "CNAME":
			b.fail("RRSet of type %s with DNS name %s is not permitted because a conflicting RRSet of type CNAME with the same DNS name already exists in zone %s", s.Type, s.Name, b.z.name)
		case o.Type != s.Type:
		case policy(o) != policy(s) && policy(o) == "simple":
			b.fail("RRSet with DNS name %s, type %s, SetIdentifier %s cannot be created as a non-%s set exists with the same name and type.", s.Name, s.Type, s.SetIdentifier, policy(s))
		case policy(o) != policy(s):
			b.fail("RRSet with DNS name %s, type %s cannot be created as %s sets exist with the same name and type.", s.Name, s.Type, policy(o))
		case s.Failover != "" && o.Failover == s.Failover:
			b.fail("Tried to create resource record set %s with failover %s, but a %s resource record set with the same name and type already exists", describe(s), s.Failover, o.Failover)
		}
	}
	if s.HealthCheckId != "" {
		if _, ok := b.f.checks[s.HealthCheckId]; !ok {
			b.fail("The health check with ID %s does not exist (resource record set %s)", s.HealthCheckId, describe(s))
		}
	}
	if a := s.AliasTarget; a != nil {
		b.checkAlias(s, a)
	}
	return len(b.msgs) == n
}

// checkAlias checks that an alias's target is a record set of s's type in
// the target zone (after this batch's earlier changes, when the target
// zone is this one).
func (b *batch) checkAlias(s recordSet, a *aliasTarget) {
	tz, ok := b.f.zones[a.HostedZoneId]
	switch {
	case !ok:
		b.fail("Tried to create an alias that targets %s, type %s in zone %s, but the alias target zone does not exist", a.DNSName, s.Type, a.HostedZoneId)
		return
	case !inZone(a.DNSName, tz.name):
		b.fail("Tried to create an alias that targets %s, type %s in zone %s, but the alias target name does not lie within the target zone", a.DNSName, s.Type, a.HostedZoneId)
		return
	case a.DNSName == s.Name && tz == b.z:
		b.fail("Tried to create an alias that targets %s, type %s in zone %s, but an alias cannot target itself", a.DNSName, s.Type, a.HostedZoneId)
		return
	}
	sets := tz.sets
	if tz == b.z {
		sets = b.sets
	}
	if !slices.ContainsFunc(sets, func(o recordSet) bool { return o.Name == a.DNSName && o.Type == s.Type }) {
		b.fail("Tried to create an alias that targets %s, type %s in zone %s, but that target was not found", a.DNSName, s.Type, a.HostedZoneId)
	}
}

// sameSet reports whether a DELETE's record set matches the stored one.
func sameSet(stored, given recordSet) bool {
	return reflect.DeepEqual(stored, given)
}

// sortSets orders record sets as ListResourceRecordSets lists them: by
// name (labels from the top down), type and set identifier.
func sortSets(sets []recordSet) {
	slices.SortFunc(sets, func(a, b recordSet) int {
		return cmpOr(strings.Compare(reversedName(a.Name), reversedName(b.Name)), strings.Compare(a.Type, b.Type), strings.Compare(a.SetIdentifier, b.SetIdentifier))
	})
}

func (f *Fake) changeResourceRecordSets(w http.ResponseWriter, r *http.Request, segs []string) {
	var req changeResourceRecordSetsRequest
	if err := decodeXML(r, &req); err != nil {
		writeError(w, err)
		return
	}
	changes := req.ChangeBatch.Changes
	if len(changes) == 0 {
		writeError(w, awsproto.Errorf(http.StatusBadRequest, "InvalidInput", "1 validation error detected: Value '[]' at 'changeBatch.changes' failed to satisfy constraint: Member must have length greater than or equal to 1"))
		return
	}
	for i := range changes {
		if err := f.checkShape(&changes[i], i+1); err != nil {
			writeError(w, err)
			return
		}
	}
	f.mu.Lock()
	z, err := f.zoneByID(segs[1])
	if err != nil {
		f.mu.Unlock()
		writeError(w, err)
		return
	}
	b := &batch{f: f, z: z, sets: slices.Clone(z.sets)}
	for _, c := range changes {
		b.apply(c)
	}
	if len(b.msgs) > 0 {
		f.mu.Unlock()
		writeError(w, &batchError{messages: b.msgs})
		return
	}
	sortSets(b.sets)
	z.sets = b.sets
	c := f.newChange(req.ChangeBatch.Comment)
	z.served = append(z.served, servedSets{from: c.insync, sets: slices.Clone(b.sets)})
	info := c.info(f.now())
	f.mu.Unlock()
	f.emit(contract.EventRecordSetsChanged, "/hostedzone/"+z.id, map[string]string{"change": c.id, "zone": z.name, "changes": fmt.Sprint(len(changes))})
	writeXML(w, http.StatusOK, changeInfoResponse{XMLName: xmlName("ChangeResourceRecordSetsResponse"), Xmlns: xmlns, ChangeInfo: info})
}

func (f *Fake) listResourceRecordSets(w http.ResponseWriter, r *http.Request, segs []string) {
	n, err := maxItems(r, 300)
	if err != nil {
		writeError(w, err)
		return
	}
	q := r.URL.Query()
	name, typ, ident := q.Get("name"), q.Get("type"), q.Get("identifier")
	switch {
	case typ != "" && name == "":
		writeError(w, awsproto.Errorf(http.StatusBadRequest, "InvalidInput", "The input is not valid: StartRecordType was specified without StartRecordName"))
		return
	case ident != "" && typ == "":
		writeError(w, awsproto.Errorf(http.StatusBadRequest, "InvalidInput", "The input is not valid: StartRecordIdentifier was specified without StartRecordType"))
		return
	case typ != "" && !slices.Contains(recordTypes, typ):
		writeError(w, awsproto.Errorf(http.StatusBadRequest, "InvalidInput", "1 validation error detected: Value '%s' at 'startRecordType' failed to satisfy constraint: Member must satisfy enum value set: [%s]", typ, strings.Join(recordTypes, ", ")))
		return
	}
	start := recordSet{Type: typ, SetIdentifier: ident}
	if name != "" {
		start.Name = canonical(name)
	}
	f.mu.Lock()
	z, err := f.zoneByID(segs[1])
	if err != nil {
		f.mu.Unlock()
		writeError(w, err)
		return
	}
	resp := listResourceRecordSetsResponse{Xmlns: xmlns, MaxItems: n, ResourceRecordSets: []recordSet{}}
	for _, s := range z.sets {
		if name != "" && cmpOr(strings.Compare(reversedName(s.Name), reversedName(start.Name)), strings.Compare(s.Type, start.Type), strings.Compare(s.SetIdentifier, start.SetIdentifier)) < 0 {
			continue
		}
		if len(resp.ResourceRecordSets) == n {
			resp.IsTruncated, resp.NextRecordName, resp.NextRecordType, resp.NextRecordIdentifier = true, s.Name, s.Type, s.SetIdentifier
			break
		}
		resp.ResourceRecordSets = append(resp.ResourceRecordSets, s)
	}
	f.mu.Unlock()
	writeXML(w, http.StatusOK, resp)
}
