package sidecar_test

import (
	"context"
	"io"
	"net/http"
	"runtime"
	"sync"
	"testing"

	"github.com/meshsim/meshsim/sim/sidecar/admin"
)

// TestStats holds requests in the application and reads the sidecar's
// queueing figures through its admin API while they wait and after.
func TestStats(t *testing.T) {
	const n = 5
	arrived := make(chan struct{}, n)
	release := make(chan struct{})
	p := startIngressSidecarWith(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		_, _ = io.WriteString(w, "home app")
	}))
	read := func() admin.Stats {
		t.Helper()
		s, err := admin.ReadStats(context.Background(), http.DefaultClient, p.AdminAddr())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if got := read(); got != (admin.Stats{}) {
		t.Fatalf("stats of an idle sidecar = %+v, want zero", got)
	}

	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: n}}
	defer client.CloseIdleConnections()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			res, err := client.Get("http://" + p.IngressAddr() + "/")
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		})
	}
	for range n {
		<-arrived // every request is in the application: the sidecar holds n
	}
	want := admin.Stats{InFlight: n, Waiting: n, PeakInFlight: n, PeakWaiting: n, Requests: n}
	if got := read(); got != want {
		t.Errorf("stats while %d requests wait = %+v, want %+v", n, got, want)
	}
	close(release)
	wg.Wait()
	// The previous read started a new peak period at n.
	if got := p.Stats(); got.PeakInFlight != n || got.PeakWaiting != n || got.Requests != n {
		t.Errorf("stats after the requests = %+v, want peaks of %d and %d requests", got, n, n)
	}
	// The responses are complete at the client, so every handler has
	// returned or is returning: in-process stats settle without waiting on
	// the network.
	for p.Stats().InFlight != 0 {
		runtime.Gosched()
	}
	if got, want := read(), (admin.Stats{Requests: n}); got != want {
		t.Errorf("stats once the requests are done = %+v, want %+v", got, want)
	}
}
