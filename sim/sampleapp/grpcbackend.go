package sampleapp

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/grpcapp/echopb"
)

// A backend URL grpc://host:port names a gRPC service with the API of
// sim/grpcapp (echopb.Echo), as the front service of the gRPC echo
// tutorial calls its backend: each request makes one unary Echo call, with
// the request's "name" query parameter (default "meshsim"), through the
// sidecar when Config.Proxy is set. The sidecar then gets an HTTP/2
// (h2c) connection whose :authority is host:port, the virtual service.
const grpcScheme = "grpc://"

func isGRPCBackend(backend string) bool { return strings.HasPrefix(backend, grpcScheme) }

// checkBackendURL accepts an http://host[:port] URL or a grpc://host:port
// one.
func checkBackendURL(s string) error {
	if !isGRPCBackend(s) {
		return checkHTTPURL(s)
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("is not a URL: %v", err)
	}
	if u.Hostname() == "" || u.Port() == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return fmt.Errorf("is not a grpc://host:port URL")
	}
	return nil
}

// dialGRPCBackends returns a client connection per gRPC backend of cfg.
// grpc.NewClient connects lazily, on the first call.
func dialGRPCBackends(cfg Config) (map[string]*grpc.ClientConn, error) {
	var proxyAddr string
	if cfg.Proxy != "" {
		u, err := url.Parse(cfg.Proxy)
		if err != nil {
			return nil, fmt.Errorf("sampleapp: Config.Proxy: %w", err)
		}
		proxyAddr = u.Host
		if u.Port() == "" {
			proxyAddr = net.JoinHostPort(u.Hostname(), "80")
		}
	}
	conns := make(map[string]*grpc.ClientConn)
	for _, b := range cfg.Backends {
		if !isGRPCBackend(b) || conns[b] != nil {
			continue
		}
		u, _ := url.Parse(b) // checked by validate
		opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
		if proxyAddr != "" {
			// Every call goes to the sidecar; its :authority (u.Host) names
			// the virtual service.
			opts = append(opts, grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "tcp", proxyAddr)
			}))
		}
		cc, err := grpc.NewClient("passthrough:///"+u.Host, opts...)
		if err != nil {
			closeGRPCBackends(conns)
			return nil, fmt.Errorf("sampleapp: backend %s: %w", b, err)
		}
		conns[b] = cc
	}
	return conns, nil
}

func closeGRPCBackends(conns map[string]*grpc.ClientConn) {
	for _, cc := range conns {
		cc.Close()
	}
}

// callGRPC makes the Echo call of one gRPC backend, passing on the
// request's X-Request-Id as metadata.
func (s *Server) callGRPC(r *http.Request, backend string) BackendResult {
	res := BackendResult{URL: backend}
	name := r.URL.Query().Get("name")
	if name == "" {
		name = "meshsim"
	}
	ctx := r.Context()
	if id := r.Header.Get("X-Request-Id"); id != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "x-request-id", id)
	}
	var header metadata.MD
	resp, err := echopb.NewEchoClient(s.grpcConns[backend]).Echo(ctx, &echopb.EchoRequest{Name: name}, grpc.Header(&header))
	first := func(key string) string {
		if v := header.Get(key); len(v) > 0 {
			return v[0]
		}
		return ""
	}
	// gRPC metadata keys are the response headers' names in lower case.
	res.Version, res.Task = first(contract.HeaderVersion), first(contract.HeaderTask)
	res.Chain = first(contract.HeaderChain)
	st := status.Convert(err)
	res.GRPCStatus = st.Code().String()
	if err != nil {
		res.Error = "gRPC " + st.Code().String() + ": " + st.Message()
		return res
	}
	res.Status = http.StatusOK
	res.Message = resp.GetMessage()
	if res.Version == "" {
		res.Version, res.Task = resp.GetVersion(), resp.GetTask()
	}
	return res
}
