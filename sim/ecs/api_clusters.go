package ecs

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"

	"github.com/meshsim/meshsim/sim/awsproto"
)

// This file holds the cluster operations.

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,255}$`)

func (f *Fake) createCluster(region string, in *createClusterInput) (any, error) {
	if in.ClusterName == "" {
		in.ClusterName = "default"
	}
	if !nameRE.MatchString(in.ClusterName) {
		return nil, invalidParameter("Cluster name can have up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens.")
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, invalidParameter("%s", err.Error())
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	arn := clusterARN(region, in.ClusterName)
	if c, ok := f.clusters[arn]; ok && c.status == clusterActive {
		return map[string]any{"cluster": f.clusterOutput(c, true)}, nil
	}
	c := &cluster{
		arn:       arn,
		name:      in.ClusterName,
		region:    region,
		status:    clusterActive,
		in:        *in,
		tags:      parseTags(in.Tags),
		services:  make(map[string]*service),
		tasks:     make(map[string]*task),
		instances: make(map[string]*containerInstance),
	}
	if isAbsent(c.in.Settings) {
		// New clusters take the account's containerInsights setting.
		s, _ := f.accountSetting(region, rootPrincipal, "containerInsights", true)
		c.in.Settings, _ = json.Marshal([]keyValuePair{{Name: "containerInsights", Value: s.Value}})
	}
	f.clusters[arn] = c
	return map[string]any{"cluster": f.clusterOutput(c, true)}, nil
}

func (f *Fake) describeClusters(region string, in *describeClustersInput) (any, error) {
	refs := in.Clusters
	if len(refs) == 0 {
		refs = []string{"default"}
	}
	tags := slices.Contains(in.Include, "TAGS")
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []clusterOutput{}
	failures := []failure{}
	for _, ref := range refs {
		arn := clusterARN(region, ref)
		c, ok := f.clusters[arn]
		if !ok {
			failures = append(failures, failure{Arn: arn, Reason: "MISSING"})
			continue
		}
		out = append(out, f.clusterOutput(c, tags))
	}
	return map[string]any{"clusters": out, "failures": failures}, nil
}

func (f *Fake) listClusters(region string, in *listInput) (any, error) {
	f.mu.Lock()
	var arns []string
	for _, c := range f.clusters {
		if c.region == region && c.status == clusterActive {
			arns = append(arns, c.arn)
		}
	}
	f.mu.Unlock()
	slices.Sort(arns)
	return listResult("clusterArns", arns, in.NextToken, in.MaxResults, 100)
}

func (f *Fake) deleteCluster(region string, in *clusterRefInput) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.activeCluster(region, in.Cluster)
	if err != nil {
		return nil, err
	}
	for _, s := range c.services {
		if s.status != serviceInactive {
			return nil, awsproto.Errorf(http.StatusBadRequest, "ClusterContainsServicesException",
				"The Cluster cannot be deleted while Services are active.")
		}
	}
	for _, inst := range c.instances {
		if inst.status != instanceInactive {
			return nil, awsproto.Errorf(http.StatusBadRequest, "ClusterContainsContainerInstancesException",
				"The Cluster cannot be deleted while Container Instances are active or draining.")
		}
	}
	for _, t := range c.tasks {
		if t.alive() {
			return nil, awsproto.Errorf(http.StatusBadRequest, "ClusterContainsTasksException",
				"The Cluster cannot be deleted while Tasks are active.")
		}
	}
	c.status = clusterInactive
	return map[string]any{"cluster": f.clusterOutput(c, true)}, nil
}
