// Package proxyless builds grpc-go's xDS resolver for proxyless gRPC
// clients (xds:///NAME targets). It is apart from loadgen because grpc-go's
// xDS client links Envoy's API types: only the programs that send proxyless
// load import it and hand NewResolver to loadgen.XDSClient.
package proxyless

import (
	"fmt"

	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/xds"
)

// NewResolver returns an xDS resolver that takes its configuration from
// bootstrap (see loadgen.XDSClient.Bootstrap). The bootstrap environment
// variables are read once per process; a resolver of its own gives each
// connection its own xDS client and node id.
func NewResolver(bootstrap []byte) (resolver.Builder, error) {
	r, err := xds.NewXDSResolverWithConfigForTesting(bootstrap)
	if err != nil {
		return nil, fmt.Errorf("proxyless: xDS resolver: %w", err)
	}
	return r, nil
}
