package route53

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/miekg/dns"
)

// Answer is what Route 53's name servers answer to one question.
type Answer struct {
	// Rcode is dns.RcodeSuccess (with records, or none: NODATA),
	// dns.RcodeNameError (NXDOMAIN) or dns.RcodeRefused (a name in no
	// hosted zone).
	Rcode int
	// Records answer the question, each with its record set's TTL.
	Records []dns.RR
	// Authority holds the zone's SOA record when there is no answer.
	Authority []dns.RR
}

// maxChase bounds how many CNAMEs and aliases one answer follows.
const maxChase = 8

// Resolve answers the question (name, qtype) as Route 53's name servers
// would at this moment: from the record sets whose change has propagated,
// choosing one weighted record set per query in proportion to the
// weights among the healthy ones (weight 0 only when every healthy one
// has weight 0; every one when none is healthy), the failover primary
// while it is healthy, and an alias's target records under the alias's
// name. qtype is a dns.Type* value.
func (f *Fake) Resolve(name string, qtype uint16) Answer {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.resolve(canonical(name), qtype, 0)
}

// zoneFor returns the hosted zone with the longest name that name lies
// in; f.mu is held.
func (f *Fake) zoneFor(name string) *zone {
	var best *zone
	for _, z := range f.zones {
		if inZone(name, z.name) && (best == nil || len(z.name) > len(best.name) || len(z.name) == len(best.name) && z.id < best.id) {
			best = z
		}
	}
	return best
}

func (f *Fake) resolve(name string, qtype uint16, depth int) Answer {
	z := f.zoneFor(name)
	if z == nil {
		return Answer{Rcode: dns.RcodeRefused}
	}
	sets := z.servedAt(f.now())
	var atName []recordSet
	below := false
	for _, s := range sets {
		switch {
		case s.Name == name:
			atName = append(atName, s)
		case strings.HasSuffix(s.Name, "."+name):
			below = true
		}
	}
	soa := soaOf(z, sets)
	if len(atName) == 0 {
		if below { // an empty non-terminal: the name exists
			return Answer{Rcode: dns.RcodeSuccess, Authority: soa}
		}
		return Answer{Rcode: dns.RcodeNameError, Authority: soa}
	}
	typ := dns.TypeToString[qtype]
	if qtype != dns.TypeCNAME && hasType(atName, "CNAME") {
		typ = "CNAME"
	}
	var typed []recordSet
	for _, s := range atName {
		if s.Type == typ {
			typed = append(typed, s)
		}
	}
	if len(typed) == 0 {
		return Answer{Rcode: dns.RcodeSuccess, Authority: soa}
	}
	rrs := f.records(f.choose(typed, depth), name, depth)
	ans := Answer{Rcode: dns.RcodeSuccess, Records: rrs}
	if typ == "CNAME" && qtype != dns.TypeCNAME && len(rrs) == 1 && depth < maxChase {
		// Follow the CNAME within the hosted zones, as an authoritative
		// server adds what it knows of the chain.
		target := canonical(rrs[0].(*dns.CNAME).Target)
		if f.zoneFor(target) != nil {
			next := f.resolve(target, qtype, depth+1)
			ans.Rcode, ans.Records, ans.Authority = next.Rcode, append(ans.Records, next.Records...), next.Authority
		}
	}
	if len(ans.Records) == 0 {
		ans.Authority = soa
	}
	return ans
}

func hasType(sets []recordSet, typ string) bool {
	for _, s := range sets {
		if s.Type == typ {
			return true
		}
	}
	return false
}

// soaOf returns the zone's SOA record for a negative answer, whose TTL is
// the SOA's minimum or its own TTL, whichever is lower (RFC 2308).
func soaOf(z *zone, sets []recordSet) []dns.RR {
	for _, s := range sets {
		if s.Name != z.name || s.Type != "SOA" || len(s.ResourceRecords) == 0 {
			continue
		}
		rr, err := dns.NewRR(fmt.Sprintf("%s %d IN SOA %s", s.Name, *s.TTL, s.ResourceRecords[0].Value))
		if err != nil {
			return nil
		}
		soa := rr.(*dns.SOA)
		soa.Hdr.Ttl = min(soa.Hdr.Ttl, soa.Minttl)
		return []dns.RR{soa}
	}
	return nil
}

// choose picks the record set that answers one query among those of one
// name and type, by their routing policy.
func (f *Fake) choose(sets []recordSet, depth int) recordSet {
	switch policy(sets[0]) {
	case "weighted":
		return f.chooseWeighted(sets, depth)
	case "failover":
		var primary, secondary *recordSet
		for i := range sets {
			if sets[i].Failover == "PRIMARY" {
				primary = &sets[i]
			} else {
				secondary = &sets[i]
			}
		}
		switch {
		case primary != nil && f.setHealthy(*primary, depth):
			return *primary
		case secondary != nil && (primary == nil || f.setHealthy(*secondary, depth)):
			return *secondary
		case primary != nil: // both unhealthy: Route 53 answers the primary
			return *primary
		}
	}
	return sets[0]
}

// chooseWeighted picks a weighted record set in proportion to the weights
// of the healthy ones.
func (f *Fake) chooseWeighted(sets []recordSet, depth int) recordSet {
	var healthy []recordSet
	for _, s := range sets {
		if f.setHealthy(s, depth) {
			healthy = append(healthy, s)
		}
	}
	if len(healthy) == 0 { // Route 53 then treats every one as healthy
		healthy = sets
	}
	var total int64
	for _, s := range healthy {
		total += *s.Weight
	}
	if total == 0 { // all weight 0: an equal chance each
		return healthy[rand.IntN(len(healthy))]
	}
	x := rand.Int64N(total)
	for _, s := range healthy {
		if x < *s.Weight {
			return s
		}
		x -= *s.Weight
	}
	return healthy[len(healthy)-1]
}

// setHealthy reports whether a record set may answer: its health check
// (if any) is healthy and, for an alias that evaluates its target's
// health, the target has a healthy record set.
func (f *Fake) setHealthy(s recordSet, depth int) bool {
	if s.HealthCheckId != "" && !f.healthyCheck(s.HealthCheckId) {
		return false
	}
	a := s.AliasTarget
	if a == nil || !a.EvaluateTargetHealth || depth >= maxChase {
		return true
	}
	tz, ok := f.zones[a.HostedZoneId]
	if !ok {
		return false
	}
	for _, t := range tz.servedAt(f.now()) {
		if t.Name == a.DNSName && t.Type == s.Type && f.setHealthy(t, depth+1) {
			return true
		}
	}
	return false
}

// records returns the records of s under name: its values with its TTL
// in random order, or an alias's target records renamed.
func (f *Fake) records(s recordSet, name string, depth int) []dns.RR {
	if a := s.AliasTarget; a != nil {
		if depth >= maxChase {
			return nil
		}
		qtype := dns.StringToType[s.Type]
		target := f.resolve(a.DNSName, qtype, depth+1).Records
		out := make([]dns.RR, 0, len(target))
		for _, rr := range target {
			rr = dns.Copy(rr)
			rr.Header().Name = name
			out = append(out, rr)
		}
		return out
	}
	out := make([]dns.RR, 0, len(s.ResourceRecords))
	for _, v := range s.ResourceRecords {
		rr, err := dns.NewRR(fmt.Sprintf("%s %d IN %s %s", name, *s.TTL, s.Type, v.Value))
		if err != nil || rr == nil {
			continue
		}
		out = append(out, rr)
	}
	rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}
