package route53

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/meshsim/meshsim/sim/awsproto"
	"github.com/meshsim/meshsim/sim/contract"
)

// checkerRegion and checkerIP name the one health checker of the fake in
// GetHealthCheckStatus (Route 53 has several per region; here it is this
// machine).
const (
	checkerRegion = "us-east-1"
	checkerIP     = "127.0.0.1"
)

// healthCheck is a health check and its checker's findings. Its status
// fields are guarded by Fake.mu.
type healthCheck struct {
	id, callerRef string
	cfg           healthCheckConfig // with Route 53's defaults filled in
	version       int64

	healthy     bool
	status      string    // the last probe's result, as Route 53 words it
	checked     time.Time // zero before the first probe
	lastFailure statusReport
	streak      int // consecutive probe results that disagree with healthy
	stop        context.CancelFunc
}

func (h *healthCheck) xml() healthCheckXML {
	return healthCheckXML{Id: h.id, CallerReference: h.callerRef, HealthCheckConfig: h.cfg, HealthCheckVersion: h.version}
}

// supportedChecks are the health check types the fake probes.
var supportedChecks = []string{"HTTP", "HTTPS", "HTTP_STR_MATCH", "HTTPS_STR_MATCH", "TCP"}

// checkConfig validates a health check's configuration and fills in
// Route 53's defaults (port 80 or 443, interval 30 s, threshold 3).
func checkConfig(c *healthCheckConfig) error {
	invalid := func(format string, args ...any) error {
		return awsproto.Errorf(http.StatusBadRequest, "InvalidInput", format, args...)
	}
	switch {
	case c.Type == "":
		return invalid("1 validation error detected: Value null at 'healthCheckConfig.type' failed to satisfy constraint: Member must not be null")
	case !slices.Contains(supportedChecks, c.Type):
		return invalid("meshsim's Route 53 probes %s health checks; type %s is not simulated", strings.Join(supportedChecks, ", "), c.Type)
	case c.IPAddress == "" && c.FullyQualifiedDomainName == "":
		return invalid("Invalid parameter: HealthCheckConfig must specify either IPAddress or FullyQualifiedDomainName")
	case strings.HasSuffix(c.Type, "STR_MATCH") && (c.SearchString == "" || len(c.SearchString) > 255):
		return invalid("Invalid parameter: SearchString must be 1 to 255 characters for health checks of type %s", c.Type)
	case !strings.HasSuffix(c.Type, "STR_MATCH") && c.SearchString != "":
		return invalid("Invalid parameter: SearchString is only allowed for health checks of type HTTP_STR_MATCH or HTTPS_STR_MATCH")
	case c.Type == "TCP" && c.ResourcePath != "":
		return invalid("Invalid parameter: ResourcePath is not allowed for health checks of type TCP")
	case len(c.ResourcePath) > 255:
		return invalid("1 validation error detected: Value at 'healthCheckConfig.resourcePath' failed to satisfy constraint: Member must have length less than or equal to 255")
	}
	if c.IPAddress != "" {
		if _, err := netip.ParseAddr(c.IPAddress); err != nil {
			return invalid("Invalid parameter: IPAddress %q is not a valid IPv4 or IPv6 address", c.IPAddress)
		}
	}
	if c.Port == nil {
		port := int32(80)
		if strings.HasPrefix(c.Type, "HTTPS") {
			port = 443
		} else if c.Type == "TCP" {
			return invalid("Invalid parameter: Port is required for health checks of type TCP")
		}
		c.Port = &port
	}
	if *c.Port < 1 || *c.Port > 65535 {
		return invalid("1 validation error detected: Value '%d' at 'healthCheckConfig.port' failed to satisfy constraint: Member must have value between 1 and 65535", *c.Port)
	}
	if c.RequestInterval == nil {
		c.RequestInterval = ptr(int32(30))
	}
	if *c.RequestInterval != 10 && *c.RequestInterval != 30 {
		return invalid("Invalid parameter: RequestInterval must be 10 or 30 (seconds), not %d", *c.RequestInterval)
	}
	if c.FailureThreshold == nil {
		c.FailureThreshold = ptr(int32(3))
	}
	if *c.FailureThreshold < 1 || *c.FailureThreshold > 10 {
		return invalid("1 validation error detected: Value '%d' at 'healthCheckConfig.failureThreshold' failed to satisfy constraint: Member must have value between 1 and 10", *c.FailureThreshold)
	}
	for _, b := range []**bool{&c.MeasureLatency, &c.Inverted, &c.Disabled} {
		if *b == nil {
			*b = ptr(false)
		}
	}
	if c.EnableSNI == nil {
		c.EnableSNI = ptr(strings.HasPrefix(c.Type, "HTTPS"))
	}
	return nil
}

