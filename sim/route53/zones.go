package route53

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meshsim/meshsim/sim/awsproto"
	"github.com/meshsim/meshsim/sim/contract"
)

// zone is a hosted zone: the record sets as the API shows them, and the
// versions of those the name servers answer with as each change
// propagates.
type zone struct {
	id, name, callerRef string
	config              hostedZoneConfig
	vpc                 *vpc
	sets                []recordSet // sorted (see sortSets)
	// served are the record sets as each change left them, oldest first;
	// the name servers answer with the last one whose time has come.
	served []servedSets
}

type servedSets struct {
	from time.Time
	sets []recordSet
}

// nameServers are the delegation set of every public zone, in Route 53's
// style.
var nameServers = []string{"ns-101.awsdns-12.com", "ns-1203.awsdns-22.org", "ns-703.awsdns-23.net", "ns-1703.awsdns-21.co.uk"}

// canonical returns a domain name as Route 53 stores it: lower case with a
// trailing dot.
func canonical(name string) string {
	name = strings.ToLower(strings.TrimSpace(name))
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	return name
}

// validName checks a domain name (canonical form): at most 255 octets,
// labels of 1 to 63 letters, digits, hyphens or underscores, and an
// optional leading "*" label.
func validName(name string) error {
	if len(name) > 255 {
		return fmt.Errorf("domain name %q is longer than 255 characters", name)
	}
	labels := strings.Split(strings.TrimSuffix(name, "."), ".")
	for i, l := range labels {
		if l == "" || len(l) > 63 {
			return fmt.Errorf("domain name %q has an empty label or one longer than 63 characters", name)
		}
		if l == "*" && i == 0 {
			continue
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("domain name %q contains the character %q", name, c)
			}
		}
	}
	return nil
}

// inZone reports whether name (canonical) is zoneName or below it.
func inZone(name, zoneName string) bool {
	return name == zoneName || strings.HasSuffix(name, "."+zoneName)
}

// decodeXML reads an XML request body into v; malformed XML is an
// InvalidInput error.
func decodeXML(r *http.Request, v any) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return awsproto.Errorf(http.StatusBadRequest, "InvalidInput", "reading the request body: %v", err)
	}
	if err := xml.Unmarshal(b, v); err != nil {
		return awsproto.Errorf(http.StatusBadRequest, "InvalidInput", "the request body is not valid XML: %v", err)
	}
	return nil
}

func (z *zone) xml() hostedZoneXML {
	cfg := z.config
	return hostedZoneXML{Id: "/hostedzone/" + z.id, Name: z.name, CallerReference: z.callerRef, Config: &cfg, ResourceRecordSetCount: int64(len(z.sets))}
}

