package cloudwatch

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meshsim/meshsim/sim/awsproto"
	"github.com/meshsim/meshsim/sim/contract"
)

// alarm is a metric alarm: its definition as PutMetricAlarm gave it and its
// state.
type alarm struct {
	def     metricAlarm
	tags    map[string]string
	nextDue time.Time
}

// metricAlarm is the MetricAlarm shape of DescribeAlarms (and, for its
// definition members, the PutMetricAlarm input).
type metricAlarm struct {
	AlarmName                          string        `json:"AlarmName"`
	AlarmArn                           string        `json:"AlarmArn,omitempty"`
	AlarmDescription                   string        `json:"AlarmDescription,omitempty"`
	AlarmConfigurationUpdatedTimestamp awsproto.Time `json:"AlarmConfigurationUpdatedTimestamp,omitzero"`
	ActionsEnabled                     *bool         `json:"ActionsEnabled,omitempty"`
	OKActions                          []string      `json:"OKActions"`
	AlarmActions                       []string      `json:"AlarmActions"`
	InsufficientDataActions            []string      `json:"InsufficientDataActions"`
	StateValue                         string        `json:"StateValue,omitempty"`
	StateReason                        string        `json:"StateReason,omitempty"`
	StateReasonData                    string        `json:"StateReasonData,omitempty"`
	StateUpdatedTimestamp              awsproto.Time `json:"StateUpdatedTimestamp,omitzero"`
	StateTransitionedTimestamp         awsproto.Time `json:"StateTransitionedTimestamp,omitzero"`
	MetricName                         string        `json:"MetricName,omitempty"`
	Namespace                          string        `json:"Namespace,omitempty"`
	Statistic                          string        `json:"Statistic,omitempty"`
	ExtendedStatistic                  string        `json:"ExtendedStatistic,omitempty"`
	Dimensions                         []Dimension   `json:"Dimensions"`
	Period                             int           `json:"Period,omitempty"`
	Unit                               string        `json:"Unit,omitempty"`
	EvaluationPeriods                  int           `json:"EvaluationPeriods"`
	DatapointsToAlarm                  int           `json:"DatapointsToAlarm,omitempty"`
	Threshold                          *float64      `json:"Threshold,omitempty"`
	ComparisonOperator                 string        `json:"ComparisonOperator"`
	TreatMissingData                   string        `json:"TreatMissingData,omitempty"`
	EvaluateLowSampleCountPercentile   string        `json:"EvaluateLowSampleCountPercentile,omitempty"`
	Metrics                            []any         `json:"Metrics,omitempty"`
}

type tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

var alarmNamePattern = regexp.MustCompile(`^[^\x00-\x1f\x7f]{1,255}$`)

func (f *Fake) putMetricAlarm(region string, decode func(any) error) (any, error) {
	var in struct {
		metricAlarm
		Tags []tag `json:"Tags"`
	}
	if err := decode(&in); err != nil {
		return nil, err
	}
	def := in.metricAlarm
	if err := validateAlarm(&def); err != nil {
		return nil, err
	}
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	a, exists := f.alarms[def.AlarmName]
	if !exists {
		if len(f.alarms) >= maxAlarms {
			return nil, awsproto.Errorf(http.StatusBadRequest, "LimitExceededFault", "meshsim holds at most %d alarms", maxAlarms)
		}
		a = &alarm{tags: map[string]string{}}
		f.alarms[def.AlarmName] = a
		def.StateValue, def.StateReason = StateInsufficientData, "Unchecked: Initial alarm creation"
		def.StateUpdatedTimestamp, def.StateTransitionedTimestamp = awsproto.Time{Time: now}, awsproto.Time{Time: now}
	} else {
		def.StateValue, def.StateReason, def.StateReasonData = a.def.StateValue, a.def.StateReason, a.def.StateReasonData
		def.StateUpdatedTimestamp, def.StateTransitionedTimestamp = a.def.StateUpdatedTimestamp, a.def.StateTransitionedTimestamp
	}
	def.AlarmArn = awsproto.ARN(region, "cloudwatch", "alarm:"+def.AlarmName)
	def.AlarmConfigurationUpdatedTimestamp = awsproto.Time{Time: now}
	a.def = def
	a.nextDue = time.Time{}
	for _, t := range in.Tags {
		a.tags[t.Key] = t.Value
	}
	verb := "created"
	if exists {
		verb = "updated"
	}
	f.record(now, def.AlarmName, "ConfigurationUpdate", fmt.Sprintf("Alarm %q %s", def.AlarmName, verb), "")
	return struct{}{}, nil
}

