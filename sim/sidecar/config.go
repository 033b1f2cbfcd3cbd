package sidecar

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/events"
	"github.com/meshsim/meshsim/sim/xds"
)

// defaultDrainTimeout bounds how long a removed listener, or every
// listener on Close, waits for in-flight requests.
const defaultDrainTimeout = 5 * time.Second

// Config configures a Proxy.
type Config struct {
	// NodeID identifies the proxy to the control plane: the virtual
	// node's ARN or "mesh/<mesh>/virtualNode/<name>".
	NodeID string
	// XDSAddress is the control plane's gRPC address, host:port.
	XDSAddress string
	// BindIP is the task's IP address: listeners configured on 0.0.0.0
	// bind here, and static endpoints at 127.0.0.1 (the task's localhost)
	// are reached here. Default 127.0.0.1.
	BindIP string
	// Bus receives the proxy's events (source "sidecar"); nil means none.
	Bus *events.Bus
	// AdminPort is the port of the admin listener (the fault API) on
	// BindIP. Default contract.AdminPort (9901).
	AdminPort int
	// DrainTimeout bounds the wait for in-flight requests when a listener
	// is removed or the proxy closes. Default 5 s.
	DrainTimeout time.Duration
}

func (c Config) validate() error {
	if err := xds.CheckNodeID(c.NodeID); err != nil {
		return fmt.Errorf("sidecar: NodeID: %w", err)
	}
	if c.XDSAddress == "" {
		return errors.New("sidecar: XDSAddress is empty")
	}
	if _, _, err := net.SplitHostPort(c.XDSAddress); err != nil {
		return fmt.Errorf("sidecar: XDSAddress %q: %w", c.XDSAddress, err)
	}
	if c.BindIP != "" && net.ParseIP(c.BindIP) == nil {
		return fmt.Errorf("sidecar: BindIP %q is not an IP address", c.BindIP)
	}
	if c.AdminPort < 0 || c.AdminPort > 65535 {
		return fmt.Errorf("sidecar: AdminPort %d is not a port", c.AdminPort)
	}
	return nil
}

// ConfigFromEnv returns the configuration App Mesh's Envoy image would
// take from its environment: the node id from APPMESH_RESOURCE_ARN (or the
// older APPMESH_VIRTUAL_NODE_NAME) and the control plane from
// APPMESH_XDS_ENDPOINT. bindIP is the task's address.
func ConfigFromEnv(env map[string]string, bindIP string) (Config, error) {
	cfg := Config{BindIP: bindIP}
	nodeVar := contract.EnvResourceARN
	cfg.NodeID = env[contract.EnvResourceARN]
	if cfg.NodeID == "" {
		nodeVar = contract.EnvVirtualNodeName
		cfg.NodeID = env[contract.EnvVirtualNodeName]
	}
	if cfg.NodeID == "" {
		return Config{}, fmt.Errorf("sidecar: %s (or %s) is not set", contract.EnvResourceARN, contract.EnvVirtualNodeName)
	}
	if err := xds.CheckNodeID(cfg.NodeID); err != nil {
		return Config{}, fmt.Errorf("sidecar: %s: %w", nodeVar, err)
	}
	cfg.XDSAddress = env[contract.EnvXDSEndpoint]
	if cfg.XDSAddress == "" {
		return Config{}, fmt.Errorf("sidecar: %s is not set", contract.EnvXDSEndpoint)
	}
	if _, _, err := net.SplitHostPort(cfg.XDSAddress); err != nil {
		return Config{}, fmt.Errorf("sidecar: %s %q: want host:port: %w", contract.EnvXDSEndpoint, cfg.XDSAddress, err)
	}
	if bindIP != "" && net.ParseIP(bindIP) == nil {
		return Config{}, fmt.Errorf("sidecar: bind IP %q is not an IP address", bindIP)
	}
	return cfg, nil
}
