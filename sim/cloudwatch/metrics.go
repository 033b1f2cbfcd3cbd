package cloudwatch

import (
	"cmp"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meshsim/meshsim/sim/awsproto"
)

// Dimension is a metric's name/value pair.
type Dimension struct {
	Name  string `json:"Name"`
	Value string `json:"Value"`
}

// StatisticSet is a pre-aggregated datapoint.
type StatisticSet struct {
	SampleCount float64 `json:"SampleCount"`
	Sum         float64 `json:"Sum"`
	Minimum     float64 `json:"Minimum"`
	Maximum     float64 `json:"Maximum"`
}

// Datum is one entry of PutMetricData: a value, values with counts, or a
// statistic set, at a time.
type Datum struct {
	MetricName        string        `json:"MetricName"`
	Dimensions        []Dimension   `json:"Dimensions,omitempty"`
	Timestamp         awsproto.Time `json:"Timestamp,omitzero"`
	Value             *float64      `json:"Value,omitempty"`
	StatisticValues   *StatisticSet `json:"StatisticValues,omitempty"`
	Values            []float64     `json:"Values,omitempty"`
	Counts            []float64     `json:"Counts,omitempty"`
	Unit              string        `json:"Unit,omitempty"`
	StorageResolution int           `json:"StorageResolution,omitempty"`
}

// Limits of PutMetricData, as CloudWatch documents them.
const (
	maxDatumsPerCall  = 1000
	maxValuesPerDatum = 150
	maxDimensions     = 30
	// maxPointsPerSeries bounds memory: the oldest points of a series go
	// first (meshsim publishes a few points a second per series).
	maxPointsPerSeries = 20000
)

type metricKey struct {
	namespace, name, dims string
}

func keyOf(namespace, name string, dims []Dimension) metricKey {
	sorted := slices.Clone(dims)
	slices.SortFunc(sorted, func(a, b Dimension) int { return cmp.Compare(a.Name, b.Name) })
	var b strings.Builder
	for _, d := range sorted {
		b.WriteString(d.Name)
		b.WriteByte('=')
		b.WriteString(d.Value)
		b.WriteByte('\x00')
	}
	return metricKey{namespace, name, b.String()}
}

// point is one published datapoint.
type point struct {
	t                  time.Time
	n, sum, minv, maxv float64
	// values holds the distinct values and their counts, when the
	// datapoint came as values (percentiles need them).
	values map[float64]float64
}

type series struct {
	namespace, name string
	dims            []Dimension
	unit            string
	points          []point // in the order published
	last            time.Time
}

// Publish stores datapoints in namespace, in any namespace (meshsim's own
// observations, published as AWS publishes them).
func (f *Fake) Publish(namespace string, data []Datum) error {
	if err := validateData(namespace, data); err != nil {
		return err
	}
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, d := range data {
		k := keyOf(namespace, d.MetricName, d.Dimensions)
		s := f.metrics[k]
		if s == nil {
			s = &series{namespace: namespace, name: d.MetricName, dims: slices.Clone(d.Dimensions), unit: cmp.Or(d.Unit, "None")}
			f.metrics[k] = s
		}
		t := d.Timestamp.Time
		if t.IsZero() {
			t = now
		}
		s.points = append(s.points, pointOf(t, d))
		if over := len(s.points) - maxPointsPerSeries; over > 0 {
			s.points = slices.Delete(s.points, 0, over)
		}
		s.last = now
	}
	return nil
}

func pointOf(t time.Time, d Datum) point {
	switch {
	case d.Value != nil:
		v := *d.Value
		return point{t: t, n: 1, sum: v, minv: v, maxv: v, values: map[float64]float64{v: 1}}
	case d.StatisticValues != nil:
		s := d.StatisticValues
		return point{t: t, n: s.SampleCount, sum: s.Sum, minv: s.Minimum, maxv: s.Maximum}
	}
	p := point{t: t, minv: math.Inf(1), maxv: math.Inf(-1), values: make(map[float64]float64, len(d.Values))}
	for i, v := range d.Values {
		c := 1.0
		if i < len(d.Counts) {
			c = d.Counts[i]
		}
		p.values[v] += c
		p.n += c
		p.sum += v * c
		p.minv, p.maxv = min(p.minv, v), max(p.maxv, v)
	}
	return p
}

