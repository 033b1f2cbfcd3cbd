package cloudwatch

import (
	"slices"
	"strings"
	"testing"
)

// samples parses "0 - X 0": 0 a datapoint within the threshold (value 0),
// X one breaching it (value 10), - a period without data; oldest first.
func samples(s string) []Sample {
	var out []Sample
	for _, f := range strings.Fields(s) {
		switch f {
		case "-":
			out = append(out, nil)
		case "X":
			v := 10.0
			out = append(out, &v)
		default:
			v := 0.0
			out = append(out, &v)
		}
	}
	return out
}

func TestEvaluate(t *testing.T) {
	// Threshold 5, GreaterThanThreshold: X breaches, 0 does not. The
	// evaluation range is N+2 periods.
	tests := []struct {
		name     string
		n, m     int
		data     string
		treat    string
		current  string
		want     string
		breached int
	}{
		// Enough real datapoints: the treatment does not matter.
		{"all real, all breaching", 3, 3, "0 0 X X X", TreatMissing, StateOK, StateAlarm, 3},
		{"all real, one short", 3, 3, "X X 0 X X", TreatBreaching, StateOK, StateOK, 2},
		{"M of N", 3, 2, "0 0 X 0 X", TreatNotBreaching, StateOK, StateAlarm, 2},
		{"gaps but N real in range", 3, 3, "X - X - X", TreatNotBreaching, StateOK, StateAlarm, 3},
		// Fewer than N real datapoints: the missing ones are filled in.
		{"missing: nothing at all", 3, 3, "- - - - -", TreatMissing, StateOK, StateInsufficientData, 0},
		{"ignore: nothing at all keeps ALARM", 3, 3, "- - - - -", TreatIgnore, StateAlarm, StateAlarm, 0},
		{"ignore: nothing at all keeps OK", 3, 3, "- - - - -", TreatIgnore, StateOK, StateOK, 0},
		{"breaching: nothing at all", 3, 3, "- - - - -", TreatBreaching, StateOK, StateAlarm, 3},
		{"notBreaching: nothing at all", 3, 3, "- - - - -", TreatNotBreaching, StateAlarm, StateOK, 0},
		{"missing: one good", 3, 3, "- - - - 0", TreatMissing, StateAlarm, StateOK, 0},
		{"missing: one bad is not 3", 3, 3, "- - - - X", TreatMissing, StateOK, StateOK, 1},
		{"missing: 1 of 1", 1, 1, "- - X", TreatMissing, StateOK, StateAlarm, 1},
		{"breaching: one bad fills to 3", 3, 3, "- - - - X", TreatBreaching, StateOK, StateAlarm, 3},
		{"breaching: one good stops it", 3, 3, "- - - 0 X", TreatBreaching, StateOK, StateOK, 2},
		{"notBreaching: two bad of 3", 3, 2, "- - - X X", TreatNotBreaching, StateOK, StateAlarm, 2},
		{"notBreaching: one bad of 2 needed", 3, 2, "- - - - X", TreatNotBreaching, StateOK, StateOK, 1},
		{"ignore: real data decides", 3, 2, "- - - X X", TreatIgnore, StateOK, StateAlarm, 2},
		{"default treatment is missing", 2, 2, "- - - -", "", StateOK, StateInsufficientData, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Rule{EvaluationPeriods: tt.n, DatapointsToAlarm: tt.m, Threshold: 5,
				ComparisonOperator: "GreaterThanThreshold", TreatMissingData: tt.treat}
			s := samples(tt.data)
			if len(s) != r.EvaluationRange() {
				t.Fatalf("test data has %d periods, the range is %d", len(s), r.EvaluationRange())
			}
			got := Evaluate(r, s, tt.current)
			if got.State != tt.want || got.Breaching != tt.breached {
				t.Errorf("Evaluate(%q, %s) = %s with %d breaching, want %s with %d", tt.data, tt.treat, got.State, got.Breaching, tt.want, tt.breached)
			}
			for _, i := range got.Used {
				if s[i] == nil {
					t.Errorf("Used holds period %d, which has no datapoint", i)
				}
			}
			if !slices.IsSorted(got.Used) {
				t.Errorf("Used = %v, want oldest first", got.Used)
			}
		})
	}
}

func TestComparisons(t *testing.T) {
	tests := []struct {
		op   string
		v    float64
		want bool
	}{
		{"GreaterThanOrEqualToThreshold", 5, true},
		{"GreaterThanOrEqualToThreshold", 4.9, false},
		{"GreaterThanThreshold", 5, false},
		{"GreaterThanThreshold", 5.1, true},
		{"LessThanThreshold", 5, false},
		{"LessThanThreshold", 4.9, true},
		{"LessThanOrEqualToThreshold", 5, true},
		{"LessThanOrEqualToThreshold", 5.1, false},
	}
	for _, tt := range tests {
		if got := comparisons[tt.op](tt.v, 5); got != tt.want {
			t.Errorf("%s(%v, 5) = %v, want %v", tt.op, tt.v, got, tt.want)
		}
	}
}

func TestWeightedPercentile(t *testing.T) {
	values := map[float64]float64{10: 90, 100: 9, 1000: 1}
	for _, tt := range []struct{ q, want float64 }{{50, 10}, {90, 10}, {91, 100}, {99, 100}, {99.5, 1000}, {100, 1000}, {0, 10}} {
		if got := weightedPercentile(values, 100, tt.q); got != tt.want {
			t.Errorf("p%v = %v, want %v", tt.q, got, tt.want)
		}
	}
}
