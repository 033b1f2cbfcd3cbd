package ecs

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meshsim/meshsim/sim/awsproto"
)

// This file holds container instances, for users of the EC2 launch type:
// Register/Deregister/Describe/ListContainerInstances,
// UpdateContainerInstancesState, and their attributes (Put/Delete/
// ListAttributes). meshsim runs the tasks placed on them itself, as their
// agent would: an instance is a place and a budget of CPU and memory.

// Container instance statuses.
const (
	instanceActive   = "ACTIVE"
	instanceDraining = "DRAINING"
	instanceInactive = "INACTIVE"
)

type containerInstance struct {
	id, arn       string
	seq           uint64
	cluster       *cluster
	ec2InstanceID string
	status        string
	registeredAt  time.Time
	version       int64
	resources     []resource
	versionInfo   json.RawMessage
	attributes    []attribute
	tags          []tagKV
}

type resource struct {
	Name           string   `json:"name"`
	Type           string   `json:"type"`
	IntegerValue   int      `json:"integerValue"`
	DoubleValue    float64  `json:"doubleValue"`
	LongValue      int64    `json:"longValue"`
	StringSetValue []string `json:"stringSetValue,omitempty"`
}

type attribute struct {
	Name       string  `json:"name"`
	Value      *string `json:"value,omitempty"`
	TargetType string  `json:"targetType,omitempty"`
	TargetID   string  `json:"targetId,omitempty"`
}

// defaultResources are what an instance registers when it names none: an
// m5.large.
var defaultResources = []resource{
	{Name: "CPU", Type: "INTEGER", IntegerValue: 2048},
	{Name: "MEMORY", Type: "INTEGER", IntegerValue: 7680},
	{Name: "PORTS", Type: "STRINGSET", StringSetValue: []string{"22", "2375", "2376", "51678", "51679"}},
	{Name: "PORTS_UDP", Type: "STRINGSET", StringSetValue: []string{}},
}

type registerInstanceInput struct {
	Cluster                  string          `json:"cluster"`
	InstanceIdentityDocument string          `json:"instanceIdentityDocument"`
	ContainerInstanceArn     string          `json:"containerInstanceArn"`
	TotalResources           []resource      `json:"totalResources"`
	VersionInfo              json.RawMessage `json:"versionInfo"`
	Attributes               []attribute     `json:"attributes"`
	Tags                     json.RawMessage `json:"tags"`
}

