package sidecar

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/sidecar/admin"
)

// Faults returns the faults the proxy injects now.
func (p *Proxy) Faults() admin.Faults {
	if f := p.faults.Load(); f != nil {
		return *f
	}
	return admin.Faults{}
}

// setFaults makes f the proxy's faults; the zero admin.Faults costs requests
// nothing.
func (p *Proxy) setFaults(f admin.Faults) {
	if f == (admin.Faults{}) {
		p.faults.Store(nil)
	} else {
		p.faults.Store(&f)
	}
	p.emit(contract.EventSidecarFaults, map[string]string{
		"delay":       f.Delay.String(),
		"dropPercent": strconv.FormatFloat(f.DropPercent, 'g', -1, 64),
	})
}

// injectFaults applies f to r. It reports whether r is still to be
// forwarded: false when it was dropped or its client left during the
// delay.
func (p *Proxy) injectFaults(w http.ResponseWriter, r *http.Request, f *admin.Faults) bool {
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
	mux.HandleFunc("GET "+admin.FaultsPath, func(w http.ResponseWriter, r *http.Request) {
		writeFaults(w, p.Faults())
	})
	mux.HandleFunc("POST "+admin.FaultsPath, func(w http.ResponseWriter, r *http.Request) {
		var in admin.Patch
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
		if err := in.Apply(&f); err != nil {
			http.Error(w, "faults: "+err.Error(), http.StatusBadRequest)
			return
		}
		p.setFaults(f)
		writeFaults(w, f)
	})
	mux.HandleFunc("GET "+admin.StatsPath, p.serveStats)
	mux.HandleFunc("GET "+admin.ServerInfoPath, p.serveServerInfo)
	mux.HandleFunc("GET "+admin.ReadyPath, func(w http.ResponseWriter, _ *http.Request) {
		state := p.adminState()
		if state != admin.StateLive {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_, _ = io.WriteString(w, state+"\n")
	})
	mux.HandleFunc("DELETE "+admin.FaultsPath, func(w http.ResponseWriter, r *http.Request) {
		p.adminMu.Lock()
		defer p.adminMu.Unlock()
		p.setFaults(admin.Faults{})
		writeFaults(w, admin.Faults{})
	})
	return mux
}

func writeFaults(w http.ResponseWriter, f admin.Faults) {
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
		port = contract.AdminPort
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

// adminState is the proxy's state as Envoy's admin names it: LIVE once the
// first complete configuration is applied.
func (p *Proxy) adminState() string {
	select {
	case <-p.ready:
		return admin.StateLive
	default:
		return admin.StateInitializing
	}
}

// serveServerInfo answers Envoy's /server_info, the fields a health check
// or an operator reads: state, version and node.
func (p *Proxy) serveServerInfo(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"state":   p.adminState(),
		"version": "meshsim-sidecar",
		"node":    map[string]string{"id": p.node},
	})
}

// AdminAddr returns the address of the admin listener.
func (p *Proxy) AdminAddr() string { return p.adminLn.Addr().String() }