func validateData(namespace string, data []Datum) error {
	if namespace == "" {
		return awsproto.Errorf(http.StatusBadRequest, "MissingRequiredParameterException", "The parameter Namespace is required.")
	}
	if len(data) == 0 {
		return awsproto.Errorf(http.StatusBadRequest, "MissingRequiredParameterException", "The parameter MetricData is required.")
	}
	if len(data) > maxDatumsPerCall {
		return awsproto.Errorf(http.StatusBadRequest, "InvalidParameterValueException",
			"The collection MetricData must not have a size greater than %d.", maxDatumsPerCall)
	}
	for i, d := range data {
		if err := validateDatum(i+1, d); err != nil {
			return err
		}
	}
	return nil
}

func validateDatum(member int, d Datum) error {
	field := func(name string) string { return fmt.Sprintf("MetricData.member.%d.%s", member, name) }
	bad := func(format string, args ...any) error {
		return awsproto.Errorf(http.StatusBadRequest, "InvalidParameterValueException", format, args...)
	}
	if d.MetricName == "" {
		return awsproto.Errorf(http.StatusBadRequest, "MissingRequiredParameterException", "The parameter %s is required.", field("MetricName"))
	}
	set := 0
	for _, b := range []bool{d.Value != nil, d.StatisticValues != nil, len(d.Values) > 0} {
		if b {
			set++
		}
	}
	if set != 1 {
		return awsproto.Errorf(http.StatusBadRequest, "InvalidParameterCombinationException",
			"Exactly one of the parameters %s, %s and %s must be specified.", field("Value"), field("StatisticValues"), field("Values"))
	}
	if len(d.Values) > maxValuesPerDatum {
		return bad("The collection %s must not have a size greater than %d.", field("Values"), maxValuesPerDatum)
	}
	if len(d.Counts) > 0 && len(d.Counts) != len(d.Values) {
		return bad("The parameters %s and %s must be of the same size.", field("Values"), field("Counts"))
	}
	if len(d.Dimensions) > maxDimensions {
		return bad("The collection %s must not have a size greater than %d.", field("Dimensions"), maxDimensions)
	}
	for j, dim := range d.Dimensions {
		if dim.Name == "" || dim.Value == "" {
			return bad("The parameter %s.member.%d must have both Name and Value.", field("Dimensions"), j+1)
		}
	}
	if s := d.StatisticValues; s != nil && (s.SampleCount <= 0 || s.Minimum > s.Maximum) {
		return bad("The parameter %s must have a SampleCount above 0 and Minimum ≤ Maximum.", field("StatisticValues"))
	}
	for _, v := range append(slices.Clone(d.Values), d.Counts...) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return bad("The value %v for parameter %s is invalid.", v, field("Values"))
		}
	}
	if d.Value != nil && (math.IsNaN(*d.Value) || math.IsInf(*d.Value, 0)) {
		return bad("The value %v for parameter %s is invalid.", *d.Value, field("Value"))
	}
	return nil
}

// aggregate is the statistics of the points in one period.
type aggregate struct {
	start              time.Time
	n, sum, minv, maxv float64
	values             map[float64]float64 // nil when some point came as a statistic set
}

// statistic returns the named statistic (SampleCount, Average, Sum,
// Minimum, Maximum, or pNN for a percentile) and whether it exists.
func (a aggregate) statistic(name string) (float64, bool) {
	switch name {
	case "SampleCount":
		return a.n, true
	case "Sum":
		return a.sum, true
	case "Average":
		return a.sum / a.n, a.n > 0
	case "Minimum":
		return a.minv, true
	case "Maximum":
		return a.maxv, true
	}
	q, ok := percentileOf(name)
	if !ok || a.values == nil || a.n == 0 {
		return 0, false
	}
	return weightedPercentile(a.values, a.n, q), true
}