// How DescribeAlarms and DescribeAlarmHistory page (MaxRecords 1–100).
var (
	alarmPaging   = awsproto.Paging{Default: 50, Max: 100, SizeMember: "MaxRecords", TokenMember: "NextToken", Code: "InvalidNextToken"}
	historyPaging = awsproto.Paging{Default: 100, Max: 100, SizeMember: "MaxRecords", TokenMember: "NextToken", Code: "InvalidNextToken"}
)

// nonZero is n's address, or nil for 0 (the member left out).
func nonZero(n int) *int {
	if n == 0 {
		return nil
	}
	return &n
}

// maxAlarms bounds the alarms one world holds.
const maxAlarms = 5000

func validateAlarm(d *metricAlarm) error {
	bad := func(format string, args ...any) error {
		return awsproto.Errorf(http.StatusBadRequest, "ValidationError", format, args...)
	}
	missing := func(name string) error {
		return awsproto.Errorf(http.StatusBadRequest, "ValidationError",
			"1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", name)
	}
	switch {
	case !alarmNamePattern.MatchString(d.AlarmName):
		return bad("AlarmName must be 1 to 255 printable characters; got %q", d.AlarmName)
	case d.EvaluationPeriods < 1:
		return bad("The parameter EvaluationPeriods must be at least 1; got %d.", d.EvaluationPeriods)
	case d.ComparisonOperator == "":
		return missing("comparisonOperator")
	case len(d.Metrics) > 0:
		return bad("meshsim's alarms watch one metric (MetricName, Namespace, Statistic); metric math (Metrics) is not supported.")
	case d.MetricName == "" || d.Namespace == "":
		return missing("metricName")
	case d.Threshold == nil:
		return bad("The parameter Threshold is required for an alarm on a metric.")
	}
	if _, ok := comparisons[d.ComparisonOperator]; !ok {
		return bad("1 validation error detected: Value '%s' at 'comparisonOperator' failed to satisfy constraint: Member must satisfy enum value set: [GreaterThanOrEqualToThreshold, GreaterThanThreshold, LessThanThreshold, LessThanOrEqualToThreshold] (meshsim has no anomaly-detection bands)", d.ComparisonOperator)
	}
	if (d.Statistic == "") == (d.ExtendedStatistic == "") {
		return awsproto.Errorf(http.StatusBadRequest, "InvalidParameterCombinationException",
			"Exactly one of the parameters Statistic and ExtendedStatistic must be specified.")
	}
	if d.Statistic != "" && !slices.Contains(basicStatistics, d.Statistic) {
		return bad("1 validation error detected: Value '%s' at 'statistic' failed to satisfy constraint: Member must satisfy enum value set: [%s]", d.Statistic, strings.Join(basicStatistics, ", "))
	}
	if _, ok := percentileOf(d.ExtendedStatistic); d.ExtendedStatistic != "" && !ok {
		return awsproto.Errorf(http.StatusBadRequest, "InvalidParameterValueException",
			"The value %s for parameter ExtendedStatistic is not supported (meshsim answers pNN).", d.ExtendedStatistic)
	}
	if err := validatePeriod(d.Period); err != nil {
		return err
	}
	if d.DatapointsToAlarm < 0 || d.DatapointsToAlarm > d.EvaluationPeriods {
		return bad("DatapointsToAlarm must be between 1 and EvaluationPeriods (%d); got %d.", d.EvaluationPeriods, d.DatapointsToAlarm)
	}
	switch d.TreatMissingData {
	case "", TreatMissing, TreatIgnore, TreatBreaching, TreatNotBreaching:
	default:
		return bad("The value %s for parameter TreatMissingData is invalid (missing, ignore, breaching, notBreaching).", d.TreatMissingData)
	}
	if d.ActionsEnabled == nil {
		t := true
		d.ActionsEnabled = &t
	}
	for _, l := range []*[]string{&d.OKActions, &d.AlarmActions, &d.InsufficientDataActions} {
		if *l == nil {
			*l = []string{}
		}
	}
	if d.Dimensions == nil {
		d.Dimensions = []Dimension{}
	}
	return nil
}