func (f *Fake) createHostedZone(w http.ResponseWriter, r *http.Request, _ []string) {
	var req createHostedZoneRequest
	if err := decodeXML(r, &req); err != nil {
		writeError(w, err)
		return
	}
	name := canonical(req.Name)
	switch {
	case req.Name == "":
		writeError(w, awsproto.Errorf(http.StatusBadRequest, "InvalidInput", "1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null"))
		return
	case req.CallerReference == "":
		writeError(w, awsproto.Errorf(http.StatusBadRequest, "InvalidInput", "1 validation error detected: Value null at 'callerReference' failed to satisfy constraint: Member must not be null"))
		return
	case len(req.CallerReference) > 128:
		writeError(w, awsproto.Errorf(http.StatusBadRequest, "InvalidInput", "1 validation error detected: Value at 'callerReference' failed to satisfy constraint: Member must have length less than or equal to 128"))
		return
	}
	if err := validName(name); err != nil || name == "." {
		writeError(w, awsproto.Errorf(http.StatusBadRequest, "InvalidDomainName", "%s is reserved by AWS or is not a valid domain name", req.Name))
		return
	}
	z := &zone{id: "Z" + newID(), name: name, callerRef: req.CallerReference}
	if req.HostedZoneConfig != nil {
		z.config = *req.HostedZoneConfig
	}
	if req.VPC != nil && req.VPC.VPCId != "" {
		z.vpc = req.VPC
		z.config.PrivateZone = true
	} else if z.config.PrivateZone {
		writeError(w, awsproto.Errorf(http.StatusBadRequest, "InvalidInput", "When you're creating a private hosted zone (when you specify true for PrivateZone), you must also specify values for VPCId and VPCRegion."))
		return
	}
	ttl := int64(900)
	z.sets = []recordSet{
		{Name: name, Type: "NS", TTL: ptr(int64(172800)), ResourceRecords: values(nameServers, ".")},
		{Name: name, Type: "SOA", TTL: &ttl, ResourceRecords: []resourceRecord{{Value: nameServers[0] + ". awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400"}}},
	}
	sortSets(z.sets)

	f.mu.Lock()
	if _, dup := f.zoneCallers[req.CallerReference]; dup {
		f.mu.Unlock()
		writeError(w, awsproto.Errorf(http.StatusConflict, "HostedZoneAlreadyExists",
			"A hosted zone has already been created with the specified caller reference."))
		return
	}
	f.zoneCallers[req.CallerReference] = z.id
	c := f.newChange("")
	z.served = []servedSets{{from: f.now(), sets: slices.Clone(z.sets)}}
	f.zones[z.id] = z
	resp := createHostedZoneResponse{Xmlns: xmlns, HostedZone: z.xml(), ChangeInfo: c.info(f.now())}
	f.mu.Unlock()
	if z.vpc != nil {
		resp.VPC = z.vpc
	} else {
		resp.DelegationSet = &delegationSet{NameServers: nameServers}
	}
	f.emit(contract.EventHostedZoneCreated, "/hostedzone/"+z.id, map[string]string{"name": name})
	w.Header().Set("Location", "https://route53.amazonaws.com/2013-04-01/hostedzone/"+z.id)
	writeXML(w, http.StatusCreated, resp)
}

func ptr[T any](v T) *T { return &v }

func values(vs []string, suffix string) []resourceRecord {
	out := make([]resourceRecord, len(vs))
	for i, v := range vs {
		out[i] = resourceRecord{Value: v + suffix}
	}
	return out
}

// zoneByID returns the hosted zone id; f.mu is held.
func (f *Fake) zoneByID(id string) (*zone, error) {
	z, ok := f.zones[id]
	if !ok {
		return nil, awsproto.Errorf(http.StatusNotFound, "NoSuchHostedZone", "No hosted zone found with ID: %s", id)
	}
	return z, nil
}

func (f *Fake) getHostedZone(w http.ResponseWriter, _ *http.Request, segs []string) {
	f.mu.Lock()
	z, err := f.zoneByID(segs[1])
	if err != nil {
		f.mu.Unlock()
		writeError(w, err)
		return
	}
	resp := getHostedZoneResponse{Xmlns: xmlns, HostedZone: z.xml()}
	if z.vpc != nil {
		resp.VPCs = []vpc{*z.vpc}
	} else {
		resp.DelegationSet = &delegationSet{NameServers: nameServers}
	}
	f.mu.Unlock()
	writeXML(w, http.StatusOK, resp)
}

func (f *Fake) deleteHostedZone(w http.ResponseWriter, _ *http.Request, segs []string) {
	f.mu.Lock()
	z, err := f.zoneByID(segs[1])
	if err != nil {
		f.mu.Unlock()
		writeError(w, err)
		return
	}
	for _, s := range z.sets {
		if s.Name != z.name || (s.Type != "SOA" && s.Type != "NS") {
			f.mu.Unlock()
			writeError(w, awsproto.Errorf(http.StatusBadRequest, "HostedZoneNotEmpty",
				"The specified hosted zone contains non-required resource record sets and so cannot be deleted."))
			return
		}
	}
	delete(f.zones, z.id)
	delete(f.zoneCallers, z.callerRef)
	c := f.newChange("")
	info := c.info(f.now())
	f.mu.Unlock()
	f.emit(contract.EventHostedZoneDeleted, "/hostedzone/"+z.id, map[string]string{"name": z.name})
	writeXML(w, http.StatusOK, changeInfoResponse{XMLName: xmlName("DeleteHostedZoneResponse"), Xmlns: xmlns, ChangeInfo: info})
}

