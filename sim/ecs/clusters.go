package ecs

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/meshsim/meshsim/sim/awsproto"
)

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
		arn:      arn,
		name:     in.ClusterName,
		region:   region,
		status:   clusterActive,
		in:       *in,
		services: make(map[string]*service),
		tasks:    make(map[string]*task),
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
	return listResult("clusterArns", arns, in.NextToken, in.MaxResults, 100, 100)
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
	for _, s := range c.services {
		if len(s.live) > 0 {
			return nil, awsproto.Errorf(http.StatusBadRequest, "ClusterContainsTasksException",
				"The Cluster cannot be deleted while Tasks are active.")
		}
	}
	c.status = clusterInactive
	return map[string]any{"cluster": f.clusterOutput(c, true)}, nil
}

// clusterOutput describes c. Callers hold f.mu.
func (f *Fake) clusterOutput(c *cluster, tags bool) clusterOutput {
	out := clusterOutput{
		ClusterArn:                      c.arn,
		ClusterName:                     c.name,
		Status:                          c.status,
		Statistics:                      []keyValuePair{},
		Settings:                        c.in.Settings,
		Configuration:                   c.in.Configuration,
		CapacityProviders:               orEmptyList(c.in.CapacityProviders),
		DefaultCapacityProviderStrategy: orEmptyList(c.in.DefaultCapacityProviderStrategy),
		ServiceConnectDefaults:          c.in.ServiceConnectDefaults,
	}
	if out.Settings == nil {
		out.Settings = json.RawMessage(`[{"name":"containerInsights","value":"disabled"}]`)
	}
	if tags {
		out.Tags = orEmptyList(c.in.Tags)
	}
	for _, s := range c.services {
		if s.status == serviceActive {
			out.ActiveServicesCount++
		}
		for _, t := range s.live {
			switch {
			case t.lastStatus == statusRunning:
				out.RunningTasksCount++
			case t.pending():
				out.PendingTasksCount++
			}
		}
	}
	return out
}

// orEmptyList returns raw, or an empty JSON list when raw is absent.
func orEmptyList(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || string(raw) == "null" {
		return json.RawMessage("[]")
	}
	return raw
}

// listResult returns the List* response holding, under key, the page of
// items after token (an offset this fake handed out) of at most maxResults
// (def when absent, at most limit), and the token of the next page.
func listResult(key string, items []string, token string, maxResults *int, def, limit int) (map[string]any, error) {
	start := 0
	if token != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(token, "meshsim-"))
		if err != nil || n < 0 || n > len(items) || !strings.HasPrefix(token, "meshsim-") {
			return nil, invalidParameter("Invalid nextToken %q.", token)
		}
		start = n
	}
	size := def
	if maxResults != nil {
		if *maxResults < 1 || *maxResults > limit {
			return nil, invalidParameter("maxResults must be between 1 and %d.", limit)
		}
		size = *maxResults
	}
	end := min(start+size, len(items))
	out := map[string]any{key: append([]string{}, items[start:end]...)}
	if end < len(items) {
		out["nextToken"] = "meshsim-" + strconv.Itoa(end)
	}
	return out, nil
}
