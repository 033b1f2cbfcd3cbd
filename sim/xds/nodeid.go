package xds

import (
	"fmt"
	"strings"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

// NormalizeNodeID returns the short form "mesh/M/virtualNode/VN" of a node
// id given either in that form or as the virtual node's ARN
// ("arn:aws:appmesh:REGION:ACCOUNT:mesh/M/virtualNode/VN"), as App Mesh's
// Envoy bootstrap sends it, and "loadbalancer/app/NAME/ID" of a load
// balancer's ARN. Any other id is returned unchanged.
func NormalizeNodeID(id string) string {
	if !strings.HasPrefix(id, "arn:") {
		return id
	}
	parts := strings.SplitN(id, ":", 6)
	if len(parts) != 6 || !strings.HasPrefix(parts[5], "mesh/") && !strings.HasPrefix(parts[5], "loadbalancer/") {
		return id
	}
	return parts[5]
}

// CheckNodeID checks a proxy's node id: a virtual node's (see ParseNodeID)
// or a load balancer's, "loadbalancer/app|net/NAME/ID" or the load
// balancer's ARN.
func CheckNodeID(id string) error {
	parts := strings.Split(NormalizeNodeID(id), "/")
	if len(parts) == 4 && parts[0] == "loadbalancer" && (parts[1] == "app" || parts[1] == "net") && parts[2] != "" && parts[3] != "" {
		return nil
	}
	if _, _, err := ParseNodeID(id); err != nil {
		return fmt.Errorf("node id %q: want mesh/<mesh>/virtualNode/<name>, loadbalancer/app|net/<name>/<id> or their ARNs", id)
	}
	return nil
}

// ParseNodeID returns the mesh and the virtual node or virtual gateway
// (a proxy in the gateway role) named by a node id in either form
// NormalizeNodeID accepts.
func ParseNodeID(id string) (mesh, name string, err error) {
	parts := strings.Split(NormalizeNodeID(id), "/")
	if len(parts) != 4 || parts[0] != "mesh" || (parts[2] != "virtualNode" && parts[2] != "virtualGateway") || parts[1] == "" || parts[3] == "" {
		return "", "", fmt.Errorf("node id %q: want mesh/<mesh>/virtualNode/<name>, mesh/<mesh>/virtualGateway/<name> or their ARN", id)
	}
	return parts[1], parts[3], nil
}

// NodeHash keys the snapshot cache by the short form of node.id, so a
// proxy that identifies itself by ARN and one that uses the short form get
// the same configuration; proxyless gRPC clients of a node get theirs under
// ProxylessKey (see proxyless.go). It implements cache.NodeHash.
type NodeHash struct{}

// ID returns the normalised node id of node, or "" when node is nil.
func (NodeHash) ID(node *core.Node) string {
	if node == nil {
		return ""
	}
	if IsProxyless(node) {
		return ProxylessKey(NormalizeNodeID(node.GetId()))
	}
	return NormalizeNodeID(node.GetId())
}
