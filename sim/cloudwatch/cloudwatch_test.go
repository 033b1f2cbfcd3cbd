package cloudwatch_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go"

	"github.com/meshsim/meshsim/sim/awsclient"
	fake "github.com/meshsim/meshsim/sim/cloudwatch"
	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/events"
)

// roundTripper serves the SDK's requests from the handler in memory, so a
// test can run inside a synctest bubble.
type roundTripper struct{ h http.Handler }

func (rt roundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	rt.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// client returns a real aws-sdk-go-v2 CloudWatch client whose requests
// reach f.
func client(f *fake.Fake) *cloudwatch.Client {
	cfg := awsclient.Config("http://cloudwatch.test", "eu-west-1")
	cfg.HTTPClient = &http.Client{Transport: roundTripper{f}}
	cfg.RetryMaxAttempts = 1
	return cloudwatch.NewFromConfig(cfg)
}

func TestMetricsRoundTrip(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := fake.New(fake.Options{})
		cw := client(f)
		ctx := context.Background()
		start := time.Now().Truncate(time.Minute)
		dims := []types.Dimension{{Name: aws.String("ServiceName"), Value: aws.String("movie")}}
		// Minute 0: values 1..100 (one each); minute 1: a statistic set.
		values := make([]float64, 100)
		for i := range values {
			values[i] = float64(i + 1)
		}
		_, err := cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String("Shop"), MetricData: []types.MetricDatum{
			{MetricName: aws.String("Latency"), Dimensions: dims, Timestamp: aws.Time(start.Add(10 * time.Second)), Values: values, Unit: types.StandardUnitMilliseconds},
			{MetricName: aws.String("Latency"), Dimensions: dims, Timestamp: aws.Time(start.Add(70 * time.Second)), Unit: types.StandardUnitMilliseconds,
				StatisticValues: &types.StatisticSet{SampleCount: aws.Float64(4), Sum: aws.Float64(40), Minimum: aws.Float64(5), Maximum: aws.Float64(15)}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		out, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{
			Namespace: aws.String("Shop"), MetricName: aws.String("Latency"), Dimensions: dims,
			StartTime: aws.Time(start), EndTime: aws.Time(start.Add(2 * time.Minute)), Period: aws.Int32(60),
			Statistics:         []types.Statistic{types.StatisticSum, types.StatisticAverage, types.StatisticSampleCount, types.StatisticMaximum},
			ExtendedStatistics: []string{"p99"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Datapoints) != 2 {
			t.Fatalf("got %d datapoints, want 2: %+v", len(out.Datapoints), out.Datapoints)
		}
		slices.SortFunc(out.Datapoints, func(a, b types.Datapoint) int { return a.Timestamp.Compare(*b.Timestamp) })
		first, second := out.Datapoints[0], out.Datapoints[1]
		if !first.Timestamp.Equal(start) || *first.Sum != 5050 || *first.Average != 50.5 || *first.SampleCount != 100 || *first.Maximum != 100 ||
			first.ExtendedStatistics["p99"] != 99 || first.Unit != types.StandardUnitMilliseconds {
			t.Errorf("first minute = %+v (p99 %v), want sum 5050, avg 50.5, n 100, max 100, p99 99", first, first.ExtendedStatistics)
		}
		if *second.Sum != 40 || *second.Average != 10 || *second.Maximum != 15 {
			t.Errorf("second minute = sum %v avg %v max %v, want 40, 10, 15", *second.Sum, *second.Average, *second.Maximum)
		}
		if _, ok := second.ExtendedStatistics["p99"]; ok {
			t.Errorf("a statistic set has no percentiles, got %v", second.ExtendedStatistics)
		}

		data, err := cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{StartTime: aws.Time(start), EndTime: aws.Time(start.Add(2 * time.Minute)),
			ScanBy: types.ScanByTimestampAscending,
			MetricDataQueries: []types.MetricDataQuery{{Id: aws.String("m1"), MetricStat: &types.MetricStat{
				Metric: &types.Metric{Namespace: aws.String("Shop"), MetricName: aws.String("Latency"), Dimensions: dims}, Period: aws.Int32(60), Stat: aws.String("Maximum")}}}})
		if err != nil {
			t.Fatal(err)
		}
		if r := data.MetricDataResults; len(r) != 1 || !slices.Equal(r[0].Values, []float64{100, 15}) || r[0].StatusCode != types.StatusCodeComplete || !r[0].Timestamps[1].Equal(start.Add(time.Minute)) {
			t.Errorf("GetMetricData = %+v, want Maximum 100 then 15", r)
		}

		list, err := cw.ListMetrics(ctx, &cloudwatch.ListMetricsInput{Namespace: aws.String("Shop"),
			Dimensions: []types.DimensionFilter{{Name: aws.String("ServiceName")}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Metrics) != 1 || *list.Metrics[0].MetricName != "Latency" || *list.Metrics[0].Dimensions[0].Value != "movie" {
			t.Errorf("ListMetrics = %+v", list.Metrics)
		}
	})
}

func TestErrors(t *testing.T) {
	f := fake.New(fake.Options{})
	cw := client(f)
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
		code string
		as   any
	}{
		{"AWS namespaces are AWS's", func() error {
			_, err := cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String("AWS/ECS"),
				MetricData: []types.MetricDatum{{MetricName: aws.String("x"), Value: aws.Float64(1)}}})
			return err
		}, "InvalidParameterValue", new(*types.InvalidParameterValueException)},
		{"value and values", func() error {
			_, err := cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String("Shop"),
				MetricData: []types.MetricDatum{{MetricName: aws.String("x"), Value: aws.Float64(1), Values: []float64{1}}}})
			return err
		}, "InvalidParameterCombination", new(*types.InvalidParameterCombinationException)},
		{"no statistics", func() error {
			_, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("Shop"), MetricName: aws.String("x"),
				StartTime: aws.Time(time.Now().Add(-time.Hour)), EndTime: aws.Time(time.Now()), Period: aws.Int32(60)})
			return err
		}, "InvalidParameterCombination", new(*types.InvalidParameterCombinationException)},
		{"period of 45 s", func() error {
			_, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("Shop"), MetricName: aws.String("x"),
				StartTime: aws.Time(time.Now().Add(-time.Hour)), EndTime: aws.Time(time.Now()), Period: aws.Int32(45), Statistics: []types.Statistic{types.StatisticSum}})
			return err
		}, "InvalidParameterValue", new(*types.InvalidParameterValueException)},
		{"too many datapoints", func() error {
			_, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("Shop"), MetricName: aws.String("x"),
				StartTime: aws.Time(time.Now().Add(-48 * time.Hour)), EndTime: aws.Time(time.Now()), Period: aws.Int32(60), Statistics: []types.Statistic{types.StatisticSum}})
			return err
		}, "InvalidParameterCombination", new(*types.InvalidParameterCombinationException)},
		{"unknown alarm state", func() error {
			_, err := cw.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String("nope"), StateValue: types.StateValueAlarm, StateReason: aws.String("test")})
			return err
		}, "ResourceNotFound", new(*types.ResourceNotFound)},
		{"delete unknown alarm", func() error {
			_, err := cw.DeleteAlarms(ctx, &cloudwatch.DeleteAlarmsInput{AlarmNames: []string{"nope"}})
			return err
		}, "ResourceNotFound", new(*types.ResourceNotFound)},
		{"bad comparison", func() error {
			_, err := cw.PutMetricAlarm(ctx, alarmInput("a", "BiggerThan", 1))
			return err
		}, "ValidationError", nil},
		{"bad next token", func() error {
			_, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{NextToken: aws.String("zzz")})
			return err
		}, "InvalidNextToken", new(*types.InvalidNextToken)},
		{"tags of an unknown alarm", func() error {
			_, err := cw.ListTagsForResource(ctx, &cloudwatch.ListTagsForResourceInput{ResourceARN: aws.String("arn:aws:cloudwatch:eu-west-1:000000000000:alarm:nope")})
			return err
		}, "ResourceNotFoundException", new(*types.ResourceNotFoundException)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var api smithy.APIError
			if !errors.As(err, &api) || api.ErrorCode() != tt.code {
				t.Fatalf("err = %v, want code %s", err, tt.code)
			}
			if tt.as != nil && !errors.As(err, tt.as) {
				t.Errorf("err = %T, want %T", err, tt.as)
			}
		})
	}
}

