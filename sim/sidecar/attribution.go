package sidecar

import "net/http"

// Attribution: the data plane tells which task served a request, so that
// an application needs no help to be measured. A proxy forwarding on an
// outbound listener (the ingress gateway, or a caller's sidecar) sets
// these response headers on the way back, replacing any an application or
// an inner proxy set: the cluster it picked (its virtual node, or Service
// Connect revision) and the endpoint, the task's address, it forwarded
// to. It sets them also on the replies it makes itself when the attempt
// failed, so that a drop is put down to the task that dropped it.
const (
	HeaderUpstreamCluster  = "X-Meshsim-Upstream-Cluster"
	HeaderUpstreamEndpoint = "X-Meshsim-Upstream-Endpoint"
)

// attribute sets the attribution headers of a response to a request
// forwarded as f to endpoint.
func attribute(h http.Header, f *forward, endpoint string) {
	if f.outbound {
		h[HeaderUpstreamCluster] = []string{f.up.name}
		h[HeaderUpstreamEndpoint] = []string{endpoint}
	}
}
