package sidecar_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/meshsim/meshsim/sim/sidecar/sidecarbench"
)

// BenchmarkHTTPProxy sends HTTP/1.1 requests through a sidecar that splits
// them 50/50 between two backends, from 50 concurrent keep-alive
// connections (wrk -c50's shape). Client, sidecar and backends share the
// process, so ns/op is the whole exchange; meshsim bench compares the
// sidecar alone with haproxy.
func BenchmarkHTTPProxy(b *testing.B) {
	benchProxy(b, &http.Transport{MaxIdleConnsPerHost: 64}, 1)
}

// BenchmarkH2CProxy is BenchmarkHTTPProxy over HTTP/2 without TLS (h2c
// with prior knowledge): one client connection carrying 50 concurrent
// streams. The sidecar's relay hands plain (non-gRPC) HTTP/2 requests to
// its net/http path, so this measures that hand-off.
func BenchmarkH2CProxy(b *testing.B) {
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	benchProxy(b, &http.Transport{Protocols: &protos}, 2)
}

// benchProxy sends GET requests through a sidecar splitting them 50/50
// between two backends, from 50 goroutines over tr, each answered over
// HTTP/proto.
func benchProxy(b *testing.B, tr *http.Transport, proto int) {
	v1, v2 := startBackend(b, "v1", "t1", nil), startBackend(b, "v2", "t2", nil)
	w, err := sidecarbench.Start(context.Background(), 1, v1.endpoint(), v2.endpoint(), 50, 50)
	if err != nil {
		b.Skip(err)
	}
	defer w.Close()
	url := "http://" + w.Sidecars[0].EgressAddr() + "/movies"
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	b.ReportAllocs()
	b.SetParallelism(25) // × GOMAXPROCS 2 = 50 connections or streams
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.Host = sidecarbench.Host
			res, err := c.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK || res.ProtoMajor != proto {
				b.Errorf("status %d over HTTP/%d", res.StatusCode, res.ProtoMajor)
				return
			}
		}
	})
}
