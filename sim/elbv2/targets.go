package elbv2

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meshsim/meshsim/sim/contract"
)

// This file keeps targets: registration, health checks run as the target
// group says, and draining for the deregistration delay.

func (f *Fake) registerTargets(_ context.Context, _ string, decode func(any) error) (any, error) {
	var in struct {
		TargetGroupArn string
		Targets        []TargetDescription
	}
	if err := decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	tg, err := f.tg(in.TargetGroupArn)
	if err != nil {
		return nil, err
	}
	keys, err := targetKeys(tg, in.Targets)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		f.register(tg, k)
	}
	return map[string]any{}, nil
}

// targetKeys checks targets of tg: ip targets with a port (the group's by
// default).
func targetKeys(tg *targetGroup, ts []TargetDescription) ([]targetKey, error) {
	if len(ts) == 0 {
		return nil, apiError(codeValidation, "Targets: at least one target is required")
	}
	keys := make([]targetKey, 0, len(ts))
	for _, t := range ts {
		if net.ParseIP(t.ID) == nil {
			return nil, apiError(codeInvalidTarget, "The IP address '%s' is not a valid IPv4 address (meshsim's targets are ip targets)", t.ID)
		}
		port := t.Port
		if port == 0 {
			port = tg.wire.Port
		}
		if port < 1 || port > 65535 {
			return nil, apiError(codeValidation, "Target port %d must be between 1 and 65535", port)
		}
		keys = append(keys, targetKey{t.ID, port})
	}
	return keys, nil
}

// register adds k to tg (or starts it over if it was draining), and starts
// its health checks. Callers hold f.mu.
func (f *Fake) register(tg *targetGroup, k targetKey) {
	if t, ok := tg.targets[k]; ok {
		if t.state != stateDraining {
			return // already registered: nothing changes, as in AWS
		}
		t.stop()
	}
	t := &target{key: k, state: stateInitial, reason: "Elb.RegistrationInProgress", detail: "Target registration is in progress"}
	if !f.inUse(tg) {
		t.state, t.reason, t.detail = stateUnused, "Target.NotInUse", "Target group is not configured to receive traffic from the load balancer"
	}
	tg.targets[k] = t
	ctx, cancel := context.WithCancel(f.ctx)
	t.stop = cancel
	if f.closed {
		return
	}
	f.checkers.Add(1)
	go f.checkLoop(ctx, tg, t)
	f.emitHealth(tg, t)
	f.changes.Notify()
}

func (f *Fake) deregisterTargets(_ context.Context, _ string, decode func(any) error) (any, error) {
	var in struct {
		TargetGroupArn string
		Targets        []TargetDescription
	}
	if err := decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	tg, err := f.tg(in.TargetGroupArn)
	if err != nil {
		return nil, err
	}
	keys, err := targetKeys(tg, in.Targets)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if _, ok := tg.targets[k]; !ok {
			return nil, apiError(codeInvalidTarget, "The target '%s' is not registered in target group '%s'", k, tg.wire.TargetGroupName)
		}
	}
	for _, k := range keys {
		f.deregister(tg, k)
	}
	return map[string]any{}, nil
}

// deregister starts draining k: it takes no new requests and leaves the
// group after the deregistration delay (at once when the group is not in
// use, or the delay is 0). It returns the drain time. Callers hold f.mu.
func (f *Fake) deregister(tg *targetGroup, k targetKey) time.Duration {
	t, ok := tg.targets[k]
	if !ok || t.state == stateDraining {
		if ok {
			return time.Until(t.drainUntil)
		}
		return 0
	}
	t.stop()
	delay := f.seconds(tg.intAttr("deregistration_delay.timeout_seconds"))
	if !f.inUse(tg) || delay <= 0 || f.closed {
		delete(tg.targets, k)
		f.changes.Notify()
		return 0
	}
	t.state, t.reason, t.detail = stateDraining, "Target.DeregistrationInProgress", "Target deregistration is in progress"
	t.drainUntil = time.Now().Add(delay)
	ctx, cancel := context.WithCancel(f.ctx)
	t.stop = cancel
	f.checkers.Add(1)
	go func() {
		defer f.checkers.Done()
		timer := time.NewTimer(delay)
		defer timer.Stop()
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if tg.targets[k] == t {
			delete(tg.targets, k)
			f.emit(contract.EventTargetHealth, tg.wire.TargetGroupArn, map[string]string{contract.DetailTarget: k.String(), contract.DetailState: "deregistered"})
			f.changes.Notify()
		}
	}()
	f.emitHealth(tg, t)
	f.changes.Notify()
	return delay
}

func (f *Fake) describeTargetHealth(_ context.Context, _ string, decode func(any) error) (any, error) {
	var in struct {
		TargetGroupArn string
		Targets        []TargetDescription
	}
	if err := decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	tg, err := f.tg(in.TargetGroupArn)
	if err != nil {
		return nil, err
	}
	var keys []targetKey
	if len(in.Targets) > 0 {
		if keys, err = targetKeys(tg, in.Targets); err != nil {
			return nil, err
		}
	} else {
		for k := range tg.targets {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b targetKey) int { return strings.Compare(a.String(), b.String()) })
	}
	out := []TargetHealthDescription{}
	for _, k := range keys {
		d := TargetHealthDescription{Target: TargetDescription{ID: k.ip, Port: k.port}, HealthCheckPort: healthPort(tg, k)}
		if t, ok := tg.targets[k]; ok {
			d.TargetHealth = TargetHealth{State: t.state, Reason: t.reason, Description: t.detail}
			if t.state == stateHealthy {
				d.TargetHealth.Reason, d.TargetHealth.Description = "", ""
			}
		} else {
			d.TargetHealth = TargetHealth{State: stateUnused, Reason: "Target.NotRegistered", Description: "Target is not registered to the target group"}
		}
		out = append(out, d)
	}
	return map[string]any{"TargetHealthDescriptions": out}, nil
}

