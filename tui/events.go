package tui

import (
	"fmt"
	"sort"
	"strings"

	"github.com/meshsim/meshsim/scenarios/engine/status"
)

// isDecision reports whether e decides the rollout's course: a gate's
// verdict, a rollback or a failed deployment, a user's control.
func isDecision(e status.Event) bool {
	switch e.Type {
	case "gate.succeeded", "gate.failed", "gate.unanswered", "gate.error", "control":
		return true
	case "deployment.state":
		st := e.Detail["status"] + " " + e.Detail["rolloutState"]
		return strings.Contains(st, "ROLLBACK") || strings.Contains(st, "FAILED")
	case "alarm.state":
		return e.Detail["to"] == "ALARM"
	}
	return false
}

// isFailure reports whether e tells of something that went wrong.
func isFailure(e status.Event) bool {
	if e.Detail["error"] != "" {
		return true
	}
	switch e.Type {
	case "gate.failed", "gate.unanswered", "gate.error", "task.error", "xds.nack", "xds.error", "sidecar.xds.nack",
		"fault.injected", "fault.error", "endpoint.error", "teardown.error", "events.gap":
		return true
	}
	return isDecision(e) && e.Type != "gate.succeeded"
}

// eventLine renders one event: its time, where it came from and what it
// says, in words where the event is common.
func (m Model) eventLine(e status.Event) string {
	t := e.Time.In(m.zone).Format("15:04:05")
	text := eventText(e)
	switch {
	case e.Type == "gate.succeeded":
		text = goodStyle.Render(text)
	case isFailure(e):
		text = badStyle.Render(text)
	case isDecision(e):
		text = warnStyle.Render(text)
	}
	return faintStyle.Render(t) + " " + text
}

// eventText says what e is about.
func eventText(e status.Event) string {
	d := e.Detail
	res := shortResource(e.Resource)
	switch e.Type {
	case "aws.call":
		s := fmt.Sprintf("AWS %s %s %s", d["service"], d["operation"], d["duration"])
		if d["error"] != "" {
			s += ": " + d["error"]
		}
		return s
	case "task.state":
		s := fmt.Sprintf("task %s (%s) %s → %s", shortID(res), d["service"], d["from"], d["to"])
		if d["stoppedReason"] != "" {
			s += ": " + d["stoppedReason"]
		}
		return s
	case "route.updated", "route.created":
		return fmt.Sprintf("App Mesh route %s %s %s", res, strings.TrimPrefix(e.Type, "route."), d["weights"])
	case "xds.push", "xds.ack", "xds.nack", "xds.snapshot":
		return strings.TrimSpace(fmt.Sprintf("xDS %s %s %s", strings.TrimPrefix(e.Type, "xds."), firstOf(d, "node")+orEmpty(d["node"] == "", res), shortType(d["typeUrl"])))
	case "sidecar.xds.applied", "sidecar.xds.nack":
		return strings.TrimSpace(fmt.Sprintf("sidecar %s %s %s", res, strings.TrimPrefix(e.Type, "sidecar.xds."), shortType(d["typeUrl"])))
	case "gate.succeeded", "gate.failed", "gate.unanswered", "gate.error":
		return fmt.Sprintf("gate %s %s: %s", strings.ToUpper(strings.TrimPrefix(e.Type, "gate.")), d["stage"], firstOf(d, "reason", "error"))
	case "control":
		return fmt.Sprintf("%s: %s", d["action"], d["reason"])
	case "deployment.state":
		return fmt.Sprintf("ECS deployment %s %s %s", d["service"], d["status"], d["reason"])
	case "step.start":
		return fmt.Sprintf("step %s begins: %s %s", d["step"], d["name"], d["weights"])
	case "step.end":
		if d["cut"] == "true" {
			return fmt.Sprintf("step %s ends, cut short", d["step"])
		}
		return fmt.Sprintf("step %s ends", d["step"])
	}
	return strings.TrimSpace(fmt.Sprintf("%s %s %s %s", e.Source, e.Type, res, details(d)))
}

// shortType is the message name of an xDS type URL:
// "type.googleapis.com/envoy.config.route.v3.RouteConfiguration" →
// "RouteConfiguration".
func shortType(url string) string { return url[strings.LastIndexByte(url, '.')+1:] }

func orEmpty(cond bool, s string) string {
	if cond {
		return s
	}
	return ""
}

func firstOf(d map[string]string, keys ...string) string {
	for _, k := range keys {
		if d[k] != "" {
			return d[k]
		}
	}
	return ""
}

// details renders an event's details as key=value, sorted.
func details(d map[string]string) string {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		if d[k] != "" {
			parts = append(parts, k+"="+d[k])
		}
	}
	return strings.Join(parts, " ")
}

// shortResource keeps the end of an ARN: what names the resource.
func shortResource(arn string) string {
	if i := strings.LastIndexAny(arn, ":/"); i >= 0 && strings.HasPrefix(arn, "arn:") {
		// keep "service/NAME", "task/ID": the last two path parts
		parts := strings.Split(arn[strings.LastIndexByte(arn, ':')+1:], "/")
		if len(parts) >= 2 {
			return strings.Join(parts[len(parts)-2:], "/")
		}
		return arn[i+1:]
	}
	return arn
}

// shortID shortens a task id to 8 characters.
func shortID(res string) string {
	id := res[strings.LastIndexByte(res, '/')+1:]
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
