package ecs

import (
	"cmp"
	"context"
	"reflect"
	"slices"
)

// ServiceTraffic says how traffic to one ECS service is split between the
// revisions it runs. ECS decides the weights; the data plane applies them
// (through the Service Connect proxies' routes).
type ServiceTraffic struct {
	Cluster    string // cluster name
	Service    string // service name
	ServiceARN string
	// Strategy is the deployment strategy of the service's current
	// deployment: ROLLING, BLUE_GREEN, LINEAR or CANARY.
	Strategy string
	// ServiceConnect is the Service Connect configuration of the PRIMARY
	// revision, or nil when the service does not use Service Connect.
	ServiceConnect *ServiceConnect
	// Revisions are the revisions that run tasks (or are to), the PRIMARY
	// one first. Their production weights add up to 100, as do their test
	// weights.
	Revisions []RevisionTraffic
}

// RevisionTraffic is the share of traffic of one revision of a service.
type RevisionTraffic struct {
	// DeploymentID is the deployments[] id ("ecs-svc/..."): the value of
	// the AttrDeploymentID attribute of the revision's Cloud Map instances.
	DeploymentID       string
	ServiceRevisionARN string
	TaskDefinitionARN  string
	// ProductionWeight and TestWeight are percentages. Test traffic is
	// the requests a client alias's test traffic rule selects. During a
	// BLUE_GREEN, LINEAR or CANARY deployment they are the weights ECS
	// asks for; otherwise (ROLLING) each revision's share of the running
	// tasks, so that every task gets an equal share.
	ProductionWeight float64
	TestWeight       float64
}

// TrafficState returns the traffic split of every service that is not
// INACTIVE, ordered by cluster and service ARN.
func (f *Fake) TrafficState() []ServiceTraffic {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.trafficState()
}

// trafficState computes TrafficState from each service's last published
// traffic split. Callers hold f.mu.
func (f *Fake) trafficState() []ServiceTraffic {
	var out []ServiceTraffic
	for _, c := range f.clusters {
		for _, s := range c.services {
			if st := s.traffic; st != nil {
				c := *st
				c.ServiceConnect = st.ServiceConnect.clone()
				c.Revisions = slices.Clone(st.Revisions)
				out = append(out, c)
			}
		}
	}
	slices.SortFunc(out, func(a, b ServiceTraffic) int { return cmp.Compare(a.ServiceARN, b.ServiceARN) })
	return out
}

// serviceTraffic computes the traffic split of s; nil when s is INACTIVE.
// Callers hold f.mu.
func (f *Fake) serviceTraffic(s *service) *ServiceTraffic {
	if s.status == serviceInactive || len(s.deployments) == 0 {
		return nil
	}
	st := &ServiceTraffic{
		Cluster:        s.cluster.name,
		Service:        s.name,
		ServiceARN:     s.arn,
		Strategy:       s.parsed.Strategy,
		ServiceConnect: s.deployments[0].revision.connect.clone(),
	}
	if s.current != nil {
		st.Strategy = s.current.parsed.Strategy
	}
	w := f.weights(s)
	for _, d := range s.deployments {
		st.Revisions = append(st.Revisions, RevisionTraffic{
			DeploymentID:       d.id,
			ServiceRevisionARN: d.revision.arn,
			TaskDefinitionARN:  d.def.arn,
			ProductionWeight:   w[d].production,
			TestWeight:         w[d].test,
		})
	}
	return st
}

// Watch returns a channel that receives a value after TrafficState changes.
// Notifications coalesce: the channel has a buffer of one, so a slow reader
// sees one value for many changes. Call Watch before reading the state,
// then read it again on every value. The channel is closed when ctx ends or
// the fake is closed.
func (f *Fake) Watch(ctx context.Context) <-chan struct{} {
	return f.changes.Watch(ctx)
}

// publish notifies the watchers when the traffic split of s differs from
// the one they last saw. Callers hold f.mu.
func (f *Fake) publish(s *service) {
	st := f.serviceTraffic(s)
	if reflect.DeepEqual(st, s.traffic) {
		return
	}
	s.traffic = st
	f.changes.Notify()
}