func healthPort(tg *targetGroup, k targetKey) string {
	if tg.wire.HealthCheckPort == "traffic-port" {
		return strconv.Itoa(int(k.port))
	}
	return tg.wire.HealthCheckPort
}

// checkLoop runs t's health checks every interval until ctx ends. A check
// passes when the target answers within the timeout with a code the
// matcher accepts (or, for TCP checks, accepts the connection).
func (f *Fake) checkLoop(ctx context.Context, tg *targetGroup, t *target) {
	defer f.checkers.Done()
	for {
		f.mu.Lock()
		w, inUse := tg.wire, f.inUse(tg)
		addr := net.JoinHostPort(t.key.ip, healthPort(tg, t.key))
		f.mu.Unlock()
		interval := f.seconds(w.HealthCheckIntervalSeconds)
		if inUse {
			f.checkOnce(ctx, tg, t, w, addr)
		} else {
			f.setHealth(tg, t, stateUnused, "Target.NotInUse", "Target group is not configured to receive traffic from the load balancer")
			interval = f.opts.Second // look again soon: a listener may start using the group
		}
		timer := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
	}
}

// checkOnce runs one health check of t and applies the thresholds.
func (f *Fake) checkOnce(ctx context.Context, tg *targetGroup, t *target, w TargetGroup, addr string) {
	if !w.HealthCheckEnabled {
		f.setHealth(tg, t, stateUnavail, "Target.HealthCheckDisabled", "Health checks are disabled")
		return
	}
	timeout := f.seconds(w.HealthCheckTimeoutSeconds)
	var ok bool
	reason, detail := "Target.FailedHealthChecks", "Health checks failed"
	if w.HealthCheckProtocol == "TCP" {
		c, err := (&net.Dialer{Timeout: timeout}).DialContext(ctx, "tcp", addr)
		if ok = err == nil; ok {
			c.Close()
		}
	} else {
		code, err := f.opts.Check(ctx, addr, w.HealthCheckPath, timeout)
		match := func(c int) bool { return c == http.StatusOK }
		if w.Matcher != nil && w.Matcher.HTTPCode != "" {
			if m, perr := parseMatcher(w.Matcher.HTTPCode); perr == nil {
				match = m
			}
		}
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil && isTimeout(err):
			reason, detail = "Target.Timeout", "Request timed out"
		case err != nil:
			detail = "Health checks failed: " + err.Error()
		case !match(code):
			reason, detail = "Target.ResponseCodeMismatch", fmt.Sprintf("Health checks failed with these codes: [%d]", code)
		default:
			ok = true
		}
	}
	f.mu.Lock()
	if tg.targets[t.key] != t || t.state == stateDraining {
		f.mu.Unlock()
		return
	}
	if t.state == stateUnused || t.state == stateUnavail {
		t.state, t.reason, t.detail = stateInitial, "Elb.InitialHealthChecking", "Initial health checks in progress"
	}
	if ok {
		t.passes, t.fails = t.passes+1, 0
	} else {
		t.passes, t.fails = 0, t.fails+1
	}
	state := t.state
	switch {
	case ok && state != stateHealthy && t.passes >= int(w.HealthyThresholdCount):
		state, reason, detail = stateHealthy, "", ""
	case !ok && state != stateUnhealthy && t.fails >= int(w.UnhealthyThresholdCount):
		state = stateUnhealthy
	case !ok && state == stateUnhealthy:
	default:
		reason, detail = t.reason, t.detail
	}
	f.mu.Unlock()
	f.setHealth(tg, t, state, reason, detail)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// setHealth records t's health state, telling the watchers when it changed.
func (f *Fake) setHealth(tg *targetGroup, t *target, state, reason, detail string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if tg.targets[t.key] != t || t.state == stateDraining {
		return
	}
	changed := t.state != state
	t.reason, t.detail = reason, detail
	if !changed {
		return
	}
	t.state = state
	if state == stateHealthy {
		t.healthySince = time.Now()
	}
	f.emitHealth(tg, t)
	f.changes.Notify()
}

func (f *Fake) emitHealth(tg *targetGroup, t *target) {
	f.emit(contract.EventTargetHealth, tg.wire.TargetGroupArn, map[string]string{
		contract.DetailTarget: t.key.String(), contract.DetailState: t.state, contract.DetailReason: t.reason,
	})
}

// httpCheck is the default Checker: GET http://addr/path.
func httpCheck(ctx context.Context, addr, path string, timeout time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("User-Agent", "ELB-HealthChecker/2.0")
	req.Close = true
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return 0, err
	}
	res.Body.Close()
	return res.StatusCode, nil
}