func (f *Fake) describeAlarms(_ string, decode func(any) error) (any, error) {
	var in struct {
		AlarmNames      []string `json:"AlarmNames"`
		AlarmNamePrefix string   `json:"AlarmNamePrefix"`
		AlarmTypes      []string `json:"AlarmTypes"`
		StateValue      string   `json:"StateValue"`
		ActionPrefix    string   `json:"ActionPrefix"`
		MaxRecords      int      `json:"MaxRecords"`
		NextToken       string   `json:"NextToken"`
	}
	if err := decode(&in); err != nil {
		return nil, err
	}
	if len(in.AlarmNames) > 0 && in.AlarmNamePrefix != "" {
		return nil, awsproto.Errorf(http.StatusBadRequest, "InvalidParameterCombinationException",
			"AlarmNamePrefix and AlarmNames cannot be specified together.")
	}
	if in.MaxRecords < 0 || in.MaxRecords > 100 {
		return nil, awsproto.Errorf(http.StatusBadRequest, "ValidationError", "MaxRecords must be between 1 and 100; got %d.", in.MaxRecords)
	}
	wantMetric := len(in.AlarmTypes) == 0 || slices.Contains(in.AlarmTypes, "MetricAlarm")
	f.mu.Lock()
	var out []metricAlarm
	for _, a := range f.alarms {
		d := a.def
		if !wantMetric || len(in.AlarmNames) > 0 && !slices.Contains(in.AlarmNames, d.AlarmName) ||
			!strings.HasPrefix(d.AlarmName, in.AlarmNamePrefix) || in.StateValue != "" && d.StateValue != in.StateValue ||
			in.ActionPrefix != "" && !slices.ContainsFunc(d.AlarmActions, func(s string) bool { return strings.HasPrefix(s, in.ActionPrefix) }) {
			continue
		}
		out = append(out, d)
	}
	f.mu.Unlock()
	slices.SortFunc(out, func(a, b metricAlarm) int { return cmp.Compare(a.AlarmName, b.AlarmName) })
	page, next, err := awsproto.Page(alarmPaging, out, func(a metricAlarm) string { return a.AlarmName }, in.NextToken, nonZero(in.MaxRecords))
	if err != nil {
		return nil, err
	}
	return struct {
		MetricAlarms    []metricAlarm `json:"MetricAlarms"`
		CompositeAlarms []struct{}    `json:"CompositeAlarms"`
		NextToken       string        `json:"NextToken,omitempty"`
	}{page, []struct{}{}, next}, nil
}

