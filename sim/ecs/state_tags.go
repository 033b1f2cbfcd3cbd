package ecs

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/meshsim/meshsim/sim/awsproto"
)

// This file holds resource tags: every taggable resource (cluster, service,
// task definition, task, task set, capacity provider, container instance)
// keeps its tags as a list in the order they were first set, and finds them
// by ARN for TagResource, UntagResource and ListTagsForResource.

// tagKV is a tag as the ECS API spells it.
type tagKV struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// parseTags returns the tags of a request member that checkTags accepted.
func parseTags(raw json.RawMessage) []tagKV {
	var in []tag
	if len(raw) == 0 || json.Unmarshal(raw, &in) != nil {
		return nil
	}
	out := make([]tagKV, 0, len(in))
	for _, t := range in {
		kv := tagKV{Key: deref(t.Key, "")}
		if t.Value != nil {
			kv.Value = *t.Value
		}
		out = append(out, kv)
	}
	return out
}

// withTags returns tags with add laid over them: a key already there takes
// the new value in place, a new key goes at the end.
func withTags(tags, add []tagKV) []tagKV {
	out := slices.Clone(tags)
	for _, t := range add {
		if i := slices.IndexFunc(out, func(o tagKV) bool { return o.Key == t.Key }); i >= 0 {
			out[i].Value = t.Value
			continue
		}
		out = append(out, t)
	}
	return out
}

// withoutTags returns tags without the keys given.
func withoutTags(tags []tagKV, keys []string) []tagKV {
	return slices.DeleteFunc(slices.Clone(tags), func(t tagKV) bool { return slices.Contains(keys, t.Key) })
}

// tagsOut returns tags for a response: a list, never null.
func tagsOut(tags []tagKV) []tagKV {
	if tags == nil {
		return []tagKV{}
	}
	return tags
}

// userTags returns the tags a user may see and change: all but the aws:
// ones ECS manages.
func userTags(tags []tagKV) []tagKV {
	return slices.DeleteFunc(slices.Clone(tags), func(t tagKV) bool { return strings.HasPrefix(t.Key, "aws:") })
}

var errResourceNotFound = awsproto.Errorf(http.StatusBadRequest, "ResourceNotFoundException", "The specified resource could not be found.")

// tagsOf returns the tags of the resource arn, for TagResource and friends.
// Callers hold f.mu.
func (f *Fake) tagsOf(arn string) (*[]tagKV, error) {
	// arn:aws:ecs:REGION:ACCOUNT:TYPE/REST
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "ecs" {
		return nil, invalidParameter("resourceArn %q is not an Amazon ECS ARN.", arn)
	}
	region := parts[3]
	kind, rest, _ := strings.Cut(parts[5], "/")
	path := strings.Split(rest, "/")
	switch kind {
	case "cluster":
		if c, err := f.activeCluster(region, arn); err == nil {
			return &c.tags, nil
		}
	case "service":
		if len(path) == 2 {
			if s, err := f.findService(region, path[0], path[1]); err == nil && s.status != serviceInactive {
				return &s.tags, nil
			}
		}
	case "task-definition":
		if td := f.taskDefinition(region, arn); td != nil {
			return &td.tags, nil
		}
	case "task":
		if len(path) == 2 {
			if c, err := f.activeCluster(region, path[0]); err == nil && c.tasks[path[1]] != nil {
				return &c.tasks[path[1]].tags, nil
			}
		}
	case "task-set":
		if ts := f.taskSetByARN(region, arn); ts != nil {
			return &ts.tags, nil
		}
	case "capacity-provider":
		f.builtInProviders(region)
		if cp := f.capacityProviders[region+"/"+rest]; cp != nil && cp.status == "ACTIVE" {
			return &cp.tags, nil
		}
	case "container-instance":
		if len(path) == 2 {
			if c, err := f.activeCluster(region, path[0]); err == nil && c.instances[path[1]] != nil {
				return &c.instances[path[1]].tags, nil
			}
		}
	default:
		return nil, invalidParameter("resourceArn %q: ECS tags clusters, services, task definitions, tasks, task sets, capacity providers and container instances.", arn)
	}
	return nil, errResourceNotFound
}

type tagResourceInput struct {
	ResourceArn string          `json:"resourceArn"`
	Tags        json.RawMessage `json:"tags"`
	TagKeys     []string        `json:"tagKeys"`
}

func (f *Fake) tagResource(_ string, in *tagResourceInput) (any, error) {
	if in.ResourceArn == "" {
		return nil, invalidParameter("resourceArn can not be blank.")
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, invalidParameter("%s", err.Error())
	}
	add := parseTags(in.Tags)
	if len(add) == 0 {
		return nil, invalidParameter("tags can not be empty.")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	tags, err := f.tagsOf(in.ResourceArn)
	if err != nil {
		return nil, err
	}
	merged := withTags(*tags, add)
	if n := len(userTags(merged)); n > maxTags {
		return nil, invalidParameter("tags: a resource can have at most %d tags, not %d.", maxTags, n)
	}
	*tags = merged
	return map[string]any{}, nil
}

func (f *Fake) untagResource(_ string, in *tagResourceInput) (any, error) {
	if in.ResourceArn == "" {
		return nil, invalidParameter("resourceArn can not be blank.")
	}
	if len(in.TagKeys) == 0 {
		return nil, invalidParameter("tagKeys can not be empty.")
	}
	for i, k := range in.TagKeys {
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return nil, invalidParameter("tagKeys[%d]: the aws: prefix is reserved for AWS use.", i)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	tags, err := f.tagsOf(in.ResourceArn)
	if err != nil {
		return nil, err
	}
	*tags = withoutTags(*tags, in.TagKeys)
	return map[string]any{}, nil
}

func (f *Fake) listTagsForResource(_ string, in *tagResourceInput) (any, error) {
	if in.ResourceArn == "" {
		return nil, invalidParameter("resourceArn can not be blank.")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	tags, err := f.tagsOf(in.ResourceArn)
	if err != nil {
		return nil, err
	}
	return map[string]any{"tags": tagsOut(slices.Clone(*tags))}, nil
}

// launchTags returns the tags of a new task of task definition def in
// cluster c (of service s, nil for RunTask and StartTask), as ECS tags it:
// the tags propagated from the task definition or the service (propagate
// TASK_DEFINITION or SERVICE), the task's own laid over them, and with
// managed the ones ECS manages (aws:ecs:clusterName, and
// aws:ecs:serviceName for a service's task).
func launchTags(c *cluster, s *service, def *taskDef, propagate string, managed bool, own []tagKV) []tagKV {
	var tags []tagKV
	switch {
	case propagate == "TASK_DEFINITION":
		tags = withTags(tags, def.tags)
	case propagate == "SERVICE" && s != nil:
		tags = withTags(tags, s.tags)
	}
	tags = withTags(tags, own)
	if managed {
		tags = withTags(tags, []tagKV{{Key: "aws:ecs:clusterName", Value: c.name}})
		if s != nil {
			tags = withTags(tags, []tagKV{{Key: "aws:ecs:serviceName", Value: s.name}})
		}
	}
	return tags
}