// validStatistic reports whether name is a basic statistic or pNN.
func validStatistic(name string) bool {
	_, p := percentileOf(name)
	return p || slices.Contains(basicStatistics, name)
}

// percentileOf parses pNN or pNN.NN (0–100).
func percentileOf(stat string) (float64, bool) {
	s, ok := strings.CutPrefix(stat, "p")
	if !ok {
		return 0, false
	}
	q, err := strconv.ParseFloat(s, 64)
	return q, err == nil && q >= 0 && q <= 100
}

// weightedPercentile is the nearest-rank percentile q of values with counts.
func weightedPercentile(values map[float64]float64, n, q float64) float64 {
	keys := make([]float64, 0, len(values))
	for v := range values {
		keys = append(keys, v)
	}
	slices.Sort(keys)
	rank := math.Max(1, math.Ceil(q/100*n))
	var seen float64
	for _, v := range keys {
		seen += values[v]
		if seen >= rank {
			return v
		}
	}
	return keys[len(keys)-1]
}

// periodDuration is how long a period of secs CloudWatch seconds lasts.
func (f *Fake) periodDuration(secs int) time.Duration {
	return time.Duration(secs) * f.second
}

// buckets aggregates s's points in [start, end) into periods of length p,
// aligned to multiples of p since the epoch, oldest first; periods without
// points are left out. The caller holds f.mu.
func (s *series) buckets(start, end time.Time, p time.Duration, unit string) []aggregate {
	if unit != "" && unit != s.unit {
		return nil
	}
	by := make(map[int64]*aggregate)
	for _, pt := range s.points {
		if pt.t.Before(start) || !pt.t.Before(end) {
			continue
		}
		slot := pt.t.UnixNano() / int64(p)
		a := by[slot]
		if a == nil {
			a = &aggregate{start: time.Unix(0, slot*int64(p)).UTC(), minv: math.Inf(1), maxv: math.Inf(-1), values: map[float64]float64{}}
			by[slot] = a
		}
		a.n += pt.n
		a.sum += pt.sum
		a.minv, a.maxv = min(a.minv, pt.minv), max(a.maxv, pt.maxv)
		if pt.values == nil {
			a.values = nil
		} else if a.values != nil {
			for v, c := range pt.values {
				a.values[v] += c
			}
		}
	}
	out := make([]aggregate, 0, len(by))
	for _, a := range by {
		out = append(out, *a)
	}
	slices.SortFunc(out, func(a, b aggregate) int { return a.start.Compare(b.start) })
	return out
}

// find returns the series named, or nil. The caller holds f.mu.
func (f *Fake) find(namespace, name string, dims []Dimension) *series {
	return f.metrics[keyOf(namespace, name, dims)]
}

type putMetricDataInput struct {
	Namespace  string  `json:"Namespace"`
	MetricData []Datum `json:"MetricData"`
}