func (f *Fake) describeAlarmsForMetric(_ string, decode func(any) error) (any, error) {
	var in struct {
		metricID
		Statistic         string `json:"Statistic"`
		ExtendedStatistic string `json:"ExtendedStatistic"`
		Period            int    `json:"Period"`
		Unit              string `json:"Unit"`
	}
	if err := decode(&in); err != nil {
		return nil, err
	}
	if in.Namespace == "" || in.MetricName == "" {
		return nil, awsproto.Errorf(http.StatusBadRequest, "ValidationError", "MetricName and Namespace are required.")
	}
	want := keyOf(in.Namespace, in.MetricName, in.Dimensions)
	f.mu.Lock()
	out := []metricAlarm{}
	for _, a := range f.alarms {
		d := a.def
		if keyOf(d.Namespace, d.MetricName, d.Dimensions) == want &&
			(in.Statistic == "" || d.Statistic == in.Statistic) && (in.ExtendedStatistic == "" || d.ExtendedStatistic == in.ExtendedStatistic) &&
			(in.Period == 0 || d.Period == in.Period) && (in.Unit == "" || d.Unit == in.Unit) {
			out = append(out, d)
		}
	}
	f.mu.Unlock()
	slices.SortFunc(out, func(a, b metricAlarm) int { return cmp.Compare(a.AlarmName, b.AlarmName) })
	return struct {
		MetricAlarms []metricAlarm `json:"MetricAlarms"`
	}{out}, nil
}

type historyItem struct {
	AlarmName       string        `json:"AlarmName"`
	AlarmType       string        `json:"AlarmType"`
	Timestamp       awsproto.Time `json:"Timestamp"`
	HistoryItemType string        `json:"HistoryItemType"`
	HistorySummary  string        `json:"HistorySummary"`
	HistoryData     string        `json:"HistoryData,omitempty"`
}

// maxHistory bounds the alarm history kept (oldest first out).
const maxHistory = 10000

// record appends an alarm history item. The caller holds f.mu.
func (f *Fake) record(t time.Time, name, typ, summary, data string) {
	f.history = append(f.history, historyItem{AlarmName: name, AlarmType: "MetricAlarm", Timestamp: awsproto.Time{Time: t},
		HistoryItemType: typ, HistorySummary: summary, HistoryData: data})
	if over := len(f.history) - maxHistory; over > 0 {
		f.history = slices.Delete(f.history, 0, over)
	}
}

func (f *Fake) describeAlarmHistory(_ string, decode func(any) error) (any, error) {
	var in struct {
		AlarmName       string        `json:"AlarmName"`
		HistoryItemType string        `json:"HistoryItemType"`
		StartDate       awsproto.Time `json:"StartDate"`
		EndDate         awsproto.Time `json:"EndDate"`
		MaxRecords      int           `json:"MaxRecords"`
		NextToken       string        `json:"NextToken"`
		ScanBy          string        `json:"ScanBy"`
	}
	if err := decode(&in); err != nil {
		return nil, err
	}
	switch in.HistoryItemType {
	case "", "ConfigurationUpdate", "StateUpdate", "Action":
	default:
		return nil, awsproto.Errorf(http.StatusBadRequest, "ValidationError",
			"1 validation error detected: Value '%s' at 'historyItemType' failed to satisfy constraint: Member must satisfy enum value set: [ConfigurationUpdate, StateUpdate, Action, AlarmContributorStateUpdate, AlarmContributorAction]", in.HistoryItemType)
	}
	f.mu.Lock()
	var out []historyItem
	for _, h := range f.history {
		if (in.AlarmName == "" || h.AlarmName == in.AlarmName) && (in.HistoryItemType == "" || h.HistoryItemType == in.HistoryItemType) &&
			(in.StartDate.IsZero() || !h.Timestamp.Before(in.StartDate.Time)) && (in.EndDate.IsZero() || h.Timestamp.Before(in.EndDate.Time)) {
			out = append(out, h)
		}
	}
	f.mu.Unlock()
	if in.ScanBy != "TimestampAscending" {
		slices.Reverse(out)
	}
	page, next, err := awsproto.Page(historyPaging, out, nil, in.NextToken, nonZero(in.MaxRecords))
	if err != nil {
		return nil, err
	}
	return struct {
		AlarmHistoryItems []historyItem `json:"AlarmHistoryItems"`
		NextToken         string        `json:"NextToken,omitempty"`
	}{page, next}, nil
}