func (f *Fake) createHealthCheck(w http.ResponseWriter, r *http.Request, _ []string) {
	var req createHealthCheckRequest
	if err := decodeXML(r, &req); err != nil {
		writeError(w, err)
		return
	}
	switch {
	case req.CallerReference == "" || len(req.CallerReference) > 64:
		writeError(w, awsproto.Errorf(http.StatusBadRequest, "InvalidInput", "1 validation error detected: Value at 'callerReference' failed to satisfy constraint: Member must have length between 1 and 64"))
		return
	case req.HealthCheckConfig == nil:
		writeError(w, awsproto.Errorf(http.StatusBadRequest, "InvalidInput", "1 validation error detected: Value null at 'healthCheckConfig' failed to satisfy constraint: Member must not be null"))
		return
	}
	cfg := *req.HealthCheckConfig
	if err := checkConfig(&cfg); err != nil {
		writeError(w, err)
		return
	}
	f.mu.Lock()
	if id, dup := f.checkCallers[req.CallerReference]; dup {
		h := f.checks[id]
		same := h != nil && reflect.DeepEqual(h.cfg, cfg)
		var resp healthCheckXML
		if same {
			resp = h.xml()
		}
		f.mu.Unlock()
		if !same {
			writeError(w, awsproto.Errorf(http.StatusConflict, "HealthCheckAlreadyExists",
				"A health check with the caller reference %s already exists, with a different configuration.", req.CallerReference))
			return
		}
		writeXML(w, http.StatusCreated, healthCheckResponse{XMLName: xmlName("CreateHealthCheckResponse"), Xmlns: xmlns, HealthCheck: resp})
		return
	}
	h := &healthCheck{id: awsproto.RequestID(), callerRef: req.CallerReference, cfg: cfg, version: 1, healthy: true}
	ctx, cancel := context.WithCancel(f.ctx)
	h.stop = cancel
	f.checks[h.id] = h
	f.checkCallers[req.CallerReference] = h.id
	resp := h.xml()
	f.wg.Add(1)
	f.mu.Unlock()
	go f.probeLoop(ctx, h)
	w.Header().Set("Location", "https://route53.amazonaws.com/2013-04-01/healthcheck/"+h.id)
	writeXML(w, http.StatusCreated, healthCheckResponse{XMLName: xmlName("CreateHealthCheckResponse"), Xmlns: xmlns, HealthCheck: resp})
}

// checkByID returns health check id; f.mu is held.
func (f *Fake) checkByID(id string) (*healthCheck, error) {
	h, ok := f.checks[id]
	if !ok {
		return nil, awsproto.Errorf(http.StatusNotFound, "NoSuchHealthCheck", "No health check exists with the specified ID %s.", id)
	}
	return h, nil
}

func (f *Fake) getHealthCheck(w http.ResponseWriter, _ *http.Request, segs []string) {
	f.mu.Lock()
	h, err := f.checkByID(segs[1])
	var resp healthCheckXML
	if err == nil {
		resp = h.xml()
	}
	f.mu.Unlock()
	if err != nil {
		writeError(w, err)
		return
	}
	writeXML(w, http.StatusOK, healthCheckResponse{XMLName: xmlName("GetHealthCheckResponse"), Xmlns: xmlns, HealthCheck: resp})
}

func (f *Fake) deleteHealthCheck(w http.ResponseWriter, _ *http.Request, segs []string) {
	f.mu.Lock()
	h, err := f.checkByID(segs[1])
	if err == nil {
		for _, z := range f.zones {
			if slices.ContainsFunc(z.sets, func(s recordSet) bool { return s.HealthCheckId == h.id }) {
				err = awsproto.Errorf(http.StatusBadRequest, "HealthCheckInUse",
					"Health check %s is still referenced from parameter HealthCheckId of a resource record set in hosted zone %s", h.id, z.id)
				break
			}
		}
	}
	if err != nil {
		f.mu.Unlock()
		writeError(w, err)
		return
	}
	delete(f.checks, h.id)
	delete(f.checkCallers, h.callerRef)
	f.mu.Unlock()
	h.stop()
	writeXML(w, http.StatusOK, emptyResponse{XMLName: xmlName("DeleteHealthCheckResponse"), Xmlns: xmlns})
}

