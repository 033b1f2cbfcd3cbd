package ecs

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/meshsim/meshsim/sim/awsproto"
)

// This file holds the task definition operations and their validation.

func (f *Fake) registerTaskDefinition(region string, in *registerTaskDefinitionInput) (any, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	key := region + "/" + in.Family
	fam, ok := f.families[key]
	if !ok {
		fam = &family{revisions: map[int]*taskDef{}}
		f.families[key] = fam
	}
	fam.last++
	rev := fam.last
	td := &taskDef{
		arn:         awsproto.ARN(region, "ecs", "task-definition/"+in.Family+":"+strconv.Itoa(rev)),
		family:      in.Family,
		revision:    rev,
		status:      taskDefActive,
		containers:  in.ContainerDefinitions,
		networkMode: in.NetworkMode,
		cpu:         rawString(in.raw["cpu"]),
		memory:      rawString(in.raw["memory"]),
		tags:        parseTags(in.raw["tags"]),
	}
	out := object{}.merged(in.raw)
	delete(out, "tags")
	out.set("taskDefinitionArn", td.arn)
	out.set("family", td.family)
	out.set("revision", rev)
	out.set("status", taskDefActive)
	out.set("containerDefinitions", in.ContainerDefinitions)
	out.set("registeredAt", timestamp(f.now()))
	out.set("registeredBy", "arn:aws:iam::"+awsproto.Account+":root")
	out.setDefault("volumes", []any{})
	out.setDefault("placementConstraints", []any{})
	out.setDefault("requiresAttributes", []any{})
	compat := []string{"EC2"}
	if in.NetworkMode == "awsvpc" {
		compat = append(compat, "FARGATE")
	}
	out.set("compatibilities", compat)
	td.out = out
	fam.revisions[rev] = td
	return map[string]any{"taskDefinition": td.out, "tags": tagsOut(td.tags)}, nil
}

func (f *Fake) describeTaskDefinition(region string, in *describeTaskDefinitionInput) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	td := f.taskDefinition(region, in.TaskDefinition)
	if td == nil {
		return nil, clientError("Unable to describe task definition.")
	}
	out := map[string]any{"taskDefinition": td.out}
	if slices.Contains(in.Include, "TAGS") {
		out["tags"] = tagsOut(td.tags)
	}
	return out, nil
}

