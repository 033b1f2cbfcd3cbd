package scenarios

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Alarm is a CloudWatch metric alarm a deployment watches, as ECS's
// deploymentConfiguration.alarms does: meshsim creates it with
// PutMetricAlarm on the traffic metrics it publishes for the rolled
// service (namespace AWS/ECS, dimensions ClusterName, ServiceName,
// DiscoveryName, and Version when Version is set), and an alarm in ALARM
// during the deployment or its bake time fails it.
type Alarm struct {
	Name string
	// Metric is one of AlarmMetrics.
	Metric string
	// Statistic is Sum, Average, Minimum, Maximum, SampleCount or a
	// percentile pNN (default Sum).
	Statistic string
	Threshold float64
	// Comparison is one of AlarmComparisons (default
	// GreaterThanOrEqualToThreshold).
	Comparison string
	// Period is the length of a datapoint (AWS time, default 1m): 10s, 20s,
	// 30s or whole minutes.
	Period time.Duration
	// EvaluationPeriods (default 1) and DatapointsToAlarm (default
	// EvaluationPeriods): M of N.
	EvaluationPeriods, DatapointsToAlarm int
	// TreatMissingData is one of AlarmMissingData (default missing, as
	// CloudWatch).
	TreatMissingData string
	// Version, when set, watches only the requests that version served.
	Version string
	Pos     Pos
}

// AlarmMetrics are the metrics meshsim publishes from its observations of
// the rolled service, with the units CloudWatch gives them (counts;
// TargetResponseTime in milliseconds).
var AlarmMetrics = []string{"RequestCount", "HTTPCode_Target_2XX_Count", "HTTPCode_Target_4XX_Count", "HTTPCode_Target_5XX_Count", "TargetResponseTime"}

// AlarmComparisons are CloudWatch's static-threshold comparisons.
var AlarmComparisons = []string{"GreaterThanOrEqualToThreshold", "GreaterThanThreshold", "LessThanThreshold", "LessThanOrEqualToThreshold"}

// AlarmMissingData are CloudWatch's treatments of missing data.
var AlarmMissingData = []string{"missing", "ignore", "breaching", "notBreaching"}

var alarmStatistics = []string{"Sum", "Average", "Minimum", "Maximum", "SampleCount"}

func (d *decoder) alarm(n *yaml.Node) Alarm {
	a := Alarm{Pos: d.pos(n)}
	d.fields(n, "an alarm", map[string]func(*yaml.Node){
		"name":   func(v *yaml.Node) { d.label(v, "alarms[].name", 255, &a.Name) },
		"metric": func(v *yaml.Node) { d.oneOf(v, "alarms[].metric", AlarmMetrics, &a.Metric) },
		"statistic": func(v *yaml.Node) {
			d.str(v, "alarms[].statistic", &a.Statistic)
			if !validAlarmStatistic(a.Statistic) {
				d.errorf(v, "alarms[].statistic: %q is not %s or a percentile pNN", a.Statistic, strings.Join(alarmStatistics, ", "))
			}
		},
		"threshold":         func(v *yaml.Node) { d.float(v, "alarms[].threshold", -1e12, 1e12, &a.Threshold) },
		"comparison":        func(v *yaml.Node) { d.oneOf(v, "alarms[].comparison", AlarmComparisons, &a.Comparison) },
		"period":            func(v *yaml.Node) { d.duration(v, "alarms[].period", &a.Period) },
		"evaluationPeriods": func(v *yaml.Node) { d.integer(v, "alarms[].evaluationPeriods", 1, 100, &a.EvaluationPeriods) },
		"datapointsToAlarm": func(v *yaml.Node) { d.integer(v, "alarms[].datapointsToAlarm", 1, 100, &a.DatapointsToAlarm) },
		"treatMissingData":  func(v *yaml.Node) { d.oneOf(v, "alarms[].treatMissingData", AlarmMissingData, &a.TreatMissingData) },
		"version":           func(v *yaml.Node) { d.versionName(v, &a.Version) },
	})
	return a
}

func validAlarmStatistic(s string) bool {
	if p, ok := strings.CutPrefix(s, "p"); ok {
		q, err := strconv.ParseFloat(p, 64)
		return err == nil && q >= 0 && q <= 100
	}
	return slices.Contains(alarmStatistics, s)
}

// alarmDefaults fills in CloudWatch's defaults of an alarm.
func alarmDefaults(a *Alarm) {
	setDefault(&a.Statistic, "Sum")
	setDefault(&a.Comparison, AlarmComparisons[0])
	setDefault(&a.Period, time.Minute)
	setDefault(&a.EvaluationPeriods, 1)
	setDefault(&a.DatapointsToAlarm, a.EvaluationPeriods)
	setDefault(&a.TreatMissingData, "missing")
}

// alarms checks the alarms of deployment i (where names it).
func (v *validator) alarms(where string, dep *Deployment, seen map[string]string) {
	for j, a := range dep.Alarms {
		at := fmt.Sprintf("%s.alarms[%d]", where, j)
		switch {
		case a.Name == "":
			v.at(a.Pos, "%s.name is required: the CloudWatch alarm's name", at)
		case a.Metric == "":
			v.at(a.Pos, "%s.metric is required (%s)", at, strings.Join(AlarmMetrics, ", "))
		case a.DatapointsToAlarm > a.EvaluationPeriods:
			v.at(a.Pos, "%s.datapointsToAlarm (%d) is more than evaluationPeriods (%d): the alarm could never fire", at, a.DatapointsToAlarm, a.EvaluationPeriods)
		case !validAlarmPeriod(a.Period):
			v.at(a.Pos, "%s.period is %s: CloudWatch takes 10s, 20s, 30s or whole minutes", at, a.Period)
		case a.Version != "" && v.rolled != nil && !slices.Contains(v.rolled.VersionNames(), a.Version):
			v.at(a.Pos, "%s.version: %q is not a version of service %q (versions: %s)", at, a.Version, v.rolled.Name, strings.Join(v.rolled.VersionNames(), ", "))
		}
		if other, ok := seen[a.Name]; ok && a.Name != "" {
			v.at(a.Pos, "%s.name %q is also the name of %s: one CloudWatch alarm per name", at, a.Name, other)
		}
		seen[a.Name] = at
	}
}

func validAlarmPeriod(p time.Duration) bool {
	return p == 10*time.Second || p == 20*time.Second || p == 30*time.Second || p > 0 && p%time.Minute == 0
}

// alarmSchema is an alarm's JSON Schema (see JSONSchema).
func alarmSchema() map[string]any {
	return object("A CloudWatch metric alarm on the rolled service's traffic", map[string]any{
		"name":              str("The alarm's name"),
		"metric":            enumOf("The metric watched (namespace AWS/ECS)", AlarmMetrics),
		"statistic":         pattern("Sum, Average, Minimum, Maximum, SampleCount or a percentile pNN", `^(Sum|Average|Minimum|Maximum|SampleCount|p\d+(\.\d+)?)$`),
		"threshold":         number("The threshold", -1e12, 1e12),
		"comparison":        enumOf("How the statistic is compared with the threshold", AlarmComparisons),
		"period":            duration("A datapoint's period (AWS time): 10s, 20s, 30s or whole minutes"),
		"evaluationPeriods": integer("N: the datapoints evaluated", 1, 100),
		"datapointsToAlarm": integer("M: the breaching datapoints that fire it", 1, 100),
		"treatMissingData":  enumOf("How missing datapoints count", AlarmMissingData),
		"version":           pattern("Watch only this version's requests", validName.String()),
	}, "name", "metric", "threshold")
}