type alarmNamesInput struct {
	AlarmNames []string `json:"AlarmNames"`
}

func (f *Fake) deleteAlarms(_ string, decode func(any) error) (any, error) {
	var in alarmNamesInput
	if err := decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, n := range in.AlarmNames {
		if _, ok := f.alarms[n]; !ok {
			return nil, awsproto.Errorf(http.StatusNotFound, "ResourceNotFound", "Alarm %s not found", n)
		}
	}
	for _, n := range in.AlarmNames {
		delete(f.alarms, n)
	}
	return struct{}{}, nil
}

func (f *Fake) setActionsEnabled(decode func(any) error, enabled bool) (any, error) {
	var in alarmNamesInput
	if err := decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, n := range in.AlarmNames {
		if a, ok := f.alarms[n]; ok {
			e := enabled
			a.def.ActionsEnabled = &e
		}
	}
	return struct{}{}, nil
}

func (f *Fake) enableAlarmActions(_ string, decode func(any) error) (any, error) {
	return f.setActionsEnabled(decode, true)
}

func (f *Fake) disableAlarmActions(_ string, decode func(any) error) (any, error) {
	return f.setActionsEnabled(decode, false)
}

func (f *Fake) setAlarmState(_ string, decode func(any) error) (any, error) {
	var in struct {
		AlarmName       string `json:"AlarmName"`
		StateValue      string `json:"StateValue"`
		StateReason     string `json:"StateReason"`
		StateReasonData string `json:"StateReasonData"`
	}
	if err := decode(&in); err != nil {
		return nil, err
	}
	switch in.StateValue {
	case StateOK, StateAlarm, StateInsufficientData:
	default:
		return nil, awsproto.Errorf(http.StatusBadRequest, "ValidationError",
			"1 validation error detected: Value '%s' at 'stateValue' failed to satisfy constraint: Member must satisfy enum value set: [INSUFFICIENT_DATA, ALARM, OK]", in.StateValue)
	}
	if in.StateReason == "" {
		return nil, awsproto.Errorf(http.StatusBadRequest, "ValidationError",
			"1 validation error detected: Value null at 'stateReason' failed to satisfy constraint: Member must not be null")
	}
	if in.StateReasonData != "" && !json.Valid([]byte(in.StateReasonData)) {
		return nil, awsproto.Errorf(http.StatusBadRequest, "InvalidFormatFault", "StateReasonData is not valid JSON.")
	}
	f.mu.Lock()
	a, ok := f.alarms[in.AlarmName]
	if !ok {
		f.mu.Unlock()
		return nil, awsproto.Errorf(http.StatusNotFound, "ResourceNotFound", "Alarm %s not found", in.AlarmName)
	}
	f.transition(a, f.now(), in.StateValue, in.StateReason, in.StateReasonData, nil)
	f.mu.Unlock()
	f.notify()
	return struct{}{}, nil
}

// transition sets a's state, and records and announces a change. The
// caller holds f.mu.
func (f *Fake) transition(a *alarm, now time.Time, state, reason, reasonData string, breaching []string) {
	old := a.def
	a.def.StateValue, a.def.StateReason, a.def.StateReasonData = state, reason, reasonData
	a.def.StateUpdatedTimestamp = awsproto.Time{Time: now}
	if old.StateValue == state {
		return
	}
	a.def.StateTransitionedTimestamp = awsproto.Time{Time: now}
	data, _ := json.Marshal(map[string]any{
		"version":  "1.0",
		"oldState": map[string]string{"stateValue": old.StateValue, "stateReason": old.StateReason},
		"newState": map[string]any{"stateValue": state, "stateReason": reason, "stateReasonData": json.RawMessage(cmp.Or(reasonData, "{}"))},
	})
	f.record(now, a.def.AlarmName, "StateUpdate",
		fmt.Sprintf("Alarm updated from %s to %s", old.StateValue, state), string(data))
	detail := map[string]string{contract.DetailFrom: old.StateValue, contract.DetailTo: state, contract.DetailReason: reason}
	if len(breaching) > 0 {
		detail[contract.DetailDatapoints] = strings.Join(breaching, ",")
	}
	f.emitAlarm(a.def.AlarmName, detail)
	if f.onChange != nil {
		f.changed = append(f.changed, stateChange{a.def.AlarmName, state})
	}
}