func alarmInput(name, op string, threshold float64) *cloudwatch.PutMetricAlarmInput {
	return &cloudwatch.PutMetricAlarmInput{
		AlarmName: aws.String(name), AlarmDescription: aws.String("5xx during deployments"),
		Namespace: aws.String(contract.NamespaceECS), MetricName: aws.String("HTTPCode_Target_5XX_Count"),
		Dimensions: []types.Dimension{{Name: aws.String(contract.DimensionService), Value: aws.String("movie")}},
		Statistic:  types.StatisticSum, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(2), DatapointsToAlarm: aws.Int32(1),
		Threshold: aws.Float64(threshold), ComparisonOperator: types.ComparisonOperator(op), TreatMissingData: aws.String("notBreaching"),
		AlarmActions: []string{"arn:aws:sns:eu-west-1:000000000000:pager"},
		Tags:         []types.Tag{{Key: aws.String("team"), Value: aws.String("movies")}},
	}
}

func TestAlarmLifecycle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := events.NewBus(0)
		var told []string                                              // what OnStateChange was told
		f := fake.New(fake.Options{Bus: bus, Second: time.Second / 60, // time scale 60: a period of 60 s lasts 1 s
			OnStateChange: func(alarm, state string) { told = append(told, alarm+"="+state) }})
		cw := client(f)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { f.Run(ctx); close(done) }()
		defer func() { cancel(); <-done }()
		sub := bus.Subscribe(ctx, 0)

		in := alarmInput("movie-5xx", "GreaterThanOrEqualToThreshold", 3)
		if _, err := cw.PutMetricAlarm(ctx, in); err != nil {
			t.Fatal(err)
		}
		checkDescribed(t, cw, in)

		// Nothing published: notBreaching puts it in OK after a period.
		time.Sleep(1500 * time.Millisecond)
		if s := state(t, cw, "movie-5xx"); s != types.StateValueOk {
			t.Fatalf("without data the alarm is %s, want OK (missing data not breaching)", s)
		}
		// 5 errors a second: the next complete period breaches.
		for range 3 {
			err := f.Publish(contract.NamespaceECS, []fake.Datum{{MetricName: "HTTPCode_Target_5XX_Count",
				Dimensions: []fake.Dimension{{Name: contract.DimensionService, Value: "movie"}}, Value: aws.Float64(5)}})
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second)
		}
		if s := state(t, cw, "movie-5xx"); s != types.StateValueAlarm {
			t.Fatalf("after 5 errors a period the alarm is %s, want ALARM", s)
		}
		if s, ok := f.AlarmState("movie-5xx"); !ok || s != fake.StateAlarm {
			t.Errorf("AlarmState = %s, %v", s, ok)
		}
		if want := []string{"movie-5xx=OK", "movie-5xx=ALARM"}; !slices.Equal(told, want) {
			t.Errorf("OnStateChange was told %v, want %v", told, want)
		}
		checkBreach(t, cw, sub)

		// SetAlarmState sets it until the next evaluation.
		if _, err := cw.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String("movie-5xx"), StateValue: types.StateValueOk, StateReason: aws.String("testing")}); err != nil {
			t.Fatal(err)
		}
		if s := state(t, cw, "movie-5xx"); s != types.StateValueOk {
			t.Errorf("after SetAlarmState OK it is %s", s)
		}
		if _, err := cw.DeleteAlarms(ctx, &cloudwatch.DeleteAlarmsInput{AlarmNames: []string{"movie-5xx"}}); err != nil {
			t.Fatal(err)
		}
		if _, ok := f.AlarmState("movie-5xx"); ok {
			t.Error("the alarm is still there after DeleteAlarms")
		}
	})
}