func (f *Fake) registerContainerInstance(region string, in *registerInstanceInput) (any, error) {
	if err := checkTags(in.Tags); err != nil {
		return nil, invalidParameter("%s", err.Error())
	}
	for i, a := range in.Attributes {
		if err := checkAttribute(i, a); err != nil {
			return nil, err
		}
	}
	ec2ID := ""
	if in.InstanceIdentityDocument != "" {
		var doc struct {
			InstanceID string `json:"instanceId"`
		}
		if err := json.Unmarshal([]byte(in.InstanceIdentityDocument), &doc); err != nil {
			return nil, invalidParameter("instanceIdentityDocument is not a JSON instance identity document: %v", err)
		}
		ec2ID = doc.InstanceID
	}
	if ec2ID == "" {
		ec2ID = "i-" + randomHex(17)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.activeCluster(region, in.Cluster)
	if err != nil {
		return nil, err
	}
	inst := c.instances[lastSegment(in.ContainerInstanceArn)]
	if in.ContainerInstanceArn != "" && inst == nil {
		return nil, invalidParameter("containerInstanceArn %s is not a container instance of the cluster.", in.ContainerInstanceArn)
	}
	if inst == nil {
		id := randomHex(32)
		c.instanceSeq++
		inst = &containerInstance{
			id: id, arn: awsproto.ARN(region, "ecs", "container-instance/"+c.name+"/"+id), seq: c.instanceSeq,
			cluster: c, ec2InstanceID: ec2ID, registeredAt: f.now(),
		}
		c.instances[id] = inst
	}
	inst.status = instanceActive
	inst.version++
	inst.resources = in.TotalResources
	if len(inst.resources) == 0 {
		inst.resources = defaultResources
	}
	inst.versionInfo = in.VersionInfo
	inst.attributes = nil
	for _, a := range in.Attributes {
		inst.setAttribute(a)
	}
	inst.tags = parseTags(in.Tags)
	return map[string]any{"containerInstance": f.instanceOutput(inst, true)}, nil
}

type instanceRefInput struct {
	Cluster            string   `json:"cluster"`
	ContainerInstance  string   `json:"containerInstance"`
	ContainerInstances []string `json:"containerInstances"`
	Force              bool     `json:"force"`
	Status             string   `json:"status"`
	Include            []string `json:"include"`
	Filter             string   `json:"filter"`
	NextToken          string   `json:"nextToken"`
	MaxResults         *int     `json:"maxResults"`
}

func (f *Fake) deregisterContainerInstance(region string, in *instanceRefInput) (any, error) {
	if in.ContainerInstance == "" {
		return nil, invalidParameter("containerInstance can not be blank.")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.activeCluster(region, in.Cluster)
	if err != nil {
		return nil, err
	}
	inst := c.instances[lastSegment(in.ContainerInstance)]
	if inst == nil || inst.status == instanceInactive {
		return nil, invalidParameter("The referenced container instance %s is not registered in the cluster.", in.ContainerInstance)
	}
	if !in.Force && inst.taskCount(false) > 0 {
		return nil, invalidParameter("Found running tasks on the instance; deregister it with force, or stop them first.")
	}
	// With force, its tasks go on running, orphaned, as in ECS.
	inst.status = instanceInactive
	inst.version++
	return map[string]any{"containerInstance": f.instanceOutput(inst, false)}, nil
}

func (f *Fake) describeContainerInstances(region string, in *instanceRefInput) (any, error) {
	if len(in.ContainerInstances) == 0 || len(in.ContainerInstances) > 100 {
		return nil, invalidParameter("containerInstances must have 1 to 100 items.")
	}
	tags := slices.Contains(in.Include, "TAGS")
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.activeCluster(region, in.Cluster)
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	failures := []failure{}
	for _, ref := range in.ContainerInstances {
		inst := c.instances[lastSegment(ref)]
		if inst == nil {
			failures = append(failures, failure{Arn: c.instanceARN(ref), Reason: "MISSING"})
			continue
		}
		out = append(out, f.instanceOutput(inst, tags))
	}
	return map[string]any{"containerInstances": out, "failures": failures}, nil
}

func (f *Fake) listContainerInstances(region string, in *instanceRefInput) (any, error) {
	switch in.Status {
	case "", instanceActive, instanceDraining, "REGISTERING", "DEREGISTERING", "REGISTRATION_FAILED":
	default:
		return nil, invalidParameter("status must be ACTIVE, DRAINING, REGISTERING, DEREGISTERING or REGISTRATION_FAILED.")
	}
	match, err := parseInstanceFilter(in.Filter)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	c, err := f.activeCluster(region, in.Cluster)
	var list []*containerInstance
	if err == nil {
		for _, inst := range c.instances {
			if inst.status != instanceInactive && (in.Status == "" || inst.status == in.Status) && match(inst) {
				list = append(list, inst)
			}
		}
	}
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	slices.SortFunc(list, func(a, b *containerInstance) int { return int(a.seq) - int(b.seq) })
	page, next, err := awsproto.Page(paging(100), list, instanceKey, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	arns := make([]string, len(page))
	for i, inst := range page {
		arns[i] = inst.arn
	}
	return pageResult("containerInstanceArns", arns, next), nil
}

// instanceKey orders container instances by registration, for paging.
func instanceKey(inst *containerInstance) string { return strconv.FormatUint(inst.seq+1e12, 10) }

// parseInstanceFilter parses the part of the cluster query language that
// the fake evaluates: "attribute:NAME exists", "attribute:NAME == VALUE",
// "attribute:NAME != VALUE" and "ec2InstanceId == ID", joined by "and".
func parseInstanceFilter(filter string) (func(*containerInstance) bool, error) {
	var tests []func(*containerInstance) bool
	if strings.TrimSpace(filter) == "" {
		return func(*containerInstance) bool { return true }, nil
	}
	for _, expr := range strings.Split(filter, " and ") {
		fields := strings.Fields(expr)
		switch {
		case len(fields) == 2 && fields[1] == "exists" && strings.HasPrefix(fields[0], "attribute:"):
			name := strings.TrimPrefix(fields[0], "attribute:")
			tests = append(tests, func(i *containerInstance) bool { _, ok := i.attribute(name); return ok })
		case len(fields) == 3 && (fields[1] == "==" || fields[1] == "!=") && strings.HasPrefix(fields[0], "attribute:"):
			name, want, eq := strings.TrimPrefix(fields[0], "attribute:"), fields[2], fields[1] == "=="
			tests = append(tests, func(i *containerInstance) bool { v, ok := i.attribute(name); return (ok && v == want) == eq })
		case len(fields) == 3 && fields[0] == "ec2InstanceId" && fields[1] == "==":
			id := fields[2]
			tests = append(tests, func(i *containerInstance) bool { return i.ec2InstanceID == id })
		default:
			return nil, invalidParameter("filter %q: meshsim evaluates attribute:NAME exists, attribute:NAME == VALUE, attribute:NAME != VALUE and ec2InstanceId == ID, joined by and.", expr)
		}
	}
	return func(i *containerInstance) bool {
		for _, t := range tests {
			if !t(i) {
				return false
			}
		}
		return true
	}, nil
}

func (f *Fake) updateContainerInstancesState(region string, in *instanceRefInput) (any, error) {
	if in.Status != instanceActive && in.Status != instanceDraining {
		return nil, invalidParameter("status must be ACTIVE or DRAINING.")
	}
	if len(in.ContainerInstances) == 0 || len(in.ContainerInstances) > 10 {
		return nil, invalidParameter("containerInstances must have 1 to 10 items.")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.activeCluster(region, in.Cluster)
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	failures := []failure{}
	for _, ref := range in.ContainerInstances {
		inst := c.instances[lastSegment(ref)]
		if inst == nil || inst.status == instanceInactive {
			failures = append(failures, failure{Arn: c.instanceARN(ref), Reason: "MISSING"})
			continue
		}
		if inst.status != in.Status {
			inst.status = in.Status
			inst.version++
		}
		out = append(out, f.instanceOutput(inst, false))
	}
	return map[string]any{"containerInstances": out, "failures": failures}, nil
}

// instanceOutput describes inst. Callers hold f.mu.
func (f *Fake) instanceOutput(inst *containerInstance, tags bool) map[string]any {
	remaining := make([]resource, len(inst.resources))
	copy(remaining, inst.resources)
	cpu, mem := inst.used()
	for i := range remaining {
		switch remaining[i].Name {
		case "CPU":
			remaining[i].IntegerValue -= cpu
		case "MEMORY":
			remaining[i].IntegerValue -= mem
		}
	}
	out := map[string]any{
		"containerInstanceArn": inst.arn,
		"ec2InstanceId":        inst.ec2InstanceID,
		"status":               inst.status,
		"agentConnected":       inst.status != instanceInactive,
		"runningTasksCount":    inst.taskCount(true),
		"pendingTasksCount":    inst.taskCount(false) - inst.taskCount(true),
		"registeredResources":  inst.resources,
		"remainingResources":   remaining,
		"registeredAt":         timestamp(inst.registeredAt),
		"version":              inst.version,
		"attributes":           inst.attributesOut(),
	}
	if !isAbsent(inst.versionInfo) {
		out["versionInfo"] = inst.versionInfo
	}
	if tags {
		out["tags"] = tagsOut(inst.tags)
	}
	return out
}

// tasks returns the tasks placed on inst that have not stopped. Callers
// hold f.mu.
func (inst *containerInstance) tasks() []*task {
	var out []*task
	for _, t := range inst.cluster.tasks {
		if t.instance == inst && t.alive() {
			out = append(out, t)
		}
	}
	return out
}

// taskCount counts the tasks on inst that have not stopped, or the RUNNING
// ones.
func (inst *containerInstance) taskCount(running bool) int {
	n := 0
	for _, t := range inst.tasks() {
		if !running || t.lastStatus == statusRunning {
			n++
		}
	}
	return n
}

// used returns the CPU units and MiB of memory its tasks take.
func (inst *containerInstance) used() (cpu, mem int) {
	for _, t := range inst.tasks() {
		cpu += cpuUnits(t.cpu)
		mem += cpuUnits(t.memory)
	}
	return cpu, mem
}

// placeOn returns the ACTIVE container instance of c that a task of td
// fits on with the most CPU left, or nil. Callers hold f.mu.
func (c *cluster) placeOn(td *taskDef) *containerInstance {
	var best *containerInstance
	bestLeft := -1
	for _, inst := range c.instances {
		if inst.status != instanceActive {
			continue
		}
		cpu, mem := inst.used()
		cpuLeft := inst.resource("CPU") - cpu - cpuUnits(td.cpu)
		memLeft := inst.resource("MEMORY") - mem - cpuUnits(td.memory)
		if cpuLeft < 0 || memLeft < 0 {
			continue
		}
		if cpuLeft > bestLeft || cpuLeft == bestLeft && inst.seq < best.seq {
			best, bestLeft = inst, cpuLeft
		}
	}
	return best
}

// resource returns the registered integer resource name of inst.
func (inst *containerInstance) resource(name string) int {
	for _, r := range inst.resources {
		if r.Name == name {
			return r.IntegerValue
		}
	}
	return 0
}

// Attributes.

// checkAttribute checks attributes[i] as ECS does.
func checkAttribute(i int, a attribute) error {
	switch {
	case a.Name == "" || len(a.Name) > 128:
		return invalidParameter("attributes[%d].name must have 1 to 128 characters.", i)
	case a.Value != nil && len(*a.Value) > 128:
		return invalidParameter("attributes[%d].value can have at most 128 characters.", i)
	case a.TargetType != "" && a.TargetType != "container-instance":
		return invalidParameter("attributes[%d].targetType must be container-instance.", i)
	}
	return nil
}

// attribute returns the value of attribute name of inst.
func (inst *containerInstance) attribute(name string) (string, bool) {
	for _, a := range inst.attributes {
		if a.Name == name {
			return deref(a.Value, ""), true
		}
	}
	return "", false
}

// setAttribute sets (or replaces) an attribute of inst.
func (inst *containerInstance) setAttribute(a attribute) {
	a.TargetType, a.TargetID = "", ""
	if i := slices.IndexFunc(inst.attributes, func(o attribute) bool { return o.Name == a.Name }); i >= 0 {
		inst.attributes[i] = a
		return
	}
	inst.attributes = append(inst.attributes, a)
}

// attributesOut returns the attributes of inst for a response.
func (inst *containerInstance) attributesOut() []attribute {
	return append([]attribute{}, inst.attributes...)
}

type attributesInput struct {
	Cluster        string      `json:"cluster"`
	Attributes     []attribute `json:"attributes"`
	TargetType     string      `json:"targetType"`
	AttributeName  string      `json:"attributeName"`
	AttributeValue string      `json:"attributeValue"`
	NextToken      string      `json:"nextToken"`
	MaxResults     *int        `json:"maxResults"`
}

// attributeTargets finds the container instance each attribute names.
// Callers hold f.mu.
func (f *Fake) attributeTargets(c *cluster, attrs []attribute) ([]*containerInstance, error) {
	if len(attrs) == 0 || len(attrs) > 10 {
		return nil, invalidParameter("attributes must have 1 to 10 items.")
	}
	out := make([]*containerInstance, len(attrs))
	for i, a := range attrs {
		if err := checkAttribute(i, a); err != nil {
			return nil, err
		}
		if a.TargetID == "" {
			return nil, invalidParameter("attributes[%d].targetId can not be blank.", i)
		}
		inst := c.instances[lastSegment(a.TargetID)]
		if inst == nil || inst.status == instanceInactive {
			return nil, awsproto.Errorf(400, "TargetNotFoundException", "Could not find the specified target %s.", a.TargetID)
		}
		out[i] = inst
	}
	return out, nil
}

func (f *Fake) putAttributes(region string, in *attributesInput) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.activeCluster(region, in.Cluster)
	if err != nil {
		return nil, err
	}
	targets, err := f.attributeTargets(c, in.Attributes)
	if err != nil {
		return nil, err
	}
	out := []attribute{}
	for i, a := range in.Attributes {
		targets[i].setAttribute(a)
		out = append(out, attribute{Name: a.Name, Value: a.Value, TargetType: "container-instance", TargetID: targets[i].arn})
	}
	return map[string]any{"attributes": out}, nil
}

func (f *Fake) deleteAttributes(region string, in *attributesInput) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.activeCluster(region, in.Cluster)
	if err != nil {
		return nil, err
	}
	targets, err := f.attributeTargets(c, in.Attributes)
	if err != nil {
		return nil, err
	}
	out := []attribute{}
	for i, a := range in.Attributes {
		inst := targets[i]
		inst.attributes = slices.DeleteFunc(inst.attributes, func(o attribute) bool { return o.Name == a.Name })
		out = append(out, attribute{Name: a.Name, Value: a.Value, TargetType: "container-instance", TargetID: inst.arn})
	}
	return map[string]any{"attributes": out}, nil
}

func (f *Fake) listAttributes(region string, in *attributesInput) (any, error) {
	if in.TargetType != "container-instance" {
		return nil, invalidParameter("targetType must be container-instance.")
	}
	if in.AttributeValue != "" && in.AttributeName == "" {
		return nil, invalidParameter("attributeValue requires attributeName.")
	}
	f.mu.Lock()
	c, err := f.activeCluster(region, in.Cluster)
	var all []attribute
	if err == nil {
		for _, inst := range c.instances {
			if inst.status == instanceInactive {
				continue
			}
			for _, a := range inst.attributes {
				if (in.AttributeName == "" || a.Name == in.AttributeName) && (in.AttributeValue == "" || deref(a.Value, "") == in.AttributeValue) {
					all = append(all, attribute{Name: a.Name, Value: a.Value, TargetType: "container-instance", TargetID: inst.arn})
				}
			}
		}
	}
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	slices.SortFunc(all, func(a, b attribute) int { return strings.Compare(attributeKey(a), attributeKey(b)) })
	page, next, err := awsproto.Page(paging(100), all, attributeKey, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"attributes": page}
	if next != "" {
		out["nextToken"] = next
	}
	return out, nil
}

// attributeKey orders attributes by target and name, for paging.
func attributeKey(a attribute) string { return a.TargetID + "\x00" + a.Name }
