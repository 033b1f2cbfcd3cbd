package docker

import (
	"fmt"
	"net"
	"strconv"
	"time"

	bootstrap "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	upstreamhttp "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/meshsim/meshsim/sim/xds"
)

// xdsCluster is the bootstrap's static cluster for the control plane.
const xdsCluster = "meshsim_xds"

// envoyAdminPort is where Envoy's admin interface listens in the task.
const envoyAdminPort = 9901

// EnvoyBootstrap returns the Envoy bootstrap of a sidecar, in JSON (which
// Envoy reads as YAML, for --config-yaml): the node id App Mesh's Envoy
// takes from APPMESH_RESOURCE_ARN, listeners and clusters over ADS (gRPC,
// xDS v3) from the control plane at xdsAddress, and the admin interface on
// port 9901. The xDS resources are the ones the embedded sidecar gets.
func EnvoyBootstrap(nodeID, xdsAddress string) ([]byte, error) {
	if err := xds.CheckNodeID(nodeID); err != nil {
		return nil, fmt.Errorf("envoy bootstrap: %w", err)
	}
	host, portText, err := net.SplitHostPort(xdsAddress)
	if err != nil {
		return nil, fmt.Errorf("envoy bootstrap: control plane address %q: %w", xdsAddress, err)
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("envoy bootstrap: control plane address %q: bad port", xdsAddress)
	}
	h2, err := anypb.New(&upstreamhttp.HttpProtocolOptions{
		UpstreamProtocolOptions: &upstreamhttp.HttpProtocolOptions_ExplicitHttpConfig_{
			ExplicitHttpConfig: &upstreamhttp.HttpProtocolOptions_ExplicitHttpConfig{
				ProtocolConfig: &upstreamhttp.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{
					Http2ProtocolOptions: &core.Http2ProtocolOptions{},
				},
			},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("envoy bootstrap: %w", err)
	}
	// The control plane is named by its alias on the run network (or an
	// address); STRICT_DNS resolves either.
	clusterType := cluster.Cluster_STRICT_DNS
	if ip := net.ParseIP(host); ip != nil {
		clusterType = cluster.Cluster_STATIC
	}
	ads := &core.ConfigSource{
		ResourceApiVersion:    core.ApiVersion_V3,
		ConfigSourceSpecifier: &core.ConfigSource_Ads{Ads: &core.AggregatedConfigSource{}},
	}
	b := &bootstrap.Bootstrap{
		Node:  &core.Node{Id: nodeID, Cluster: xds.NormalizeNodeID(nodeID)},
		Admin: &bootstrap.Admin{Address: socketAddress("0.0.0.0", envoyAdminPort)},
		DynamicResources: &bootstrap.Bootstrap_DynamicResources{
			AdsConfig: &core.ApiConfigSource{
				ApiType:             core.ApiConfigSource_GRPC,
				TransportApiVersion: core.ApiVersion_V3,
				GrpcServices: []*core.GrpcService{{
					TargetSpecifier: &core.GrpcService_EnvoyGrpc_{EnvoyGrpc: &core.GrpcService_EnvoyGrpc{ClusterName: xdsCluster}},
				}},
				SetNodeOnFirstMessageOnly: true,
			},
			LdsConfig: ads,
			CdsConfig: ads,
		},
		StaticResources: &bootstrap.Bootstrap_StaticResources{
			Clusters: []*cluster.Cluster{{
				Name:                 xdsCluster,
				ClusterDiscoveryType: &cluster.Cluster_Type{Type: clusterType},
				ConnectTimeout:       durationpb.New(time.Second),
				TypedExtensionProtocolOptions: map[string]*anypb.Any{
					"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": h2,
				},
				LoadAssignment: &endpoint.ClusterLoadAssignment{
					ClusterName: xdsCluster,
					Endpoints: []*endpoint.LocalityLbEndpoints{{
						LbEndpoints: []*endpoint.LbEndpoint{{
							HostIdentifier: &endpoint.LbEndpoint_Endpoint{Endpoint: &endpoint.Endpoint{
								Address: socketAddress(host, uint32(port)),
							}},
						}},
					}},
				},
			}},
		},
	}
	if err := b.ValidateAll(); err != nil {
		return nil, fmt.Errorf("envoy bootstrap: %w", err)
	}
	return protojson.Marshal(b)
}

func socketAddress(host string, port uint32) *core.Address {
	return &core.Address{Address: &core.Address_SocketAddress{SocketAddress: &core.SocketAddress{
		Protocol:      core.SocketAddress_TCP,
		Address:       host,
		PortSpecifier: &core.SocketAddress_PortValue{PortValue: port},
	}}}
}