// maxItems reads the maxitems query parameter: def when absent, and at
// most def.
func maxItems(r *http.Request, def int) (int, error) {
	s := r.URL.Query().Get("maxitems")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, awsproto.Errorf(http.StatusBadRequest, "InvalidInput", "1 validation error detected: Value '%s' at 'maxItems' failed to satisfy constraint: Member must be a positive integer", s)
	}
	return min(n, def), nil
}

// sortedZones returns the zones sorted by id; f.mu is held.
func (f *Fake) sortedZones(less func(a, b *zone) int) []*zone {
	zs := make([]*zone, 0, len(f.zones))
	for _, z := range f.zones {
		zs = append(zs, z)
	}
	slices.SortFunc(zs, less)
	return zs
}

func (f *Fake) listHostedZones(w http.ResponseWriter, r *http.Request, _ []string) {
	n, err := maxItems(r, 100)
	if err != nil {
		writeError(w, err)
		return
	}
	marker := r.URL.Query().Get("marker")
	f.mu.Lock()
	zs := f.sortedZones(func(a, b *zone) int { return strings.Compare(a.id, b.id) })
	resp := listHostedZonesResponse{Xmlns: xmlns, Marker: marker, MaxItems: n, HostedZones: []hostedZoneXML{}}
	for _, z := range zs {
		if marker != "" && z.id < marker {
			continue
		}
		if len(resp.HostedZones) == n {
			resp.IsTruncated, resp.NextMarker = true, z.id
			break
		}
		resp.HostedZones = append(resp.HostedZones, z.xml())
	}
	f.mu.Unlock()
	writeXML(w, http.StatusOK, resp)
}

// reversedName orders domain names as Route 53 lists them: by their labels
// from the top level down ("com.example.www").
func reversedName(name string) string {
	labels := strings.Split(strings.TrimSuffix(name, "."), ".")
	slices.Reverse(labels)
	return strings.Join(labels, ".")
}

func (f *Fake) listHostedZonesByName(w http.ResponseWriter, r *http.Request, _ []string) {
	n, err := maxItems(r, 100)
	if err != nil {
		writeError(w, err)
		return
	}
	q := r.URL.Query()
	dnsName, startID := q.Get("dnsname"), q.Get("hostedzoneid")
	if startID != "" && dnsName == "" {
		writeError(w, awsproto.Errorf(http.StatusBadRequest, "InvalidInput", "The parameter HostedZoneId can only be specified if DNSName is also specified"))
		return
	}
	start := ""
	if dnsName != "" {
		start = reversedName(canonical(dnsName))
	}
	f.mu.Lock()
	zs := f.sortedZones(func(a, b *zone) int {
		return cmpOr(strings.Compare(reversedName(a.name), reversedName(b.name)), strings.Compare(a.id, b.id))
	})
	resp := listHostedZonesByNameResponse{Xmlns: xmlns, DNSName: dnsName, HostedZoneId: startID, MaxItems: n, HostedZones: []hostedZoneXML{}}
	for _, z := range zs {
		rn := reversedName(z.name)
		if rn < start || (rn == start && startID != "" && z.id < startID) {
			continue
		}
		if len(resp.HostedZones) == n {
			resp.IsTruncated, resp.NextDNSName, resp.NextHostedZoneId = true, z.name, z.id
			break
		}
		resp.HostedZones = append(resp.HostedZones, z.xml())
	}
	f.mu.Unlock()
	writeXML(w, http.StatusOK, resp)
}

func cmpOr(cs ...int) int {
	for _, c := range cs {
		if c != 0 {
			return c
		}
	}
	return 0
}

// servedAt returns the record sets the name servers answer with at t: the
// last version whose time has come. Older versions are dropped; f.mu is
// held.
func (z *zone) servedAt(t time.Time) []recordSet {
	i := len(z.served) - 1
	for i > 0 && z.served[i].from.After(t) {
		i--
	}
	if i > 0 {
		z.served = z.served[i:]
	}
	return z.served[0].sets
}
