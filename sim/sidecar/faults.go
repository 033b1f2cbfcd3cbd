package sidecar

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"time"
)

// AdminPort is the port of the sidecar's admin listener on the task's
// address: Envoy's admin port, which App Mesh's Envoy image opens too.
const AdminPort = 9901

// FaultsPath is the admin endpoint of the sidecar's faults: GET returns
// them, POST sets the ones its body names and DELETE clears them all.
const FaultsPath = "/meshsim/faults"

// maxFaultDelay bounds the latency a fault may add.
const maxFaultDelay = 10 * time.Minute

// Faults are the failures the sidecar injects, as Envoy's fault filter
// does, into the requests it forwards, on every listener. In a meshsim
// world a task's callers reach its application directly (there is no
// iptables redirect to the inbound listener), so what a fault changes is
// the task's calls to its backends (on the egress listener) and, for the
// App Mesh ingress gateway, the load entering the mesh.
type Faults struct {
	// Delay is added before each request is forwarded; a request whose
	// client goes away during the delay is not forwarded.
	Delay time.Duration
	// DropPercent is the share of requests (0-100), picked at random,
	// that are dropped instead of forwarded: an HTTP/1.1 request has its
	// connection reset (TCP RST), an HTTP/2 request (and so a gRPC call)
	// has its stream reset (RST_STREAM with INTERNAL_ERROR).
	DropPercent float64
}

// faultsJSON is Faults on the wire. POST takes it with either field
// optional (an absent field keeps its fault; "0s" or 0 clears it).
type faultsJSON struct {
	Delay       *string  `json:"delay,omitempty"`
	DropPercent *float64 `json:"dropPercent,omitempty"`
}

// MarshalJSON writes f as {"delay": "200ms", "dropPercent": 20}.
func (f Faults) MarshalJSON() ([]byte, error) {
	d := f.Delay.String()
	return json.Marshal(faultsJSON{Delay: &d, DropPercent: &f.DropPercent})
}

// UnmarshalJSON reads what MarshalJSON writes; absent fields are zero.
func (f *Faults) UnmarshalJSON(b []byte) error {
	var in faultsJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	out := Faults{}
	if err := in.apply(&out); err != nil {
		return err
	}
	*f = out
	return nil
}

// apply sets the fields of f that in names, checking their values.
func (in faultsJSON) apply(f *Faults) error {
	if in.Delay != nil {
		d, err := time.ParseDuration(*in.Delay)
		if err != nil || d < 0 || d > maxFaultDelay {
			return fmt.Errorf("delay %q: want a duration from 0s to %s, such as 200ms", *in.Delay, maxFaultDelay)
		}
		f.Delay = d
	}
	if in.DropPercent != nil {
		p := *in.DropPercent
		if !(p >= 0 && p <= 100) {
			return fmt.Errorf("dropPercent %v: want 0 to 100", p)
		}
		f.DropPercent = p
	}
	return nil
}

// Faults returns the faults the proxy injects now.
func (p *Proxy) Faults() Faults {
	if f := p.faults.Load(); f != nil {
		return *f
	}
	return Faults{}
}

// setFaults makes f the proxy's faults; the zero Faults costs requests
// nothing.
func (p *Proxy) setFaults(f Faults) {
	if f == (Faults{}) {
		p.faults.Store(nil)
	} else {
		p.faults.Store(&f)
	}
	p.emit("faults", map[string]string{
		"delay":       f.Delay.String(),
		"dropPercent": strconv.FormatFloat(f.DropPercent, 'g', -1, 64),
	})
}

// injectFaults applies f to r. It reports whether r is still to be
// forwarded: false when it was dropped or its client left during the
// delay.
func (p *Proxy) injectFaults(w http.ResponseWriter, r *http.Request, f *Faults) bool {
	if f.DropPercent > 0 && rand.Float64()*100 < f.DropPercent {
		drop(w, r)
		return false
	}
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return false
		}
	}
	return true
}