// AlarmState returns the state of the alarm named and whether it exists.
func (f *Fake) AlarmState(name string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.alarms[name]
	if !ok {
		return "", false
	}
	return a.def.StateValue, true
}

// evaluateDue evaluates every alarm whose period has come round.
func (f *Fake) evaluateDue() {
	defer f.notify()
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.alarms {
		if now.Before(a.nextDue) {
			continue
		}
		p := f.periodDuration(a.def.Period)
		// CloudWatch evaluates once a minute, or once a period for
		// shorter periods; a period is judged once it has ended.
		a.nextDue = now.Truncate(min(p, f.periodDuration(60))).Add(min(p, f.periodDuration(60)))
		f.evaluate(a, now)
	}
}

// evaluate evaluates a at now over its complete periods. The caller holds
// f.mu.
func (f *Fake) evaluate(a *alarm, now time.Time) {
	d := a.def
	rule := Rule{EvaluationPeriods: d.EvaluationPeriods, DatapointsToAlarm: d.DatapointsToAlarm, Threshold: *d.Threshold,
		ComparisonOperator: d.ComparisonOperator, TreatMissingData: d.TreatMissingData}
	p := f.periodDuration(d.Period)
	end := now.Truncate(p) // the last complete period ends here
	start := end.Add(-time.Duration(rule.EvaluationRange()) * p)
	stat := cmp.Or(d.Statistic, d.ExtendedStatistic)
	samples := make([]Sample, rule.EvaluationRange())
	if s := f.find(d.Namespace, d.MetricName, d.Dimensions); s != nil {
		for _, agg := range s.buckets(start, end, p, d.Unit) {
			if v, ok := agg.statistic(stat); ok {
				samples[int(agg.start.Sub(start)/p)] = &v
			}
		}
	}
	out := Evaluate(rule, samples, d.StateValue)
	reason, data, breaching := f.explain(d, rule, out, samples, start, p, now)
	f.transition(a, now, out.State, reason, data, breaching)
}

