package ecs

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/meshsim/meshsim/sim/awsproto"
)

// This file holds capacity providers (Create/Update/Delete/
// DescribeCapacityProviders, with FARGATE and FARGATE_SPOT built in) and
// the cluster operations that change a cluster after it was created:
// UpdateCluster, UpdateClusterSettings, PutClusterCapacityProviders.

type capacityProvider struct {
	arn, name, region string
	status            string // ACTIVE or INACTIVE
	updateStatus      string
	asg               json.RawMessage // autoScalingGroupProvider, as given
	managed           json.RawMessage // managedInstancesProvider, as given
	tags              []tagKV
	builtIn           bool
}

var capacityNameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,255}$`)

type capacityProviderInput struct {
	Name                     string          `json:"name"`
	Cluster                  string          `json:"cluster"`
	AutoScalingGroupProvider json.RawMessage `json:"autoScalingGroupProvider"`
	ManagedInstancesProvider json.RawMessage `json:"managedInstancesProvider"`
	Tags                     json.RawMessage `json:"tags"`
	CapacityProvider         string          `json:"capacityProvider"`
	CapacityProviders        []string        `json:"capacityProviders"`
	Include                  []string        `json:"include"`
	NextToken                string          `json:"nextToken"`
	MaxResults               *int            `json:"maxResults"`
}

func (f *Fake) createCapacityProvider(region string, in *capacityProviderInput) (any, error) {
	lower := strings.ToLower(in.Name)
	switch {
	case !capacityNameRE.MatchString(in.Name):
		return nil, invalidParameter("The capacity provider name can have up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens.")
	case strings.HasPrefix(lower, "aws") || strings.HasPrefix(lower, "ecs") || strings.HasPrefix(lower, "fargate"):
		return nil, invalidParameter("The capacity provider name cannot begin with 'aws', 'ecs', or 'fargate'.")
	case isAbsent(in.AutoScalingGroupProvider) == isAbsent(in.ManagedInstancesProvider):
		return nil, invalidParameter("A capacity provider takes one of autoScalingGroupProvider and managedInstancesProvider.")
	}
	if err := checkASGProvider(in.AutoScalingGroupProvider, true); err != nil {
		return nil, err
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, invalidParameter("%s", err.Error())
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	key := region + "/" + in.Name
	if cp := f.capacityProviders[key]; cp != nil && cp.status == "ACTIVE" {
		return nil, clientError("The specified capacity provider already exists. To change the configuration of an existing capacity provider, update the capacity provider.")
	}
	if in.Cluster != "" {
		if _, err := f.activeCluster(region, in.Cluster); err != nil {
			return nil, err
		}
	}
	cp := &capacityProvider{
		arn: awsproto.ARN(region, "ecs", "capacity-provider/"+in.Name), name: in.Name, region: region,
		status: "ACTIVE", asg: in.AutoScalingGroupProvider, managed: in.ManagedInstancesProvider,
		tags: parseTags(in.Tags),
	}
	f.capacityProviders[key] = cp
	return map[string]any{"capacityProvider": cp.output(true)}, nil
}

// checkASGProvider checks an autoScalingGroupProvider as ECS does; one
// that creates a capacity provider names its Auto Scaling group.
func checkASGProvider(raw json.RawMessage, create bool) error {
	if isAbsent(raw) {
		return nil
	}
	var asg struct {
		AutoScalingGroupArn string `json:"autoScalingGroupArn"`
		ManagedScaling      *struct {
			TargetCapacity *int `json:"targetCapacity"`
		} `json:"managedScaling"`
	}
	if err := json.Unmarshal(raw, &asg); err != nil {
		return invalidParameter("autoScalingGroupProvider: %v", err)
	}
	if create && asg.AutoScalingGroupArn == "" {
		return invalidParameter("autoScalingGroupProvider.autoScalingGroupArn can not be blank.")
	}
	if ms := asg.ManagedScaling; ms != nil && ms.TargetCapacity != nil && (*ms.TargetCapacity < 1 || *ms.TargetCapacity > 100) {
		return invalidParameter("managedScaling.targetCapacity must be between 1 and 100.")
	}
	return nil
}

func (f *Fake) updateCapacityProvider(region string, in *capacityProviderInput) (any, error) {
	if err := checkASGProvider(in.AutoScalingGroupProvider, false); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	cp, err := f.capacityProvider(region, in.Name)
	if err != nil {
		return nil, err
	}
	if cp.builtIn {
		return nil, invalidParameter("The %s capacity provider cannot be updated.", cp.name)
	}
	if !isAbsent(in.AutoScalingGroupProvider) {
		// The ARN of the Auto Scaling group cannot change.
		var o, n map[string]json.RawMessage
		_ = json.Unmarshal(cp.asg, &o)
		_ = json.Unmarshal(in.AutoScalingGroupProvider, &n)
		maps := object(o).merged(object(n))
		maps["autoScalingGroupArn"] = o["autoScalingGroupArn"]
		b, _ := json.Marshal(maps)
		cp.asg = b
	}
	if !isAbsent(in.ManagedInstancesProvider) {
		cp.managed = in.ManagedInstancesProvider
	}
	cp.updateStatus = "UPDATE_COMPLETE"
	return map[string]any{"capacityProvider": cp.output(false)}, nil
}

func (f *Fake) deleteCapacityProvider(region string, in *capacityProviderInput) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cp, err := f.capacityProvider(region, in.CapacityProvider)
	if err != nil {
		return nil, err
	}
	if cp.builtIn {
		return nil, invalidParameter("The %s capacity provider cannot be deleted.", cp.name)
	}
	for _, c := range f.clusters {
		if c.status == clusterActive && slices.Contains(c.capacityProviderNames(), cp.name) {
			return nil, clientError("The specified capacity provider is in use and cannot be removed.")
		}
	}
	cp.status, cp.updateStatus = "INACTIVE", "DELETE_COMPLETE"
	return map[string]any{"capacityProvider": cp.output(false)}, nil
}

func (f *Fake) describeCapacityProviders(region string, in *capacityProviderInput) (any, error) {
	tags := slices.Contains(in.Include, "TAGS")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.builtInProviders(region)
	out := []map[string]any{}
	failures := []failure{}
	if len(in.CapacityProviders) > 0 {
		if len(in.CapacityProviders) > 100 {
			return nil, invalidParameter("capacityProviders can have at most 100 items.")
		}
		for _, ref := range in.CapacityProviders {
			cp := f.capacityProviders[region+"/"+lastSegment(ref)]
			if cp == nil {
				failures = append(failures, failure{Arn: awsproto.ARN(region, "ecs", "capacity-provider/"+lastSegment(ref)), Reason: "MISSING"})
				continue
			}
			out = append(out, cp.output(tags))
		}
		return map[string]any{"capacityProviders": out, "failures": failures}, nil
	}
	var all []*capacityProvider
	for _, cp := range f.capacityProviders {
		if cp.region == region && cp.status == "ACTIVE" {
			all = append(all, cp)
		}
	}
	slices.SortFunc(all, func(a, b *capacityProvider) int { return strings.Compare(a.name, b.name) })
	page, next, err := awsproto.Page(paging(10), all, func(cp *capacityProvider) string { return cp.name }, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	for _, cp := range page {
		out = append(out, cp.output(tags))
	}
	resp := map[string]any{"capacityProviders": out, "failures": failures}
	if next != "" {
		resp["nextToken"] = next
	}
	return resp, nil
}

// builtInProviders makes sure region has the FARGATE and FARGATE_SPOT
// capacity providers. Callers hold f.mu.
func (f *Fake) builtInProviders(region string) {
	for _, name := range []string{"FARGATE", "FARGATE_SPOT"} {
		if f.capacityProviders[region+"/"+name] == nil {
			f.capacityProviders[region+"/"+name] = &capacityProvider{
				arn: awsproto.ARN(region, "ecs", "capacity-provider/"+name), name: name, region: region,
				status: "ACTIVE", builtIn: true,
			}
		}
	}
}

// capacityProvider returns the ACTIVE capacity provider ref (a name or an
// ARN) of region. Callers hold f.mu.
func (f *Fake) capacityProvider(region, ref string) (*capacityProvider, error) {
	if ref == "" {
		return nil, invalidParameter("capacityProvider can not be blank.")
	}
	f.builtInProviders(region)
	cp := f.capacityProviders[region+"/"+lastSegment(ref)]
	if cp == nil || cp.status != "ACTIVE" {
		return nil, awsproto.Errorf(http.StatusBadRequest, "ClientException", "The specified capacity provider does not exist. Specify a valid name or ARN and try again.")
	}
	return cp, nil
}

// output describes cp.
func (cp *capacityProvider) output(tags bool) map[string]any {
	out := map[string]any{"capacityProviderArn": cp.arn, "name": cp.name, "status": cp.status}
	if cp.updateStatus != "" {
		out["updateStatus"] = cp.updateStatus
	}
	if !isAbsent(cp.asg) {
		out["autoScalingGroupProvider"] = cp.asg
	}
	if !isAbsent(cp.managed) {
		out["managedInstancesProvider"] = cp.managed
	}
	if tags {
		out["tags"] = tagsOut(cp.tags)
	}
	return out
}

// capacityProviderNames returns the capacity providers associated with c.
func (c *cluster) capacityProviderNames() []string {
	var names []string
	_ = json.Unmarshal(c.in.CapacityProviders, &names)
	return names
}

// resolveStrategy checks a capacity provider strategy against the
// providers of c and spreads n tasks over it as ECS does: the provider
// with a base gets up to base tasks first, the rest go by weight (the
// provider furthest below its share next, the earlier on a tie; weight 0
// places none, unless the provider is alone in the strategy). It
// returns each task's provider, or nils when there is no strategy (an
// empty one is the cluster's default). Callers hold f.mu.
func (f *Fake) resolveStrategy(c *cluster, strategy []strategyItem, n int) ([]string, error) {
	out := make([]string, n)
	if len(strategy) == 0 {
		_ = json.Unmarshal(c.in.DefaultCapacityProviderStrategy, &strategy)
	}
	if len(strategy) == 0 {
		return out, nil
	}
	if err := checkStrategy(c, strategy); err != nil {
		return nil, err
	}
	given := make([]int, len(strategy))
	i := 0
	for j, s := range strategy {
		for ; s.Base != nil && given[j] < *s.Base && i < n; i++ {
			out[i] = lastSegment(s.CapacityProvider)
			given[j]++
		}
	}
	// After the base, the weights share the remaining tasks.
	given = make([]int, len(strategy))
	for ; i < n; i++ {
		best := -1
		for j, s := range strategy {
			w := deref(s.Weight, 0)
			if w == 0 {
				continue
			}
			// given[j]/w < given[best]/wbest, in integers.
			if best < 0 || given[j]*deref(strategy[best].Weight, 0) < given[best]*w {
				best = j
			}
		}
		if best < 0 && len(strategy) == 1 {
			best = 0 // a lone provider places tasks whatever its weight
		}
		if best < 0 {
			return nil, invalidParameter("The capacity provider strategy has no capacity provider with a weight above 0 for the tasks beyond the base.")
		}
		out[i] = lastSegment(strategy[best].CapacityProvider)
		given[best]++
	}
	return out, nil
}

// checkStrategy checks that every provider of a strategy is associated
// with c, and the weights and bases as ECS does.
func checkStrategy(c *cluster, strategy []strategyItem) error {
	if len(strategy) > 20 {
		return invalidParameter("A capacity provider strategy can have at most 20 capacity providers.")
	}
	names := c.capacityProviderNames()
	bases := 0
	for i, s := range strategy {
		switch {
		case !slices.Contains(names, lastSegment(s.CapacityProvider)):
			return invalidParameter("The specified capacity provider strategy cannot contain a capacity provider that is not associated with the cluster. Associate the capacity provider with the cluster or specify a valid capacity provider and try again.")
		case s.Weight != nil && (*s.Weight < 0 || *s.Weight > 1000):
			return invalidParameter("capacityProviderStrategy[%d].weight must be between 0 and 1000.", i)
		case s.Base != nil && (*s.Base < 0 || *s.Base > 100000):
			return invalidParameter("capacityProviderStrategy[%d].base must be between 0 and 100000.", i)
		case s.Base != nil && *s.Base > 0:
			bases++
		}
	}
	if bases > 1 {
		return invalidParameter("Only one capacity provider in a capacity provider strategy can have a base defined.")
	}
	return nil
}

type putClusterCapacityProvidersInput struct {
	Cluster                         string         `json:"cluster"`
	CapacityProviders               []string       `json:"capacityProviders"`
	DefaultCapacityProviderStrategy []strategyItem `json:"defaultCapacityProviderStrategy"`
}

func (f *Fake) putClusterCapacityProviders(region string, in *putClusterCapacityProvidersInput) (any, error) {
	if in.CapacityProviders == nil || in.DefaultCapacityProviderStrategy == nil {
		return nil, invalidParameter("capacityProviders and defaultCapacityProviderStrategy are required (an empty list clears them).")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.activeCluster(region, in.Cluster)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(in.CapacityProviders))
	for _, ref := range in.CapacityProviders {
		cp, err := f.capacityProvider(region, ref)
		if err != nil {
			return nil, err
		}
		names = append(names, cp.name)
	}
	old := c.in.CapacityProviders
	c.in.CapacityProviders, _ = json.Marshal(names)
	if err := checkStrategy(c, in.DefaultCapacityProviderStrategy); err != nil {
		c.in.CapacityProviders = old
		return nil, err
	}
	c.in.DefaultCapacityProviderStrategy, _ = json.Marshal(in.DefaultCapacityProviderStrategy)
	return map[string]any{"cluster": f.clusterOutput(c, false)}, nil
}

type updateClusterInput struct {
	Cluster                string          `json:"cluster"`
	Settings               json.RawMessage `json:"settings"`
	Configuration          json.RawMessage `json:"configuration"`
	ServiceConnectDefaults json.RawMessage `json:"serviceConnectDefaults"`
}

func (f *Fake) updateCluster(region string, in *updateClusterInput) (any, error) {
	if err := checkClusterSettings(in.Settings); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.activeCluster(region, in.Cluster)
	if err != nil {
		return nil, err
	}
	if !isAbsent(in.ServiceConnectDefaults) {
		if err := f.checkConnectDefaults(region, in.ServiceConnectDefaults); err != nil {
			return nil, err
		}
		c.in.ServiceConnectDefaults = in.ServiceConnectDefaults
	}
	if !isAbsent(in.Settings) {
		c.in.Settings = mergeSettings(c.in.Settings, in.Settings)
	}
	if !isAbsent(in.Configuration) {
		c.in.Configuration = in.Configuration
	}
	return map[string]any{"cluster": f.clusterOutput(c, false)}, nil
}

func (f *Fake) updateClusterSettings(region string, in *updateClusterInput) (any, error) {
	if isAbsent(in.Settings) || string(in.Settings) == "[]" {
		return nil, invalidParameter("settings can not be empty.")
	}
	if err := checkClusterSettings(in.Settings); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.activeCluster(region, in.Cluster)
	if err != nil {
		return nil, err
	}
	c.in.Settings = mergeSettings(c.in.Settings, in.Settings)
	return map[string]any{"cluster": f.clusterOutput(c, false)}, nil
}

// checkClusterSettings checks cluster settings: containerInsights, enabled,
// disabled or enhanced.
func checkClusterSettings(raw json.RawMessage) error {
	var settings []keyValuePair
	if isAbsent(raw) || json.Unmarshal(raw, &settings) != nil {
		return nil
	}
	for i, s := range settings {
		if s.Name != "containerInsights" {
			return invalidParameter("settings[%d].name must be containerInsights.", i)
		}
		switch s.Value {
		case "enabled", "disabled", "enhanced":
		default:
			return invalidParameter("settings[%d].value must be enabled, disabled or enhanced.", i)
		}
	}
	return nil
}

// mergeSettings lays settings over old, by name.
func mergeSettings(old, settings json.RawMessage) json.RawMessage {
	var cur, add []keyValuePair
	_ = json.Unmarshal(old, &cur)
	_ = json.Unmarshal(settings, &add)
	for _, s := range add {
		if i := slices.IndexFunc(cur, func(o keyValuePair) bool { return o.Name == s.Name }); i >= 0 {
			cur[i] = s
			continue
		}
		cur = append(cur, s)
	}
	b, _ := json.Marshal(cur)
	return b
}

// checkConnectDefaults checks a cluster's serviceConnectDefaults: it names
// a namespace (which Service Connect configurations resolve when they use
// it).
func (f *Fake) checkConnectDefaults(_ string, raw json.RawMessage) error {
	var d struct {
		Namespace string `json:"namespace"`
	}
	if err := json.Unmarshal(raw, &d); err != nil || d.Namespace == "" {
		return invalidParameter("serviceConnectDefaults.namespace can not be blank.")
	}
	return nil
}
