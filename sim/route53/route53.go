// Package route53 is a fake of Amazon Route 53 and its DNS: hosted zones,
// resource record sets (simple, weighted, failover and alias, with TTLs)
// changed through ChangeResourceRecordSets with AWS's validation, changes
// that are PENDING until they have propagated and INSYNC after, health
// checks that really probe their targets (HTTP, HTTPS, string match, TCP),
// and a DNS server (ServeDNS) that answers the records as Route 53's name
// servers do: a weighted choice per query, failover when a health check
// fails, alias targets resolved, the record's TTL in every answer.
//
// The API speaks REST-XML under /2013-04-01/ with Route 53's error
// documents, so aws-sdk-go-v2, the AWS CLI and boto3 talk to it unchanged;
// mount it with endpoint.HandlePath(route53.PathPrefix, f).
package route53

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/meshsim/meshsim/sim/awsproto"
	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/events"
)

// PathPrefix is where Route 53's API lives; mount the fake with
// endpoint.HandlePath(route53.PathPrefix, f).
const PathPrefix = "/2013-04-01/"

// DefaultPropagation is how long a change stays PENDING (AWS time) when
// Options.Propagation is zero: Route 53 documents that changes reach all
// of its name servers "generally within 60 seconds"; most take a few.
const DefaultPropagation = 10 * time.Second