func (f *Fake) deregisterTaskDefinition(region string, in *deregisterTaskDefinitionInput) (any, error) {
	if !strings.Contains(strings.TrimPrefix(in.TaskDefinition, "arn:"), ":") {
		return nil, clientError("taskDefinition must name a revision (family:revision or its ARN).")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	td := f.taskDefinition(region, in.TaskDefinition)
	if td == nil {
		return nil, clientError("The specified task definition does not exist.")
	}
	if td.status == taskDefActive {
		td.status = taskDefInactive
		// Responses being encoded may hold the old object: replace it.
		td.out = td.out.merged(object{})
		td.out.set("status", taskDefInactive)
		td.out.set("deregisteredAt", timestamp(f.now()))
	}
	return map[string]any{"taskDefinition": td.out}, nil
}

func (f *Fake) deleteTaskDefinitions(region string, in *deleteTaskDefinitionsInput) (any, error) {
	if len(in.TaskDefinitions) == 0 || len(in.TaskDefinitions) > 10 {
		return nil, invalidParameter("taskDefinitions must have 1 to 10 items.")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	deleted := []object{}
	failures := []failure{}
	for _, ref := range in.TaskDefinitions {
		td := f.taskDefinition(region, ref)
		switch {
		case td == nil || !strings.Contains(strings.TrimPrefix(ref, "arn:"), ":"):
			failures = append(failures, failure{Arn: ref, Reason: "The specified task definition does not exist."})
		case td.status == taskDefActive:
			failures = append(failures, failure{Arn: td.arn, Reason: "The specified task definition is still in ACTIVE status. Please deregister the target and try again."})
		default:
			// Tasks and services that run it keep their own reference.
			delete(f.families[region+"/"+td.family].revisions, td.revision)
			out := td.out.merged(object{})
			out.set("status", "DELETE_IN_PROGRESS")
			deleted = append(deleted, out)
		}
	}
	return map[string]any{"taskDefinitions": deleted, "failures": failures}, nil
}

// validate checks a task definition as ECS does.
func (in *registerTaskDefinitionInput) validate() error {
	if !nameRE.MatchString(in.Family) {
		return clientError("Family can have up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens.")
	}
	if n := len(in.ContainerDefinitions); n == 0 {
		return clientError("Container list cannot be empty.")
	} else if n > maxContainers {
		return clientError("containerDefinitions: a task definition can have at most %d containers, not %d.", maxContainers, n)
	}
	if b, _ := json.Marshal(in.raw); len(b) > maxTaskDefinitionLen {
		return clientError("The task definition is %d bytes; Amazon ECS takes at most %d.", len(b), maxTaskDefinitionLen)
	}
	if err := checkTags(in.raw["tags"]); err != nil {
		return clientError("%s", err.Error())
	}
	names := map[string]bool{}
	essential := false
	for i, c := range in.ContainerDefinitions {
		if err := c.validate(i, names); err != nil {
			return err
		}
		names[c.Name] = true
		essential = essential || c.essential()
	}
	if !essential {
		return clientError("Task definition must have at least one essential container.")
	}
	return nil
}

// validate checks containerDefinitions[i] as ECS does; names are the
// names of the containers before it.
func (c *containerDefinition) validate(i int, names map[string]bool) error {
	switch {
	case c.Name == "":
		return clientError("Container.name should not be null or empty.")
	case !containerNameRE.MatchString(c.Name):
		return clientError("containerDefinitions[%d].name: a container name can have up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens.", i)
	case c.Image == "":
		return clientError("Container.image should not be null or empty.")
	case names[c.Name]:
		return clientError("Container names must be unique within a task definition: %q appears twice.", c.Name)
	case c.HealthCheck != nil && len(c.HealthCheck.Command) == 0:
		return clientError("Container %q: healthCheck.command should not be null or empty.", c.Name)
	}
	for _, p := range c.PortMappings {
		if p.ContainerPort == nil || *p.ContainerPort < 1 || *p.ContainerPort > 65535 {
			return clientError("Container %q: portMappings need a containerPort between 1 and 65535.", c.Name)
		}
	}
	return nil
}

// rawString returns a raw JSON string member's value, "" when absent.
func rawString(raw json.RawMessage) string {
	var v string
	_ = json.Unmarshal(raw, &v)
	return v
}

type listTaskDefinitionsInput struct {
	FamilyPrefix string `json:"familyPrefix"`
	Status       string `json:"status"`
	Sort         string `json:"sort"`
	NextToken    string `json:"nextToken"`
	MaxResults   *int   `json:"maxResults"`
}

func (f *Fake) listTaskDefinitions(region string, in *listTaskDefinitionsInput) (any, error) {
	status := in.Status
	switch status {
	case "":
		status = taskDefActive
	case taskDefActive, taskDefInactive:
	case "DELETE_IN_PROGRESS":
		// Deleted revisions are gone at once here.
	default:
		return nil, invalidParameter("status must be ACTIVE, INACTIVE or DELETE_IN_PROGRESS.")
	}
	if in.Sort != "" && in.Sort != "ASC" && in.Sort != "DESC" {
		return nil, invalidParameter("sort must be ASC or DESC.")
	}
	f.mu.Lock()
	var defs []*taskDef
	for key, fam := range f.families {
		famRegion, name, _ := strings.Cut(key, "/")
		if famRegion != region || !strings.HasPrefix(name, in.FamilyPrefix) {
			continue
		}
		for _, td := range fam.revisions {
			if td.status == status {
				defs = append(defs, td)
			}
		}
	}
	f.mu.Unlock()
	slices.SortFunc(defs, func(a, b *taskDef) int {
		return cmp.Or(strings.Compare(a.family, b.family), cmp.Compare(a.revision, b.revision))
	})
	key := taskDefKey
	if in.Sort == "DESC" {
		slices.Reverse(defs)
		key = nil // newest first: offsets
	}
	page, next, err := awsproto.Page(paging(100), defs, key, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	arns := make([]string, len(page))
	for i, td := range page {
		arns[i] = td.arn
	}
	return pageResult("taskDefinitionArns", arns, next), nil
}

// taskDefKey orders task definitions by family and revision, for paging.
func taskDefKey(td *taskDef) string { return fmt.Sprintf("%s\x00%010d", td.family, td.revision) }

type listFamiliesInput struct {
	FamilyPrefix string `json:"familyPrefix"`
	Status       string `json:"status"`
	NextToken    string `json:"nextToken"`
	MaxResults   *int   `json:"maxResults"`
}

func (f *Fake) listTaskDefinitionFamilies(region string, in *listFamiliesInput) (any, error) {
	switch in.Status {
	case "", "ALL", taskDefActive, taskDefInactive:
	default:
		return nil, invalidParameter("status must be ACTIVE, INACTIVE or ALL.")
	}
	f.mu.Lock()
	var names []string
	for key, fam := range f.families {
		famRegion, name, _ := strings.Cut(key, "/")
		if famRegion != region || !strings.HasPrefix(name, in.FamilyPrefix) || len(fam.revisions) == 0 {
			continue
		}
		active := slices.ContainsFunc(slices.Collect(maps.Values(fam.revisions)), func(td *taskDef) bool { return td.status == taskDefActive })
		if in.Status == taskDefActive && !active || in.Status == taskDefInactive && active {
			continue
		}
		names = append(names, name)
	}
	f.mu.Unlock()
	slices.Sort(names)
	page, next, err := awsproto.Page(paging(100), names, awsproto.Self, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	return pageResult("families", page, next), nil
}
