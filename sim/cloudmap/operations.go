package cloudmap

import (
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/meshsim/meshsim/sim/awsproto"
)

// operationFilterRules are the conditions each ListOperations filter takes
// (the first is the default) and the values it allows (nil: any).
var operationFilterRules = map[string]struct {
	conds  []string
	values []string
}{
	"NAMESPACE_ID": {conds: []string{"EQ"}},
	"SERVICE_ID":   {conds: []string{"EQ"}},
	"STATUS":       {conds: []string{"EQ", "IN"}, values: []string{statusSubmitted, "PENDING", statusSuccess, statusFail}},
	"TYPE": {conds: []string{"EQ", "IN"}, values: []string{opCreateNamespace, opDeleteNamespace, opUpdateNamespace,
		opUpdateService, opRegisterInstance, opDeregisterInstance}},
	"UPDATE_DATE": {conds: []string{"BETWEEN"}},
}

// checkOperationFilter checks a ListOperations filter as AWS does: a known
// name, a condition the name takes (EQ by default, BETWEEN for
// UPDATE_DATE), one value for EQ, one or more for IN, two dates (epoch
// seconds, start first) for BETWEEN. It returns the filter with its
// condition filled in.
func checkOperationFilter(flt filter) (filter, error) {
	rule, ok := operationFilterRules[flt.Name]
	if !ok {
		return flt, invalidInput("Filters.Name must be NAMESPACE_ID, SERVICE_ID, STATUS, TYPE or UPDATE_DATE, not %q", flt.Name)
	}
	if flt.Condition == "" {
		flt.Condition = rule.conds[0]
	}
	if !slices.Contains(rule.conds, flt.Condition) {
		return flt, invalidInput("Condition %s is not supported for filter %s", flt.Condition, flt.Name)
	}
	switch n := len(flt.Values); {
	case n == 0:
		return flt, invalidInput("filter %s needs at least one value", flt.Name)
	case flt.Condition == "EQ" && n != 1:
		return flt, invalidInput("Condition EQ takes exactly one value, not %d", n)
	case flt.Condition == "BETWEEN" && n != 2:
		return flt, invalidInput("Condition BETWEEN takes two values (the start and end dates), not %d", n)
	}
	for _, v := range flt.Values {
		if rule.values != nil && !slices.Contains(rule.values, v) {
			return flt, invalidInput("%q is not a valid value of filter %s", v, flt.Name)
		}
	}
	if flt.Condition == "BETWEEN" {
		if _, _, err := dateRange(flt.Values); err != nil {
			return flt, err
		}
	}
	return flt, nil
}

// dateRange parses the two UPDATE_DATE values: seconds since the epoch.
func dateRange(values []string) (from, to time.Time, err error) {
	var ts [2]time.Time
	for i, v := range values {
		s, perr := strconv.ParseFloat(v, 64)
		if perr != nil {
			return from, to, invalidInput("UPDATE_DATE value %q is not a date in Unix time (seconds)", v)
		}
		ts[i] = time.UnixMilli(int64(s * 1000))
	}
	if ts[1].Before(ts[0]) {
		return from, to, invalidInput("UPDATE_DATE: the start date must come first")
	}
	return ts[0], ts[1], nil
}

// matchOperation applies checked filters to op.
func matchOperation(op *operation, filters []filter) bool {
	for _, flt := range filters {
		var ok bool
		switch flt.Name {
		case "NAMESPACE_ID":
			ok = op.targets[targetNamespace] == flt.Values[0]
		case "SERVICE_ID":
			ok = op.targets[targetService] == flt.Values[0]
		case "STATUS":
			ok = slices.Contains(flt.Values, op.status)
		case "TYPE":
			ok = slices.Contains(flt.Values, op.typ)
		case "UPDATE_DATE":
			from, to, _ := dateRange(flt.Values)
			ok = !op.updated.Before(from) && !op.updated.After(to)
		}
		if !ok {
			return false
		}
	}
	return true
}

func (f *Fake) apiListOperations(c *awsproto.Call) (any, error) {
	var in struct {
		Filters    []filter `json:"Filters"`
		MaxResults *int     `json:"MaxResults"`
		NextToken  string   `json:"NextToken"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	for i, flt := range in.Filters {
		checked, err := checkOperationFilter(flt)
		if err != nil {
			return nil, err
		}
		in.Filters[i] = checked
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var all []*operation
	for _, op := range f.operations {
		if matchOperation(op, in.Filters) {
			all = append(all, op)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].seq < all[j].seq })
	all, next, err := awsproto.Page(paging, all, func(op *operation) string { return seqKey(op.seq) }, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	type summary struct {
		ID     string `json:"Id"`
		Status string `json:"Status"`
	}
	out := struct {
		Operations []summary `json:"Operations"`
		NextToken  string    `json:"NextToken,omitempty"`
	}{Operations: []summary{}, NextToken: next}
	for _, op := range all {
		out.Operations = append(out.Operations, summary{ID: op.id, Status: op.status})
	}
	return out, nil
}

// apiGetInstancesHealthStatus reports the health of a service's instances
// (the listed ones, or all, by instance id): HEALTHY or UNHEALTHY in a
// service with a custom health check (UpdateInstanceCustomHealthStatus,
// AWS_INIT_HEALTH_STATUS), UNKNOWN in one without. meshsim runs no Route 53
// health checks, so the instances of a service with a HealthCheckConfig are
// UNKNOWN too.
func (f *Fake) apiGetInstancesHealthStatus(c *awsproto.Call) (any, error) {
	var in struct {
		ServiceID  string   `json:"ServiceId"`
		Instances  []string `json:"Instances"`
		MaxResults *int     `json:"MaxResults"`
		NextToken  string   `json:"NextToken"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	if in.Instances != nil && (len(in.Instances) < 1 || len(in.Instances) > 100) {
		return nil, invalidInput("Instances must list 1 to 100 instance ids, not %d", len(in.Instances))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	svc, err := f.service(in.ServiceID)
	if err != nil {
		return nil, err
	}
	ids := in.Instances
	if ids == nil {
		ids = sortedKeys(instanceIDs(svc))
	} else {
		ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	}
	for _, id := range ids {
		if _, ok := svc.instances[id]; !ok {
			return nil, errInstanceNotFound(svc.id, id)
		}
	}
	page, next, err := awsproto.Page(paging, ids, awsproto.Self, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	out := struct {
		Status    map[string]string `json:"Status"`
		NextToken string            `json:"NextToken,omitempty"`
	}{Status: map[string]string{}, NextToken: next}
	for _, id := range page {
		out.Status[id] = instanceHealth(svc, svc.instances[id])
	}
	return out, nil
}

// instanceHealth is the health Cloud Map reports for inst.
func instanceHealth(svc *service, inst *instance) string {
	if svc.customHealth == nil {
		return Unknown
	}
	return inst.health
}

func instanceIDs(svc *service) map[string]string {
	m := make(map[string]string, len(svc.instances))
	for id := range svc.instances {
		m[id] = id
	}
	return m
}
