package loadgen

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/meshsim/meshsim/sim/contract"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/status"
)

// GRPCTarget says where gRPC load goes and how the generator connects.
type GRPCTarget struct {
	// Address is either a "host:port" to connect to directly (a task, or a
	// sidecar's listener) or "xds:///NAME" for a proxyless client that
	// takes its routes, clusters and endpoints from XDS, as a grpc-go
	// client in a mesh does.
	Address string
	// Authority, when set, is sent as :authority instead of Address: the
	// virtual service a sidecar routes by (for example
	// "echo.demo.local:8080").
	Authority string
	// XDS is the control plane a proxyless client asks; required with an
	// xds:/// Address, unused otherwise.
	XDS *XDSClient
}

// XDSClient identifies a proxyless gRPC client to meshsim's control plane.
type XDSClient struct {
	// Server is the control plane's host:port (sim.World.XDSAddress).
	Server string
	// NodeID is the node id the client presents, App Mesh's
	// "mesh/<mesh>/virtualNode/<name>": the client is configured as a proxy
	// of that virtual node, so it reaches that node's backends.
	NodeID string
	// NewResolver builds the xDS resolver of a connection from the
	// client's bootstrap; loadgen/proxyless.NewResolver is grpc-go's. It
	// is given rather than imported so that loadgen does not link the xDS
	// client's Envoy types.
	NewResolver func(bootstrap []byte) (resolver.Builder, error)
}

// Bootstrap returns the xDS bootstrap configuration of the client: the
// control plane over insecure ADS (xDS v3), and the node id.
func (x XDSClient) Bootstrap() ([]byte, error) {
	if _, _, err := net.SplitHostPort(x.Server); err != nil {
		return nil, fmt.Errorf("loadgen: xDS server %q is not host:port: %w", x.Server, err)
	}
	if x.NodeID == "" {
		return nil, errors.New("loadgen: xDS client without a node id")
	}
	type creds struct {
		Type string `json:"type"`
	}
	type server struct {
		URI      string   `json:"server_uri"`
		Creds    []creds  `json:"channel_creds"`
		Features []string `json:"server_features"`
	}
	type node struct {
		ID string `json:"id"`
	}
	return json.Marshal(struct {
		Servers []server `json:"xds_servers"`
		Node    node     `json:"node"`
	}{
		Servers: []server{{URI: x.Server, Creds: []creds{{Type: "insecure"}}, Features: []string{"xds_v3"}}},
		Node:    node{ID: x.NodeID},
	})
}

func (t GRPCTarget) validate() error {
	switch {
	case strings.HasPrefix(t.Address, "xds:///"):
		if strings.TrimPrefix(t.Address, "xds:///") == "" {
			return fmt.Errorf("loadgen: gRPC target %q names no service", t.Address)
		}
		if t.XDS == nil {
			return fmt.Errorf("loadgen: gRPC target %q needs an xDS control plane (GRPCTarget.XDS)", t.Address)
		}
	case strings.Contains(t.Address, "://"):
		return fmt.Errorf("loadgen: gRPC target %q: want host:port or xds:///NAME", t.Address)
	default:
		if _, _, err := net.SplitHostPort(t.Address); err != nil {
			return fmt.Errorf("loadgen: gRPC target %q: want host:port or xds:///NAME: %w", t.Address, err)
		}
	}
	return nil
}

// String describes the target for people.
func (t GRPCTarget) String() string {
	s := t.Address
	if t.Authority != "" {
		s += " (authority " + t.Authority + ")"
	}
	if t.XDS != nil && strings.HasPrefix(t.Address, "xds:") {
		s += " via xDS " + t.XDS.Server + " as " + t.XDS.NodeID
	}
	return s
}

// Dial returns a new client connection to t. Each connection is its own
// HTTP/2 connection (or, proxyless, its own xDS client and connections to
// every endpoint). grpc.NewClient connects lazily, on the first call.
func (t GRPCTarget) Dial() (*grpc.ClientConn, error) {
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	target := t.Address
	if strings.HasPrefix(target, "xds:") {
		bootstrap, err := t.XDS.Bootstrap()
		if err != nil {
			return nil, err
		}
		if t.XDS.NewResolver == nil {
			return nil, fmt.Errorf("loadgen: gRPC target %s: no xDS resolver (XDSClient.NewResolver: loadgen/proxyless.NewResolver)", t.Address)
		}
		resolver, err := t.XDS.NewResolver(bootstrap)
		if err != nil {
			return nil, fmt.Errorf("loadgen: xDS resolver for %s: %w", t.Address, err)
		}
		opts = append(opts, grpc.WithResolvers(resolver))
	} else {
		target = "passthrough:///" + target
	}
	if t.Authority != "" {
		opts = append(opts, grpc.WithAuthority(t.Authority))
	}
	cc, err := grpc.NewClient(target, opts...)
	if err != nil {
		return nil, fmt.Errorf("loadgen: connecting to %s: %w", t, err)
	}
	return cc, nil
}

