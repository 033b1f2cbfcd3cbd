package ecs

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/meshsim/meshsim/sim/awsproto"
)

// This file finds things in the state: clusters, services, task
// definitions by the names or ARNs requests give, and the task limit.

// checkTaskLimit checks that service s (nil for a new service) asking for
// desired tasks keeps the desiredCount of all ACTIVE services within
// MaxTasks. Callers hold f.mu.
func (f *Fake) checkTaskLimit(s *service, desired int) error {
	total := desired
	for _, c := range f.clusters {
		for _, other := range c.services {
			if other != s && other.status == serviceActive {
				total += other.desiredCount
			}
		}
	}
	if total > f.opts.MaxTasks {
		return awsproto.Errorf(http.StatusBadRequest, codeLimitExceeded,
			"meshsim runs at most %d tasks (the desiredCount of all services together; Options.MaxTasks); this request asks for %d.", f.opts.MaxTasks, total)
	}
	return nil
}

// findService returns service ref (a name or an ARN) of cluster ref.
// Callers hold f.mu.
func (f *Fake) findService(region, clusterRef, ref string) (*service, error) {
	c, err := f.activeCluster(region, clusterRef)
	if err != nil {
		return nil, err
	}
	s, ok := c.services[lastSegment(ref)]
	if !ok {
		return nil, errServiceNotFound
	}
	return s, nil
}

// taskDefinition finds ref, which is "family" (the latest revision),
// "family:revision" or the ARN of a revision, or returns nil. Callers hold
// f.mu.
func (f *Fake) taskDefinition(region, ref string) *taskDef {
	if strings.HasPrefix(ref, "arn:") {
		// arn:aws:ecs:REGION:ACCOUNT:task-definition/FAMILY:REV
		parts := strings.SplitN(ref, ":", 6)
		if len(parts) < 6 || !strings.HasPrefix(parts[5], "task-definition/") {
			return nil
		}
		region, ref = parts[3], strings.TrimPrefix(parts[5], "task-definition/")
	}
	name, revText, hasRev := strings.Cut(ref, ":")
	fam, ok := f.families[region+"/"+name]
	if !ok {
		return nil
	}
	if !hasRev {
		// The latest ACTIVE revision.
		var latest *taskDef
		for _, td := range fam.revisions {
			if td.status == taskDefActive && (latest == nil || td.revision > latest.revision) {
				latest = td
			}
		}
		return latest
	}
	rev, err := strconv.Atoi(revText)
	if err != nil {
		return nil
	}
	return fam.revisions[rev]
}

// activeTaskDefinition finds ref as taskDefinition does and checks that
// new tasks may run it. Callers hold f.mu.
func (f *Fake) activeTaskDefinition(region, ref string) (*taskDef, error) {
	td := f.taskDefinition(region, ref)
	switch {
	case td == nil:
		return nil, invalidParameter("TaskDefinition not found.")
	case td.status != taskDefActive:
		return nil, invalidParameter("TaskDefinition is inactive.")
	}
	return td, nil
}

// lastSegment returns what follows the last "/" of an ARN (or the whole
// string when it has none): the name or id in the ARN's resource part.
func lastSegment(ref string) string {
	if i := strings.LastIndexByte(ref, '/'); i >= 0 {
		return ref[i+1:]
	}
	return ref
}

// clusterARN returns the ARN of cluster ref (a name or an ARN) in region.
func clusterARN(region, ref string) string {
	if ref == "" {
		ref = "default"
	}
	if strings.HasPrefix(ref, "arn:") {
		return ref
	}
	return awsproto.ARN(region, "ecs", "cluster/"+ref)
}

// activeCluster returns the ACTIVE cluster ref in region. Callers hold f.mu.
func (f *Fake) activeCluster(region, ref string) (*cluster, error) {
	c, ok := f.clusters[clusterARN(region, ref)]
	if !ok || c.status != clusterActive {
		return nil, errClusterNotFound
	}
	return c, nil
}

// taskARN returns ref as the ARN of a task of c.
func taskARN(c *cluster, ref string) string {
	if strings.HasPrefix(ref, "arn:") {
		return ref
	}
	return awsproto.ARN(c.region, "ecs", "task/"+c.name+"/"+ref)
}