// drop resets r's connection (HTTP/1.1) or stream (HTTP/2) without an
// answer.
func drop(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 1 {
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			if tc, ok := conn.(interface{ SetLinger(int) error }); ok {
				_ = tc.SetLinger(0) // close sends RST, not FIN
			}
			conn.Close()
			return
		}
	}
	// net/http's documented way to abort a response: the HTTP/2 server
	// resets the stream, the HTTP/1 server closes the connection, and
	// neither logs it.
	panic(http.ErrAbortHandler)
}

// adminHandler serves the admin API.
func (p *Proxy) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+FaultsPath, func(w http.ResponseWriter, r *http.Request) {
		writeFaults(w, p.Faults())
	})
	mux.HandleFunc("POST "+FaultsPath, func(w http.ResponseWriter, r *http.Request) {
		var in faultsJSON
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			http.Error(w, "faults: "+err.Error(), http.StatusBadRequest)
			return
		}
		if in.Delay == nil && in.DropPercent == nil {
			http.Error(w, `faults: give "delay" (such as "200ms") or "dropPercent" (0-100); DELETE clears them`, http.StatusBadRequest)
			return
		}
		p.adminMu.Lock()
		defer p.adminMu.Unlock()
		f := p.Faults()
		if err := in.apply(&f); err != nil {
			http.Error(w, "faults: "+err.Error(), http.StatusBadRequest)
			return
		}
		p.setFaults(f)
		writeFaults(w, f)
	})
	mux.HandleFunc("GET "+StatsPath, p.serveStats)
	mux.HandleFunc("DELETE "+FaultsPath, func(w http.ResponseWriter, r *http.Request) {
		p.adminMu.Lock()
		defer p.adminMu.Unlock()
		p.setFaults(Faults{})
		writeFaults(w, Faults{})
	})
	return mux
}

func writeFaults(w http.ResponseWriter, f Faults) {
	b, err := json.Marshal(f)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(b, '\n'))
}

// startAdmin opens the admin listener on the proxy's address.
func (p *Proxy) startAdmin() error {
	port := p.cfg.AdminPort
	if port == 0 {
		port = AdminPort
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(p.bindIP, strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("sidecar: admin listener: %w", err)
	}
	p.admin = &http.Server{
		Handler:           p.adminHandler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	p.adminLn = ln
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		_ = p.admin.Serve(ln) // returns http.ErrServerClosed on Close
	}()
	return nil
}

// AdminAddr returns the address of the admin listener.
func (p *Proxy) AdminAddr() string { return p.adminLn.Addr().String() }

// SetDelay asks the sidecar whose admin listener is at addr (host:port) to
// delay every request it forwards by d (0 clears the delay), keeping its
// other faults.
func SetDelay(ctx context.Context, c *http.Client, addr string, d time.Duration) error {
	s := d.String()
	return callAdmin(ctx, c, http.MethodPost, addr, faultsJSON{Delay: &s})
}

// SetDropPercent asks the sidecar at addr to drop percent (0-100) of the
// requests it forwards, keeping its other faults.
func SetDropPercent(ctx context.Context, c *http.Client, addr string, percent float64) error {
	return callAdmin(ctx, c, http.MethodPost, addr, faultsJSON{DropPercent: &percent})
}

// ClearFaults asks the sidecar at addr to stop injecting faults.
func ClearFaults(ctx context.Context, c *http.Client, addr string) error {
	return callAdmin(ctx, c, http.MethodDelete, addr, nil)
}

func callAdmin(ctx context.Context, c *http.Client, method, addr string, body any) error {
	var rd io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	u := "http://" + addr + FaultsPath
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("sidecar admin %s %s: %w", method, u, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("sidecar admin: %w", err)
	}
	defer res.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(res.Body, 1<<10))
	switch {
	case res.StatusCode == http.StatusOK:
		return nil
	case res.StatusCode == http.StatusNotFound:
		return fmt.Errorf("sidecar admin %s %s: 404: this sidecar has no meshsim fault API (the embedded sidecar has it; Envoy does not)", method, u)
	}
	return fmt.Errorf("sidecar admin %s %s: %s: %s", method, u, res.Status, bytes.TrimSpace(msg))
}
