package docker

import (
	"context"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"

	bootstrap "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/ecs"
)

func TestEnvoyBootstrap(t *testing.T) {
	const arn = "arn:aws:appmesh:us-east-1:000000000000:mesh/bookingapp/virtualNode/movie-v2"
	tests := []struct {
		node, xds   string
		wantErr     string
		wantCluster string // the static xDS cluster's discovery type
	}{
		{node: arn, xds: "meshsim-1a2b3c4d-fakes:18000", wantCluster: "STRICT_DNS"},
		{node: "mesh/bookingapp/virtualNode/home-v1", xds: "10.0.0.2:18000", wantCluster: "STATIC"},
		{node: "movie-v2", xds: "fakes:18000", wantErr: "node id"},
		{node: arn, xds: "fakes", wantErr: "control plane address"},
	}
	for _, tt := range tests {
		data, err := EnvoyBootstrap(tt.node, tt.xds)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("EnvoyBootstrap(%q, %q): error %v, want one about %s", tt.node, tt.xds, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("EnvoyBootstrap(%q, %q): %v", tt.node, tt.xds, err)
			continue
		}
		// Envoy reads the JSON as YAML; it must be a valid bootstrap.
		var b bootstrap.Bootstrap
		if err := protojson.Unmarshal(data, &b); err != nil {
			t.Errorf("bootstrap does not parse: %v\n%s", err, data)
			continue
		}
		if err := b.ValidateAll(); err != nil {
			t.Errorf("bootstrap is not valid: %v", err)
		}
		ads := b.GetDynamicResources().GetAdsConfig()
		xdsCl := b.GetStaticResources().GetClusters()[0]
		addr := xdsCl.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress()
		switch {
		case b.GetNode().GetId() != tt.node:
			t.Errorf("node id %q, want %q", b.GetNode().GetId(), tt.node)
		case ads.GetGrpcServices()[0].GetEnvoyGrpc().GetClusterName() != xdsCl.GetName():
			t.Errorf("ADS uses cluster %q, the bootstrap defines %q", ads.GetGrpcServices()[0].GetEnvoyGrpc().GetClusterName(), xdsCl.GetName())
		case b.GetDynamicResources().GetLdsConfig().GetAds() == nil || b.GetDynamicResources().GetCdsConfig().GetAds() == nil:
			t.Error("LDS and CDS do not come over ADS")
		case net.JoinHostPort(addr.GetAddress(), strconv.Itoa(int(addr.GetPortValue()))) != tt.xds:
			t.Errorf("control plane at %s:%d, want %s", addr.GetAddress(), addr.GetPortValue(), tt.xds)
		case xdsCl.GetType().String() != tt.wantCluster:
			t.Errorf("xDS cluster type %s, want %s", xdsCl.GetType(), tt.wantCluster)
		}
	}
}

// TestPlan checks how task-definition images map to containers: meshsim's
// image for the sample service and the sidecar (Envoy-named images
// included), Envoy with a bootstrap when an Envoy image is configured.
func TestPlan(t *testing.T) {
	const arn = "arn:aws:appmesh:us-east-1:000000000000:mesh/m/virtualNode/web-v1"
	spec := ecs.TaskSpec{TaskID: "0123456789abcdef0123456789abcdef"}
	sidecarEnv := map[string]string{contract.EnvResourceARN: arn}
	tests := []struct {
		name      string
		envoy     string
		c         ecs.ContainerSpec
		wantImage string
		wantCmd   []string
		wantXDS   string
	}{
		{"sample service", "", ecs.ContainerSpec{Name: "app", Image: contract.SampleHTTPImage + ":v2"}, "meshsim/meshsim:x", []string{"container", "app"}, ""},
		{"sample gRPC service", "", ecs.ContainerSpec{Name: "app", Image: "docker.io/" + contract.SampleGRPCImage}, "meshsim/meshsim:x", []string{"container", "grpc"}, ""},
		{"embedded sidecar", "", ecs.ContainerSpec{Name: "envoy", Image: contract.SidecarImage, Env: sidecarEnv}, "meshsim/meshsim:x", []string{"container", "sidecar"}, "fakes:18000"},
		{"App Mesh's Envoy image, no Envoy", "", ecs.ContainerSpec{Name: "envoy", Image: "840364872350.dkr.ecr.us-west-2.amazonaws.com/aws-appmesh-envoy:v1.29.12.0-prod", Env: sidecarEnv}, "meshsim/meshsim:x", []string{"container", "sidecar"}, "fakes:18000"},
		{"sidecar as Envoy", "envoyproxy/envoy:v1.31-latest", ecs.ContainerSpec{Name: "envoy", Image: contract.SidecarImage, Env: sidecarEnv}, "envoyproxy/envoy:v1.31-latest", nil, "fakes:18000"},
		{"the task's own control plane", "", ecs.ContainerSpec{Name: "envoy", Image: contract.SidecarImage, Env: map[string]string{contract.EnvResourceARN: arn, contract.EnvXDSEndpoint: "elsewhere:18000"}}, "meshsim/meshsim:x", []string{"container", "sidecar"}, "elsewhere:18000"},
	}
	for _, tt := range tests {
		r := &Runtime{opts: Options{Image: "meshsim/meshsim:x", EnvoyImage: tt.envoy, XDSAddress: "fakes:18000"}}
		p, err := r.plan(context.Background(), spec, tt.c)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if p.image != tt.wantImage || p.env[EnvTaskID] != spec.TaskID || p.env[contract.EnvXDSEndpoint] != tt.wantXDS {
			t.Errorf("%s: image %s, env %v", tt.name, p.image, p.env)
		}
		if tt.envoy == "" {
			if !slices.Equal(p.cmd, tt.wantCmd) || p.entrypoint != nil {
				t.Errorf("%s: entrypoint %q cmd %q, want cmd %q", tt.name, p.entrypoint, p.cmd, tt.wantCmd)
			}
			continue
		}
		if !slices.Equal(p.entrypoint, []string{"envoy"}) || len(p.cmd) < 2 || p.cmd[0] != "--config-yaml" || !strings.Contains(p.cmd[1], arn) {
			t.Errorf("%s: entrypoint %q cmd %q, want envoy --config-yaml <bootstrap with the node id>", tt.name, p.entrypoint, p.cmd)
		}
	}
}