func (f *Fake) listHealthChecks(w http.ResponseWriter, r *http.Request, _ []string) {
	n, err := maxItems(r, 1000)
	if err != nil {
		writeError(w, err)
		return
	}
	marker := r.URL.Query().Get("marker")
	f.mu.Lock()
	ids := make([]string, 0, len(f.checks))
	for id := range f.checks {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	resp := listHealthChecksResponse{Xmlns: xmlns, Marker: marker, MaxItems: n, HealthChecks: []healthCheckXML{}}
	for _, id := range ids {
		if marker != "" && id < marker {
			continue
		}
		if len(resp.HealthChecks) == n {
			resp.IsTruncated, resp.NextMarker = true, id
			break
		}
		resp.HealthChecks = append(resp.HealthChecks, f.checks[id].xml())
	}
	f.mu.Unlock()
	writeXML(w, http.StatusOK, resp)
}

func (f *Fake) getHealthCheckStatus(w http.ResponseWriter, _ *http.Request, segs []string) {
	f.mu.Lock()
	h, err := f.checkByID(segs[1])
	resp := healthCheckStatusResponse{Xmlns: xmlns, Observations: []healthCheckObservation{}}
	if err == nil && !h.checked.IsZero() {
		resp.Observations = append(resp.Observations, healthCheckObservation{
			Region: checkerRegion, IPAddress: checkerIP,
			StatusReport: statusReport{Status: h.status, CheckedTime: formatTime(h.checked)},
		})
	}
	f.mu.Unlock()
	if err != nil {
		writeError(w, err)
		return
	}
	writeXML(w, http.StatusOK, resp)
}

func (f *Fake) getHealthCheckLastFailureReason(w http.ResponseWriter, _ *http.Request, segs []string) {
	f.mu.Lock()
	h, err := f.checkByID(segs[1])
	resp := healthCheckStatusResponse{Xmlns: xmlns, Observations: []healthCheckObservation{}}
	if err == nil && h.lastFailure.Status != "" {
		resp.Observations = append(resp.Observations, healthCheckObservation{Region: checkerRegion, IPAddress: checkerIP, StatusReport: h.lastFailure})
	}
	f.mu.Unlock()
	if err != nil {
		writeError(w, err)
		return
	}
	resp.XMLName = xmlName("GetHealthCheckLastFailureReasonResponse")
	writeXML(w, http.StatusOK, resp)
}

// healthy reports whether health check id is healthy now (an unknown id is
// unhealthy); f.mu is held. A disabled check is healthy, an inverted one
// healthy when its probes fail.
func (f *Fake) healthyCheck(id string) bool {
	h, ok := f.checks[id]
	if !ok {
		return false
	}
	if *h.cfg.Disabled {
		return true
	}
	return h.healthy != *h.cfg.Inverted
}

// probeLoop probes h's endpoint every request interval until ctx ends.
func (f *Fake) probeLoop(ctx context.Context, h *healthCheck) {
	defer f.wg.Done()
	interval := scale(time.Duration(*h.cfg.RequestInterval)*time.Second, f.second)
	timeout := min(max(scale(4*time.Second, f.second), 500*time.Millisecond), 4*time.Second)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ok, status := probe(ctx, h.cfg, timeout)
		if ctx.Err() != nil {
			return
		}
		f.record(h, ok, status)
		t.Reset(interval)
	}
}

// record notes one probe's result: the status flips after FailureThreshold
// consecutive results that disagree with it.
func (f *Fake) record(h *healthCheck, ok bool, status string) {
	f.mu.Lock()
	h.checked, h.status = f.now(), status
	if !ok {
		h.lastFailure = statusReport{Status: status, CheckedTime: formatTime(h.checked)}
	}
	flipped := false
	if ok == h.healthy {
		h.streak = 0
	} else if h.streak++; h.streak >= int(*h.cfg.FailureThreshold) {
		h.healthy, h.streak, flipped = ok, 0, true
	}
	healthy := f.healthyCheck(h.id)
	f.mu.Unlock()
	if flipped {
		f.emit(contract.EventHealthCheckStatus, h.id, map[string]string{"healthy": strconv.FormatBool(healthy), "status": status})
	}
}

// probe checks cfg's endpoint once, as a Route 53 health checker does: a
// TCP connection, or an HTTP(S) GET answered with a 2xx or 3xx status (and
// containing the search string in the first 5120 bytes of the body).
func probe(ctx context.Context, cfg healthCheckConfig, timeout time.Duration) (bool, string) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	host := cfg.IPAddress
	if host == "" {
		host = cfg.FullyQualifiedDomainName
	}
	addr := net.JoinHostPort(host, strconv.Itoa(int(*cfg.Port)))
	if cfg.Type == "TCP" {
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err != nil {
			return false, failure(err)
		}
		conn.Close()
		return true, "Success: TCP connection established"
	}
	scheme := "http"
	if strings.HasPrefix(cfg.Type, "HTTPS") {
		scheme = "https"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+addr+"/"+strings.TrimPrefix(cfg.ResourcePath, "/"), nil)
	if err != nil {
		return false, "Failure: " + err.Error()
	}
	if cfg.FullyQualifiedDomainName != "" {
		req.Host = cfg.FullyQualifiedDomainName
	}
	tr := &http.Transport{
		Proxy:             nil,
		DisableKeepAlives: true,
		// Route 53's checkers do not validate certificates.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: cfg.FullyQualifiedDomainName}, //nolint:gosec // as Route 53 does
	}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		return false, failure(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 5120))
	code := fmt.Sprintf("HTTP Status Code %d, %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return false, "Failure: " + code
	}
	if cfg.SearchString != "" && !bytes.Contains(body, []byte(cfg.SearchString)) {
		return false, "Failure: " + code + ". Specified search string not found in response."
	}
	return true, "Success: " + code
}

// failure words a probe's connection failure as Route 53 does.
func failure(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "Failure: Connection refused. The endpoint or the internet connection is down, or the endpoint is not accepting connections."
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded):
		return "Failure: Connection timed out. The endpoint or the internet connection is down, or requests are being blocked by your firewall."
	}
	return "Failure: " + err.Error()
}
