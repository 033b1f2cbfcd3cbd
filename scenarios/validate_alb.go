package scenarios

import "time"

// loadBalancerDefaults fills in the ALB's defaults (routing alb).
func (v *validator) loadBalancerDefaults() {
	lb := &v.sc.LoadBalancer
	if v.sc.Routing != RoutingALB {
		return
	}
	setDefault(&lb.Port, 8000)
	setDefault(&lb.TestPort, 8001)
	setDefault(&lb.DeregistrationDelay, 300*time.Second)
	setDefault(&lb.HealthCheckInterval, 5*time.Second)
	setDefault(&lb.HealthyThreshold, 2)
	setDefault(&lb.UnhealthyThreshold, 2)
}

// loadBalancer checks routing alb: one HTTP service behind the load
// balancer, rolled out by ECS deployments, with target group settings
// ELBv2 accepts.
func (v *validator) loadBalancer() {
	sc := v.sc
	lb := sc.LoadBalancer
	if sc.Routing != RoutingALB {
		if lb.Pos.Line != 0 {
			v.at(lb.Pos, "loadBalancer configures the Application Load Balancer of routing: alb (this scenario's routing is %s)", sc.Routing)
		}
		return
	}
	if len(sc.Services) != 1 {
		v.at(v.fieldPos("services"), "routing alb puts one service behind the load balancer, not %d", len(sc.Services))
	}
	s, ok := sc.Service(sc.Ingress.Service)
	switch {
	case !ok:
	case s.Protocol != ProtocolHTTP:
		v.at(s.Pos, "service %q: the load balancer's listeners are HTTP: the service must speak http", s.Name)
	case len(s.Backends) > 0:
		v.at(s.Pos, "service %q: with routing alb there is no mesh for calls to backends", s.Name)
	}
	if len(sc.Rollout.Deployments) == 0 {
		v.at(sc.Rollout.Pos, "routing alb rolls out by ECS deployments (rollout.deployments), which register the tasks in the target groups")
	}
	if sc.Rollout.Service != "" && sc.Rollout.Service != sc.Ingress.Service {
		v.at(sc.Rollout.Pos, "rollout.service %q: with routing alb the rolled-out service is the one behind the load balancer (%q)", sc.Rollout.Service, sc.Ingress.Service)
	}
	p := lb.Pos
	switch {
	case lb.Port == lb.TestPort:
		v.at(p, "loadBalancer.port and loadBalancer.testPort are both %d", lb.Port)
	case lb.HealthCheckInterval < 5*time.Second || lb.HealthCheckInterval > 300*time.Second || lb.HealthCheckInterval%time.Second != 0:
		v.at(p, "loadBalancer.healthCheckInterval %s: ELBv2 takes whole seconds from 5s to 300s", lb.HealthCheckInterval)
	case lb.DeregistrationDelay < 0 || lb.DeregistrationDelay > time.Hour || lb.DeregistrationDelay%time.Second != 0:
		v.at(p, "loadBalancer.deregistrationDelay %s: ELBv2 takes whole seconds from 0s to 3600s", lb.DeregistrationDelay)
	case lb.SlowStart != 0 && (lb.SlowStart < 30*time.Second || lb.SlowStart > 900*time.Second || lb.SlowStart%time.Second != 0):
		v.at(p, "loadBalancer.slowStart %s: ELBv2 takes 0 (off) or whole seconds from 30s to 900s", lb.SlowStart)
	}
}