// Options configure a Fake.
type Options struct {
	// Bus receives the fake's events (Source "route53"); nil drops them.
	Bus *events.Bus
	// Second is how long one AWS second lasts in wall time (the world's
	// time scale); 0 means a second. Propagation and health-check
	// intervals are AWS durations scaled by it. TTLs are not: answers
	// carry the records' TTLs as set, and clients scale them.
	Second time.Duration
	// Propagation is how long a change stays PENDING before the name
	// servers answer with it and GetChange reports INSYNC (AWS time);
	// 0 means DefaultPropagation, a negative value none.
	Propagation time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Fake is the Route 53 fake. Its zero value is not usable; call New.
type Fake struct {
	bus         *events.Bus
	second      time.Duration
	propagation time.Duration // wall time
	now         func() time.Time

	mu      sync.Mutex
	zones   map[string]*zone // by id
	changes map[string]*changeRecord
	checks  map[string]*healthCheck // by id
	// callers remembers CallerReferences (hosted zones and health checks
	// are created once per reference).
	zoneCallers, checkCallers map[string]string

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns a Fake. Close it to stop its health checkers.
func New(opts Options) *Fake {
	second := cmp.Or(opts.Second, time.Second)
	prop := opts.Propagation
	switch {
	case prop == 0:
		prop = DefaultPropagation
	case prop < 0:
		prop = 0
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Fake{
		bus:          opts.Bus,
		second:       second,
		propagation:  scale(prop, second),
		now:          now,
		zones:        map[string]*zone{},
		changes:      map[string]*changeRecord{},
		checks:       map[string]*healthCheck{},
		zoneCallers:  map[string]string{},
		checkCallers: map[string]string{},
		ctx:          ctx,
		cancel:       cancel,
	}
}

// Close stops every health checker.
func (f *Fake) Close() error {
	f.cancel()
	f.wg.Wait()
	return nil
}

// scale turns an AWS duration into wall time, one AWS second lasting second.
func scale(d, second time.Duration) time.Duration {
	return time.Duration(float64(d) * float64(second) / float64(time.Second))
}

// emit publishes an event on the bus, if there is one.
func (f *Fake) emit(typ contract.EventType, resource string, detail map[string]string) {
	if f.bus == nil {
		return
	}
	f.bus.Emit(events.Event{Source: contract.SourceRoute53, Type: typ, Resource: resource, Detail: detail})
}

// changeRecord is a change batch (or a hosted zone's creation or deletion)
// as GetChange reports it.
type changeRecord struct {
	id, comment string
	submitted   time.Time
	insync      time.Time // when it has propagated
}

func (c *changeRecord) info(now time.Time) changeInfo {
	status := "PENDING"
	if !now.Before(c.insync) {
		status = "INSYNC"
	}
	return changeInfo{Id: "/change/" + c.id, Status: status, SubmittedAt: formatTime(c.submitted), Comment: c.comment}
}

// newChange records a change submitted now; f.mu is held.
func (f *Fake) newChange(comment string) *changeRecord {
	now := f.now()
	c := &changeRecord{id: "C" + newID(), comment: comment, submitted: now, insync: now.Add(f.propagation)}
	f.changes[c.id] = c
	return c
}

// newID returns an id of Route 53's form: upper-case letters and digits.
func newID() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return strings.ToUpper(hex.EncodeToString(b))[:19]
}

// ServeHTTP implements http.Handler: Route 53's REST-XML API.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	segs, err := pathSegments(r)
	if err != nil {
		writeError(w, err)
		return
	}
	h := f.route(r.Method, segs)
	if h == nil {
		writeError(w, awsproto.Errorf(http.StatusNotFound, "UnknownOperationException",
			"Route 53 has no operation %s %s", r.Method, r.URL.Path))
		return
	}
	h(w, r, segs)
}

type handler func(w http.ResponseWriter, r *http.Request, segs []string)

// route returns the handler of method on the path segments after
// /2013-04-01/, or nil.
func (f *Fake) route(method string, segs []string) handler {
	type key struct {
		method string
		shape  string
	}
	shape := segs[0]
	if len(segs) > 1 {
		shape += "/{id}"
	}
	if len(segs) > 2 {
		shape += "/" + strings.Join(segs[2:], "/")
	}
	routes := map[key]handler{
		{http.MethodPost, "hostedzone"}:                        f.createHostedZone,
		{http.MethodGet, "hostedzone"}:                         f.listHostedZones,
		{http.MethodGet, "hostedzone/{id}"}:                    f.getHostedZone,
		{http.MethodDelete, "hostedzone/{id}"}:                 f.deleteHostedZone,
		{http.MethodPost, "hostedzone/{id}/rrset"}:             f.changeResourceRecordSets,
		{http.MethodGet, "hostedzone/{id}/rrset"}:              f.listResourceRecordSets,
		{http.MethodGet, "hostedzonesbyname"}:                  f.listHostedZonesByName,
		{http.MethodGet, "change/{id}"}:                        f.getChange,
		{http.MethodPost, "healthcheck"}:                       f.createHealthCheck,
		{http.MethodGet, "healthcheck"}:                        f.listHealthChecks,
		{http.MethodGet, "healthcheck/{id}"}:                   f.getHealthCheck,
		{http.MethodDelete, "healthcheck/{id}"}:                f.deleteHealthCheck,
		{http.MethodGet, "healthcheck/{id}/status"}:            f.getHealthCheckStatus,
		{http.MethodGet, "hostedzonecount"}:                    f.getHostedZoneCount,
		{http.MethodGet, "healthcheckcount"}:                   f.getHealthCheckCount,
		{http.MethodGet, "healthcheck/{id}/lastfailurereason"}: f.getHealthCheckLastFailureReason,
		{http.MethodGet, "testdnsanswer"}:                      f.testDNSAnswer,
		{http.MethodPost, "hostedzone/{id}"}:                   f.updateHostedZoneComment,
	}
	return routes[key{method, shape}]
}

// pathSegments splits the path after /2013-04-01/ into its unescaped
// segments. An id may arrive with its type prefix ("/hostedzone/Z1",
// "/change/C1"), escaped into one segment; that prefix is dropped.
func pathSegments(r *http.Request) ([]string, error) {
	rest := strings.TrimPrefix(r.URL.EscapedPath(), PathPrefix)
	rest = strings.TrimSuffix(rest, "/")
	parts := strings.Split(rest, "/")
	for i, p := range parts {
		s, err := url.PathUnescape(p)
		if err != nil {
			return nil, awsproto.Errorf(http.StatusBadRequest, "InvalidInput", "path segment %q: %v", p, err)
		}
		if i == 1 {
			s = s[strings.LastIndex(s, "/")+1:]
		}
		parts[i] = s
	}
	return parts, nil
}

// The counts, as GetHostedZoneCount and GetHealthCheckCount report them.

type countResponse struct {
	XMLName          xml.Name
	Xmlns            string `xml:"xmlns,attr"`
	HostedZoneCount  *int   `xml:"HostedZoneCount,omitempty"`
	HealthCheckCount *int   `xml:"HealthCheckCount,omitempty"`
}

func (f *Fake) getHostedZoneCount(w http.ResponseWriter, _ *http.Request, _ []string) {
	f.mu.Lock()
	n := len(f.zones)
	f.mu.Unlock()
	writeXML(w, http.StatusOK, countResponse{XMLName: xmlName("GetHostedZoneCountResponse"), Xmlns: xmlns, HostedZoneCount: &n})
}

func (f *Fake) getHealthCheckCount(w http.ResponseWriter, _ *http.Request, _ []string) {
	f.mu.Lock()
	n := len(f.checks)
	f.mu.Unlock()
	writeXML(w, http.StatusOK, countResponse{XMLName: xmlName("GetHealthCheckCountResponse"), Xmlns: xmlns, HealthCheckCount: &n})
}

// getChange answers GetChange: PENDING until the change has propagated,
// INSYNC after.
func (f *Fake) getChange(w http.ResponseWriter, _ *http.Request, segs []string) {
	f.mu.Lock()
	c, ok := f.changes[segs[1]]
	f.mu.Unlock()
	if !ok {
		writeError(w, awsproto.Errorf(http.StatusNotFound, "NoSuchChange", "A change with the specified change ID does not exist: %s", segs[1]))
		return
	}
	writeXML(w, http.StatusOK, changeInfoResponse{XMLName: xmlName("GetChangeResponse"), Xmlns: xmlns, ChangeInfo: c.info(f.now())})
}