// explain words an evaluation as CloudWatch does ("Threshold Crossed: 2
// out of the last 3 datapoints [5.0 (03/12/26 07:10:00), …] were greater
// than or equal to the threshold (1.0) …"), with the StateReasonData JSON
// and the breaching datapoints as "TIME=VALUE".
func (f *Fake) explain(d metricAlarm, r Rule, out Outcome, samples []Sample, start time.Time, p time.Duration, now time.Time) (string, string, []string) {
	breaches := comparisons[d.ComparisonOperator]
	var shown, breaching []string
	var recent []float64
	var evaluated []map[string]any
	for _, i := range slices.Backward(out.Used) {
		v, t := *samples[i], start.Add(time.Duration(i)*p)
		shown = append(shown, fmt.Sprintf("%s (%s)", strconv.FormatFloat(v, 'f', -1, 64), t.Format("02/01/06 15:04:05")))
		recent = append(recent, v)
		evaluated = append(evaluated, map[string]any{"timestamp": t.Format(time.RFC3339Nano), "value": v})
		if breaches(v, r.Threshold) {
			breaching = append(breaching, t.Format(time.RFC3339Nano)+"="+strconv.FormatFloat(v, 'f', -1, 64))
		}
	}
	words := strings.ToLower(strings.Join(splitCamel(strings.TrimSuffix(d.ComparisonOperator, "Threshold")), " "))
	var reason string
	switch {
	case len(out.Used) == 0 && out.State == StateInsufficientData:
		reason = fmt.Sprintf("Insufficient Data: %d datapoints were unknown.", r.EvaluationPeriods)
	case len(out.Used) == 0:
		reason = fmt.Sprintf("no datapoints in the last %d periods; missing data treated as %s", r.EvaluationRange(), cmp.Or(d.TreatMissingData, TreatMissing))
	default:
		verb := "was not"
		if out.State == StateAlarm {
			verb = "was"
		}
		reason = fmt.Sprintf("Threshold Crossed: %d out of the last %d datapoints [%s] %s %s the threshold (%s) (minimum %d datapoints for OK -> ALARM transition).",
			out.Breaching, len(out.Used)+out.Filled, strings.Join(shown, ", "), verb, words,
			strconv.FormatFloat(r.Threshold, 'f', -1, 64), cmp.Or(r.DatapointsToAlarm, r.EvaluationPeriods))
	}
	data, _ := json.Marshal(map[string]any{
		"version": "1.0", "queryDate": now.UTC().Format(time.RFC3339Nano), "startDate": start.UTC().Format(time.RFC3339Nano),
		"statistic": cmp.Or(d.Statistic, d.ExtendedStatistic), "period": d.Period, "recentDatapoints": recent,
		"threshold": r.Threshold, "evaluatedDatapoints": evaluated,
	})
	return reason, string(data), breaching
}

// splitCamel splits "GreaterThanOrEqualTo" into its words.
func splitCamel(s string) []string {
	var words []string
	last := 0
	for i := 1; i < len(s); i++ {
		if s[i] >= 'A' && s[i] <= 'Z' {
			words = append(words, s[last:i])
			last = i
		}
	}
	return append(words, s[last:])
}

func (f *Fake) alarmByARN(arn string) (*alarm, error) {
	_, name, ok := strings.Cut(arn, ":alarm:")
	if !ok || !strings.HasPrefix(arn, "arn:aws:cloudwatch:") {
		return nil, awsproto.Errorf(http.StatusBadRequest, "InvalidParameterValueException", "%q is not a CloudWatch alarm ARN", arn)
	}
	a, found := f.alarms[name]
	if !found {
		return nil, awsproto.Errorf(http.StatusNotFound, "ResourceNotFoundException", "Alarm %s not found", name)
	}
	return a, nil
}

func (f *Fake) tagResource(_ string, decode func(any) error) (any, error) {
	var in struct {
		ResourceARN string `json:"ResourceARN"`
		Tags        []tag  `json:"Tags"`
	}
	if err := decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	a, err := f.alarmByARN(in.ResourceARN)
	if err != nil {
		return nil, err
	}
	for _, t := range in.Tags {
		a.tags[t.Key] = t.Value
	}
	return struct{}{}, nil
}

func (f *Fake) untagResource(_ string, decode func(any) error) (any, error) {
	var in struct {
		ResourceARN string   `json:"ResourceARN"`
		TagKeys     []string `json:"TagKeys"`
	}
	if err := decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	a, err := f.alarmByARN(in.ResourceARN)
	if err != nil {
		return nil, err
	}
	for _, k := range in.TagKeys {
		delete(a.tags, k)
	}
	return struct{}{}, nil
}

func (f *Fake) listTagsForResource(_ string, decode func(any) error) (any, error) {
	var in struct {
		ResourceARN string `json:"ResourceARN"`
	}
	if err := decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	a, err := f.alarmByARN(in.ResourceARN)
	if err != nil {
		return nil, err
	}
	tags := []tag{}
	for _, k := range slices.Sorted(maps.Keys(a.tags)) {
		tags = append(tags, tag{k, a.tags[k]})
	}
	return struct {
		Tags []tag `json:"Tags"`
	}{tags}, nil
}