// checkDescribed checks that DescribeAlarms gives back every field
// PutMetricAlarm set, in the alarm's first state, and its tags.
func checkDescribed(t *testing.T, cw *cloudwatch.Client, in *cloudwatch.PutMetricAlarmInput) {
	t.Helper()
	ctx := context.Background()
	got, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"movie-5xx"}})
	if err != nil {
		t.Fatal(err)
	}
	a := got.MetricAlarms[0]
	if a.StateValue != types.StateValueInsufficientData || *a.AlarmArn != "arn:aws:cloudwatch:eu-west-1:000000000000:alarm:movie-5xx" ||
		*a.AlarmDescription != *in.AlarmDescription || *a.Threshold != 3 || *a.EvaluationPeriods != 2 || *a.DatapointsToAlarm != 1 ||
		a.ComparisonOperator != in.ComparisonOperator || *a.TreatMissingData != "notBreaching" || a.Statistic != types.StatisticSum ||
		*a.Period != 60 || *a.Dimensions[0].Value != "movie" || a.AlarmActions[0] != in.AlarmActions[0] || !*a.ActionsEnabled {
		t.Fatalf("DescribeAlarms = %+v, want every field PutMetricAlarm set", a)
	}
	tags, err := cw.ListTagsForResource(ctx, &cloudwatch.ListTagsForResourceInput{ResourceARN: a.AlarmArn})
	if err != nil || len(tags.Tags) != 1 || *tags.Tags[0].Value != "movies" {
		t.Fatalf("tags = %+v, %v", tags, err)
	}
}