func (f *Fake) putMetricData(_ string, decode func(any) error) (any, error) {
	var in putMetricDataInput
	if err := decode(&in); err != nil {
		return nil, err
	}
	if strings.HasPrefix(in.Namespace, "AWS/") {
		return nil, awsproto.Errorf(http.StatusBadRequest, "InvalidParameterValueException",
			"The value %s for parameter Namespace is invalid.", in.Namespace)
	}
	if err := f.Publish(in.Namespace, in.MetricData); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

type getMetricStatisticsInput struct {
	Namespace          string        `json:"Namespace"`
	MetricName         string        `json:"MetricName"`
	Dimensions         []Dimension   `json:"Dimensions"`
	StartTime          awsproto.Time `json:"StartTime"`
	EndTime            awsproto.Time `json:"EndTime"`
	Period             int           `json:"Period"`
	Statistics         []string      `json:"Statistics"`
	ExtendedStatistics []string      `json:"ExtendedStatistics"`
	Unit               string        `json:"Unit"`
}

type datapoint struct {
	Timestamp          awsproto.Time      `json:"Timestamp"`
	SampleCount        *float64           `json:"SampleCount,omitempty"`
	Average            *float64           `json:"Average,omitempty"`
	Sum                *float64           `json:"Sum,omitempty"`
	Minimum            *float64           `json:"Minimum,omitempty"`
	Maximum            *float64           `json:"Maximum,omitempty"`
	Unit               string             `json:"Unit,omitempty"`
	ExtendedStatistics map[string]float64 `json:"ExtendedStatistics,omitempty"`
}

// maxDatapoints is the most datapoints GetMetricStatistics returns.
const maxDatapoints = 1440

var basicStatistics = []string{"SampleCount", "Average", "Sum", "Minimum", "Maximum"}

func (f *Fake) getMetricStatistics(_ string, decode func(any) error) (any, error) {
	var in getMetricStatisticsInput
	if err := decode(&in); err != nil {
		return nil, err
	}
	if err := validateStatisticsQuery(in); err != nil {
		return nil, err
	}
	p := f.periodDuration(in.Period)
	if n := int(in.EndTime.Sub(in.StartTime.Time) / p); n > maxDatapoints {
		return nil, awsproto.Errorf(http.StatusBadRequest, "InvalidParameterCombinationException",
			"You have requested up to %d datapoints, which exceeds the limit of %d. You may reduce the datapoints requested by increasing Period, or decreasing the time range.", n, maxDatapoints)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := struct {
		Label      string      `json:"Label"`
		Datapoints []datapoint `json:"Datapoints"`
	}{Label: in.MetricName, Datapoints: []datapoint{}}
	s := f.find(in.Namespace, in.MetricName, in.Dimensions)
	if s == nil {
		return out, nil
	}
	for _, a := range s.buckets(in.StartTime.Time, in.EndTime.Time, p, in.Unit) {
		dp := datapoint{Timestamp: awsproto.Time{Time: a.start}, Unit: s.unit}
		for _, name := range in.Statistics {
			v, ok := a.statistic(name)
			if !ok {
				continue
			}
			ptr := &v
			switch name {
			case "SampleCount":
				dp.SampleCount = ptr
			case "Average":
				dp.Average = ptr
			case "Sum":
				dp.Sum = ptr
			case "Minimum":
				dp.Minimum = ptr
			case "Maximum":
				dp.Maximum = ptr
			}
		}
		for _, name := range in.ExtendedStatistics {
			if v, ok := a.statistic(name); ok {
				if dp.ExtendedStatistics == nil {
					dp.ExtendedStatistics = map[string]float64{}
				}
				dp.ExtendedStatistics[name] = v
			}
		}
		out.Datapoints = append(out.Datapoints, dp)
	}
	return out, nil
}

func validateStatisticsQuery(in getMetricStatisticsInput) error {
	missing := func(name string) error {
		return awsproto.Errorf(http.StatusBadRequest, "MissingRequiredParameterException", "The parameter %s is required.", name)
	}
	bad := func(format string, args ...any) error {
		return awsproto.Errorf(http.StatusBadRequest, "InvalidParameterValueException", format, args...)
	}
	switch {
	case in.Namespace == "":
		return missing("Namespace")
	case in.MetricName == "":
		return missing("MetricName")
	case in.StartTime.IsZero():
		return missing("StartTime")
	case in.EndTime.IsZero():
		return missing("EndTime")
	case in.Period == 0:
		return missing("Period")
	case len(in.Statistics) == 0 && len(in.ExtendedStatistics) == 0:
		return awsproto.Errorf(http.StatusBadRequest, "InvalidParameterCombinationException",
			"Must specify either Statistics or ExtendedStatistics, but not both.")
	case !in.StartTime.Before(in.EndTime.Time):
		return bad("The parameter StartTime must be less than the parameter EndTime.")
	}
	if err := validatePeriod(in.Period); err != nil {
		return err
	}
	for _, s := range in.Statistics {
		if !slices.Contains(basicStatistics, s) {
			return bad("The parameter Statistics has an invalid value %q (valid: %s).", s, strings.Join(basicStatistics, ", "))
		}
	}
	for _, s := range in.ExtendedStatistics {
		if _, ok := percentileOf(s); !ok {
			return bad("The parameter ExtendedStatistics has an invalid value %q (meshsim answers percentiles pNN).", s)
		}
	}
	return nil
}

// validatePeriod accepts 1, 5, 10, 20, 30 (high resolution) and multiples
// of 60, as CloudWatch does.
func validatePeriod(p int) error {
	if p > 0 && (p%60 == 0 || slices.Contains([]int{1, 5, 10, 20, 30}, p)) {
		return nil
	}
	return awsproto.Errorf(http.StatusBadRequest, "InvalidParameterValueException",
		"The parameter Period must be 1, 5, 10, 20, 30, or a multiple of 60; got %d.", p)
}

type metricID struct {
	Namespace  string      `json:"Namespace"`
	MetricName string      `json:"MetricName"`
	Dimensions []Dimension `json:"Dimensions"`
}

type metricStat struct {
	Metric metricID `json:"Metric"`
	Period int      `json:"Period"`
	Stat   string   `json:"Stat"`
	Unit   string   `json:"Unit,omitempty"`
}

type metricDataQuery struct {
	ID         string      `json:"Id"`
	MetricStat *metricStat `json:"MetricStat,omitempty"`
	Expression string      `json:"Expression,omitempty"`
	Label      string      `json:"Label,omitempty"`
	ReturnData *bool       `json:"ReturnData,omitempty"`
	Period     int         `json:"Period,omitempty"`
}

type metricDataResult struct {
	ID         string          `json:"Id"`
	Label      string          `json:"Label"`
	Timestamps []awsproto.Time `json:"Timestamps"`
	Values     []float64       `json:"Values"`
	StatusCode string          `json:"StatusCode"`
}

func (f *Fake) getMetricData(_ string, decode func(any) error) (any, error) {
	var in struct {
		MetricDataQueries []metricDataQuery `json:"MetricDataQueries"`
		StartTime         awsproto.Time     `json:"StartTime"`
		EndTime           awsproto.Time     `json:"EndTime"`
		ScanBy            string            `json:"ScanBy"`
		MaxDatapoints     int               `json:"MaxDatapoints"`
		NextToken         string            `json:"NextToken"`
	}
	if err := decode(&in); err != nil {
		return nil, err
	}
	if in.NextToken != "" {
		return nil, awsproto.Errorf(http.StatusBadRequest, "InvalidNextToken", "The service returned an invalid next token.")
	}
	if len(in.MetricDataQueries) == 0 || in.StartTime.IsZero() || in.EndTime.IsZero() {
		return nil, awsproto.Errorf(http.StatusBadRequest, "ValidationError", "MetricDataQueries, StartTime and EndTime are required.")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	results := make([]metricDataResult, 0, len(in.MetricDataQueries))
	for i, q := range in.MetricDataQueries {
		ts, vs, err := f.query(q, i+1, in.StartTime.Time, in.EndTime.Time)
		if err != nil {
			return nil, err
		}
		if q.ReturnData != nil && !*q.ReturnData {
			continue
		}
		if in.ScanBy != "TimestampAscending" {
			slices.Reverse(ts)
			slices.Reverse(vs)
		}
		label := q.Label
		if label == "" && q.MetricStat != nil {
			label = q.MetricStat.Metric.MetricName
		}
		results = append(results, metricDataResult{ID: q.ID, Label: label, Timestamps: ts, Values: vs, StatusCode: "Complete"})
	}
	return struct {
		MetricDataResults []metricDataResult `json:"MetricDataResults"`
		Messages          []struct{}         `json:"Messages"`
	}{results, []struct{}{}}, nil
}

// query answers one MetricStat query, oldest first. The caller holds f.mu.
func (f *Fake) query(q metricDataQuery, member int, start, end time.Time) ([]awsproto.Time, []float64, error) {
	if q.MetricStat == nil {
		return nil, nil, awsproto.Errorf(http.StatusBadRequest, "ValidationError",
			"MetricDataQueries.member.%d: meshsim answers MetricStat queries; metric math (Expression %q) is not supported.", member, q.Expression)
	}
	ms := q.MetricStat
	if err := validatePeriod(ms.Period); err != nil {
		return nil, nil, err
	}
	if !validStatistic(ms.Stat) {
		return nil, nil, awsproto.Errorf(http.StatusBadRequest, "ValidationError",
			"MetricDataQueries.member.%d.MetricStat.Stat: %q is not a statistic meshsim answers (%s, pNN).", member, ms.Stat, strings.Join(basicStatistics, ", "))
	}
	ts, vs := []awsproto.Time{}, []float64{}
	s := f.find(ms.Metric.Namespace, ms.Metric.MetricName, ms.Metric.Dimensions)
	if s == nil {
		return ts, vs, nil
	}
	for _, a := range s.buckets(start, end, f.periodDuration(ms.Period), ms.Unit) {
		if v, ok := a.statistic(ms.Stat); ok {
			ts = append(ts, awsproto.Time{Time: a.start})
			vs = append(vs, v)
		}
	}
	return ts, vs, nil
}

type dimensionFilter struct {
	Name  string  `json:"Name"`
	Value *string `json:"Value,omitempty"`
}

func (f *Fake) listMetrics(_ string, decode func(any) error) (any, error) {
	var in struct {
		Namespace      string            `json:"Namespace"`
		MetricName     string            `json:"MetricName"`
		Dimensions     []dimensionFilter `json:"Dimensions"`
		RecentlyActive string            `json:"RecentlyActive"`
		NextToken      string            `json:"NextToken"`
	}
	if err := decode(&in); err != nil {
		return nil, err
	}
	if in.RecentlyActive != "" && in.RecentlyActive != "PT3H" {
		return nil, awsproto.Errorf(http.StatusBadRequest, "InvalidParameterValueException", "The parameter RecentlyActive must be PT3H.")
	}
	f.mu.Lock()
	var all []metricID
	for _, s := range f.metrics {
		if (in.Namespace == "" || s.namespace == in.Namespace) && (in.MetricName == "" || s.name == in.MetricName) &&
			dimensionsMatch(s.dims, in.Dimensions) &&
			(in.RecentlyActive == "" || f.now().Sub(s.last) <= 3*time.Hour) {
			all = append(all, metricID{Namespace: s.namespace, MetricName: s.name, Dimensions: slices.Clone(s.dims)})
		}
	}
	f.mu.Unlock()
	slices.SortFunc(all, func(a, b metricID) int { return cmp.Compare(metricSortKey(a), metricSortKey(b)) })
	page, next, err := awsproto.Page(listPaging, all, metricSortKey, in.NextToken, nil)
	if err != nil {
		return nil, err
	}
	return struct {
		Metrics   []metricID `json:"Metrics"`
		NextToken string     `json:"NextToken,omitempty"`
	}{page, next}, nil
}

// dimensionsMatch reports whether dims has every filter's name (and value,
// when the filter gives one).
func dimensionsMatch(dims []Dimension, filters []dimensionFilter) bool {
	for _, fl := range filters {
		if !slices.ContainsFunc(dims, func(d Dimension) bool {
			return d.Name == fl.Name && (fl.Value == nil || d.Value == *fl.Value)
		}) {
			return false
		}
	}
	return true
}

// listPaging is how ListMetrics pages: 500 metrics a page, no size member.
var listPaging = awsproto.Paging{Default: 500, Max: 500, SizeMember: "MaxRecords", TokenMember: "NextToken", Code: "InvalidNextToken"}

// metricSortKey orders metrics by namespace, name and dimensions, and
// resumes ListMetrics' pages.
func metricSortKey(m metricID) string {
	return m.Namespace + "\x00" + m.MetricName + "\x00" + keyOf("", "", m.Dimensions).dims
}
