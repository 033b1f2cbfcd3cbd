package sidecar

import (
	"net/http"

	"github.com/meshsim/meshsim/sim/contract"
)

// attribute sets the attribution headers of a response to a request
// forwarded as f to endpoint: on an outbound listener, the cluster the
// proxy picked and the endpoint it forwarded to (contract.
// HeaderUpstreamCluster, HeaderUpstreamEndpoint), replacing any that an
// application or an inner proxy set. The data plane so tells which task
// served a request, and an application needs no help to be measured.
func attribute(h http.Header, f *forward, endpoint string) {
	if f.outbound {
		h[contract.HeaderUpstreamCluster] = []string{f.up.name}
		h[contract.HeaderUpstreamEndpoint] = []string{endpoint}
	}
}
