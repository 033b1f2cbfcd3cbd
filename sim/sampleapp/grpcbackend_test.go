package sampleapp_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/grpcapp"
	"github.com/meshsim/meshsim/sim/grpcapp/echopb"
	"github.com/meshsim/meshsim/sim/sampleapp"
)

// authorityEcho answers Echo with the :authority the call carried, as a
// sidecar that routes by it would see it.
type authorityEcho struct {
	echopb.UnimplementedEchoServer
}

func (authorityEcho) Echo(ctx context.Context, _ *echopb.EchoRequest) (*echopb.EchoResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	return &echopb.EchoResponse{Message: strings.Join(md.Get(":authority"), ",") + " " + strings.Join(md.Get("x-request-id"), ",")}, nil
}

func startFront(t *testing.T, cfg sampleapp.Config) *sampleapp.Server {
	t.Helper()
	cfg.Service, cfg.Version, cfg.TaskID, cfg.Addr = "front", "v1", "f1", "127.0.0.1:0"
	s, err := sampleapp.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func getFront(t *testing.T, s *sampleapp.Server, query string) (*http.Response, sampleapp.Response) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+s.Addr()+"/"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Request-Id", "req-7")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body sampleapp.Response
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestGRPCBackend(t *testing.T) {
	echo, err := grpcapp.Start(context.Background(), grpcapp.Config{Service: "echo", Version: "0.9", TaskID: "e1", Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { echo.Close() })
	front := startFront(t, sampleapp.Config{Backends: []string{"grpc://" + echo.Addr()}})

	resp, body := getFront(t, front, "?name=Kaori")
	if resp.StatusCode != http.StatusOK || len(body.Backends) != 1 {
		t.Fatalf("status %d, body %+v", resp.StatusCode, body)
	}
	b := body.Backends[0]
	want := sampleapp.BackendResult{
		URL: "grpc://" + echo.Addr(), Status: 200, Version: "0.9", Task: "e1", Chain: "echo/0.9/e1", GRPCStatus: "OK",
		Message: "Hello, Kaori-san! (Said 127.0.0.1, Version 0.9)",
	}
	if b != want {
		t.Errorf("backend result %+v, want %+v", b, want)
	}
	if got := resp.Header.Get(contract.HeaderChain); got != "front/v1/f1,echo/0.9/e1" {
		t.Errorf("chain %q", got)
	}

	// A backend that is gone fails the request with 502 and its status.
	echo.Close()
	resp, body = getFront(t, front, "")
	if resp.StatusCode != http.StatusBadGateway || body.Backends[0].GRPCStatus != "Unavailable" ||
		!strings.HasPrefix(body.Backends[0].Error, "gRPC Unavailable: ") || body.Backends[0].Status != 0 {
		t.Errorf("backend gone: status %d, body %+v", resp.StatusCode, body)
	}
}

func TestGRPCBackendThroughProxy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	proxy := grpc.NewServer()
	echopb.RegisterEchoServer(proxy, authorityEcho{})
	go proxy.Serve(ln)
	t.Cleanup(proxy.Stop)

	front := startFront(t, sampleapp.Config{
		Backends: []string{"grpc://echo.demo.local:8080"},
		Proxy:    "http://" + ln.Addr().String(),
	})
	resp, body := getFront(t, front, "")
	if resp.StatusCode != http.StatusOK || body.Backends[0].Message != "echo.demo.local:8080 req-7" {
		t.Errorf("through the proxy: status %d, body %+v; want the virtual service as :authority and the request id", resp.StatusCode, body)
	}
}

func TestGRPCBackendURLs(t *testing.T) {
	env := map[string]string{contract.EnvService: "front", contract.EnvVersion: "v1"}
	for backends, ok := range map[string]bool{
		"grpc://echo.demo.local:8080":                 true,
		"http://a:1/,grpc://echo.demo.local:8080":     true,
		"grpc://echo.demo.local":                      false,
		"grpc://echo.demo.local:8080/meshsim.echo.v1": false,
		"grpcs://echo.demo.local:8080":                false,
	} {
		env[contract.EnvBackends] = backends
		_, err := sampleapp.ConfigFromEnv(env, "t", "")
		if (err == nil) != ok {
			t.Errorf("MESHSIM_BACKENDS=%q: err = %v, want ok %v", backends, err, ok)
		}
	}
}