// dialAll returns n connections to t, or closes those made and fails.
func (t GRPCTarget) dialAll(n int) ([]*grpc.ClientConn, error) {
	conns := make([]*grpc.ClientConn, 0, n)
	for range n {
		cc, err := t.Dial()
		if err != nil {
			closeAll(conns)
			return nil, err
		}
		conns = append(conns, cc)
	}
	return conns, nil
}

func closeAll(conns []*grpc.ClientConn) {
	for _, cc := range conns {
		cc.Close()
	}
}

func mdGet(md metadata.MD, key string) string {
	if v := md.Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

// gRPC error kinds, in addition to the HTTP ones that also apply
// ("refused", "reset", "eof", "no-healthy-upstream", "canceled", "other").
const (
	kindGoAway    = "goaway"
	kindRSTStream = "rst-stream"
	kindDeadline  = "deadline"
	kindDrained   = "drained"
	kindEnded     = "ended"
	kindAppError  = "app-error"
	kindProxy     = "proxy-error"
	kindCanceled  = "canceled"
)

// classifyGRPC names the kind of a failed gRPC call or broken stream from
// its status, the header and trailer metadata that came back, and whether
// the generator itself canceled it. grpc-go reports transport failures as
// UNAVAILABLE with the cause in the message: "stream terminated by
// RST_STREAM", "the connection is draining" (a GOAWAY that the stream was
// beyond), "received prior goaway", "error reading from server: EOF" or
// "...: connection reset by peer".
func classifyGRPC(err error, header, trailer metadata.MD, canceled bool) string {
	st := status.Convert(err)
	msg := strings.ToLower(st.Message())
	switch {
	case st.Code() == codes.OK:
		return kindEnded
	case mdGet(trailer, contract.MetadataEnd) == "draining":
		return kindDrained
	case canceled && st.Code() == codes.Canceled:
		return kindCanceled
	case st.Code() == codes.DeadlineExceeded:
		return kindDeadline
	case strings.Contains(msg, "rst_stream"):
		return kindRSTStream
	case strings.Contains(msg, "connection reset") || strings.Contains(msg, "broken pipe") || strings.Contains(msg, "forcibly closed"):
		return "reset"
	case strings.Contains(msg, "connection is draining") || strings.Contains(msg, "goaway"):
		return kindGoAway
	case strings.Contains(msg, "connection refused") || strings.Contains(msg, "actively refused"):
		return "refused"
	case strings.Contains(msg, "eof") || strings.Contains(msg, "transport is closing") || strings.Contains(msg, "connection closed"):
		return "eof"
	case strings.Contains(msg, "no healthy upstream"):
		return "no-healthy-upstream"
	case mdGet(header, contract.HeaderVersion) != "" || mdGet(trailer, contract.HeaderVersion) != "":
		return kindAppError
	case mdGet(header, contract.HeaderProxy) != "" || mdGet(trailer, contract.HeaderProxy) != "":
		return kindProxy
	}
	return "other"
}

// codeName is the gRPC status code name of err: "OK", "UNAVAILABLE".
func codeName(err error) string {
	c := status.Code(err)
	if name, ok := codeNames[c]; ok {
		return name
	}
	return c.String()
}

// codeNames are the canonical names of the gRPC status codes.
var codeNames = map[codes.Code]string{
	codes.OK:                 "OK",
	codes.Canceled:           "CANCELLED",
	codes.Unknown:            "UNKNOWN",
	codes.InvalidArgument:    "INVALID_ARGUMENT",
	codes.DeadlineExceeded:   "DEADLINE_EXCEEDED",
	codes.NotFound:           "NOT_FOUND",
	codes.AlreadyExists:      "ALREADY_EXISTS",
	codes.PermissionDenied:   "PERMISSION_DENIED",
	codes.ResourceExhausted:  "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION",
	codes.Aborted:            "ABORTED",
	codes.OutOfRange:         "OUT_OF_RANGE",
	codes.Unimplemented:      "UNIMPLEMENTED",
	codes.Internal:           "INTERNAL",
	codes.Unavailable:        "UNAVAILABLE",
	codes.DataLoss:           "DATA_LOSS",
	codes.Unauthenticated:    "UNAUTHENTICATED",
}

// errorMessage is the text recorded for a failed call: its status message.
func errorMessage(err error) string {
	st := status.Convert(err)
	if st.Code() == codes.OK {
		return "the server ended the stream with status OK"
	}
	return st.Message()
}