// checkBreach checks the events and the history of the alarm's change to
// ALARM: the breaching datapoints and CloudWatch's wording.
func checkBreach(t *testing.T, cw *cloudwatch.Client, sub <-chan events.Event) {
	t.Helper()
	ctx := context.Background()
	var changes []events.Event
	for len(changes) < 2 {
		e := <-sub
		if e.Type == contract.EventAlarmState {
			changes = append(changes, e)
		}
	}
	if d := changes[1].Detail; d[contract.DetailTo] != fake.StateAlarm || !strings.Contains(d[contract.DetailDatapoints], "=5") ||
		!strings.HasPrefix(d[contract.DetailReason], "Threshold Crossed: 1 out of the last 2 datapoints [") {
		t.Errorf("alarm event = %+v", changes[1])
	}
	hist, err := cw.DescribeAlarmHistory(ctx, &cloudwatch.DescribeAlarmHistoryInput{AlarmName: aws.String("movie-5xx"), HistoryItemType: types.HistoryItemTypeStateUpdate})
	if err != nil {
		t.Fatal(err)
	}
	if len(hist.AlarmHistoryItems) != 2 || *hist.AlarmHistoryItems[0].HistorySummary != "Alarm updated from OK to ALARM" {
		t.Fatalf("history = %+v", hist.AlarmHistoryItems)
	}
	var data struct {
		NewState struct {
			StateReasonData struct {
				RecentDatapoints []float64 `json:"recentDatapoints"`
			} `json:"stateReasonData"`
		} `json:"newState"`
	}
	if err := json.Unmarshal([]byte(*hist.AlarmHistoryItems[0].HistoryData), &data); err != nil || !slices.Contains(data.NewState.StateReasonData.RecentDatapoints, 5) {
		t.Errorf("HistoryData = %s (%v)", *hist.AlarmHistoryItems[0].HistoryData, err)
	}
}

func state(t *testing.T, cw *cloudwatch.Client, name string) types.StateValue {
	t.Helper()
	out, err := cw.DescribeAlarms(context.Background(), &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{name}})
	if err != nil || len(out.MetricAlarms) != 1 {
		t.Fatalf("DescribeAlarms(%s) = %+v, %v", name, out, err)
	}
	return out.MetricAlarms[0].StateValue
}

// TestAWSCLI checks that the AWS CLI (botocore's RPC v2 CBOR parser) reads
// the fake's answers.
func TestAWSCLI(t *testing.T) {
	aws, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("the AWS CLI is not installed: `aws` is not on PATH")
	}
	f := fake.New(fake.Options{})
	srv := httptest.NewServer(f)
	defer srv.Close()
	if _, err := client(f).PutMetricAlarm(context.Background(), alarmInput("cli-alarm", "GreaterThanThreshold", 2)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, aws, "cloudwatch", "describe-alarms", "--endpoint-url", srv.URL, "--output", "json")
	cmd.Env = append(cmd.Environ(), "AWS_ACCESS_KEY_ID=meshsim", "AWS_SECRET_ACCESS_KEY=meshsim", "AWS_DEFAULT_REGION=eu-west-1", "AWS_PAGER=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("aws cloudwatch describe-alarms: %v\n%s", err, out)
	}
	var got struct {
		MetricAlarms []struct {
			AlarmName  string
			StateValue string
			Threshold  float64
		}
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("the CLI printed %s: %v", out, err)
	}
	if len(got.MetricAlarms) != 1 || got.MetricAlarms[0].AlarmName != "cli-alarm" || got.MetricAlarms[0].StateValue != "INSUFFICIENT_DATA" || got.MetricAlarms[0].Threshold != 2 {
		t.Errorf("the CLI read %+v", got)
	}
}

// DescribeAlarms pages by MaxRecords with the SDK's paginator, in name
// order, and resumes where it should when an alarm goes between pages.
func TestDescribeAlarmsPages(t *testing.T) {
	f := fake.New(fake.Options{})
	cw := client(f)
	ctx := context.Background()
	for _, n := range []string{"c", "a", "d", "b"} {
		if _, err := cw.PutMetricAlarm(ctx, alarmInput(n, "GreaterThanThreshold", 1)); err != nil {
			t.Fatal(err)
		}
	}
	first, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{MaxRecords: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cw.DeleteAlarms(ctx, &cloudwatch.DeleteAlarmsInput{AlarmNames: []string{"c"}}); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range first.MetricAlarms {
		names = append(names, *a.AlarmName)
	}
	p := cloudwatch.NewDescribeAlarmsPaginator(cw, &cloudwatch.DescribeAlarmsInput{MaxRecords: aws.Int32(2), NextToken: first.NextToken})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range page.MetricAlarms {
			names = append(names, *a.AlarmName)
		}
	}
	if !slices.Equal(names, []string{"a", "b", "d"}) {
		t.Errorf("pages gave %v, want a, b, then d (c deleted between pages)", names)
	}
	if _, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{MaxRecords: aws.Int32(101)}); err == nil {
		t.Error("MaxRecords 101 was accepted")
	}
}
