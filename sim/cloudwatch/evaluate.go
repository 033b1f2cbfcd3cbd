package cloudwatch

// Alarm states.
const (
	StateOK               = "OK"
	StateAlarm            = "ALARM"
	StateInsufficientData = "INSUFFICIENT_DATA"
)

// Missing-data treatments.
const (
	TreatMissing      = "missing"
	TreatIgnore       = "ignore"
	TreatBreaching    = "breaching"
	TreatNotBreaching = "notBreaching"
)

var comparisons = map[string]func(v, threshold float64) bool{
	"GreaterThanOrEqualToThreshold": func(v, t float64) bool { return v >= t },
	"GreaterThanThreshold":          func(v, t float64) bool { return v > t },
	"LessThanThreshold":             func(v, t float64) bool { return v < t },
	"LessThanOrEqualToThreshold":    func(v, t float64) bool { return v <= t },
}

// Rule is what decides a metric alarm's state from its datapoints.
type Rule struct {
	// EvaluationPeriods (N) and DatapointsToAlarm (M): M of the last N
	// datapoints breaching put the alarm in ALARM.
	EvaluationPeriods, DatapointsToAlarm int
	Threshold                            float64
	// ComparisonOperator is one of GreaterThanOrEqualToThreshold,
	// GreaterThanThreshold, LessThanThreshold, LessThanOrEqualToThreshold.
	ComparisonOperator string
	// TreatMissingData is missing (the default), ignore, breaching or
	// notBreaching.
	TreatMissingData string
}

// EvaluationRange is how many periods back an evaluation looks for
// datapoints: CloudWatch retrieves "a higher number of data points than
// the number specified as Evaluation Periods"; meshsim looks two further.
func (r Rule) EvaluationRange() int { return r.EvaluationPeriods + 2 }

// Sample is one period's datapoint, nil when the period has none.
type Sample *float64

// Outcome is an evaluation's result: the state, and the datapoints it
// used (newest last) with which of them breached.
type Outcome struct {
	State string
	// Used are the indexes into the samples of the real datapoints the
	// evaluation counted; Breaching how many of all it counted (real and
	// filled in) breached; Filled how many missing ones it filled in.
	Used      []int
	Breaching int
	Filled    int
}

// Evaluate decides an alarm's state from the samples of its evaluation
// range (oldest first, one per period, nil for a period without data),
// as CloudWatch documents it:
//   - when the range holds at least N real datapoints, the most recent N
//     real ones are evaluated and the missing-data treatment is not used;
//   - otherwise every real datapoint in the range is evaluated, and the
//     missing ones up to N are filled in by the treatment: breaching and
//     notBreaching count as such; missing and ignore count as nothing,
//     and when there is no real datapoint at all the alarm goes to
//     INSUFFICIENT_DATA (missing) or keeps its state (ignore);
//   - M or more breaching datapoints put the alarm in ALARM, else OK.
func Evaluate(r Rule, samples []Sample, current string) Outcome {
	breaches := comparisons[r.ComparisonOperator]
	n := r.EvaluationPeriods
	m := r.DatapointsToAlarm
	if m <= 0 {
		m = n
	}
	var real []int
	for i := len(samples) - 1; i >= 0 && len(real) < n; i-- {
		if samples[i] != nil {
			real = append(real, i)
		}
	}
	out := Outcome{Used: reversed(real)}
	for _, i := range real {
		if breaches(*samples[i], r.Threshold) {
			out.Breaching++
		}
	}
	if missing := n - len(real); missing > 0 {
		out.Filled = missing
		switch r.TreatMissingData {
		case TreatBreaching:
			out.Breaching += missing
		case TreatNotBreaching:
		case TreatIgnore:
			if len(real) == 0 {
				out.State = current
				return out
			}
		default: // missing
			if len(real) == 0 {
				out.State = StateInsufficientData
				return out
			}
		}
	}
	out.State = StateOK
	if out.Breaching >= m {
		out.State = StateAlarm
	}
	return out
}

func reversed(s []int) []int {
	out := make([]int, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}
