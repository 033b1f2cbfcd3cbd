package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/scenarios"
	"github.com/meshsim/meshsim/sim/contract"
)

// publishEvery is how often the engine publishes its observations to
// CloudWatch: often enough that an alarm period of 60 s at time scale 60
// (one real second) gets several datapoints.
const publishEvery = 250 * time.Millisecond

// publisher turns the load's observations of the measured service into
// the traffic metrics AWS publishes for it (namespace AWS/ECS, dimensions
// ClusterName, ServiceName, DiscoveryName, as Service Connect's), once for
// the service and once per version (meshsim's own Version dimension), and
// posts them to the CloudWatch fake, where alarms watch them.
type publisher struct {
	endpoint string
	dims     []metricDimension

	mu     sync.Mutex
	counts map[string]*trafficCounts // by version; "" is the whole service
}

type metricDimension struct {
	Name  string `json:"Name"`
	Value string `json:"Value"`
}

// trafficCounts are one publishing interval's observations.
type trafficCounts struct {
	requests, xx2, xx4, xx5 float64
	latencyMs               map[float64]float64 // rounded value → count
}

func newPublisher(endpoint, cluster, service string) *publisher {
	return &publisher{
		endpoint: strings.TrimRight(endpoint, "/"),
		dims: []metricDimension{
			{contract.DimensionCluster, cluster}, {contract.DimensionService, service}, {contract.DimensionDiscoveryName, service},
		},
		counts: map[string]*trafficCounts{},
	}
}

// add counts one observation: an HTTP request or a gRPC call that ended.
// A request with no response counts as a 5XX, as the proxy in front of the
// service would have answered it 503.
func (p *publisher) add(o *rundir.Observation) {
	if p == nil || (o.Kind != rundir.KindHTTP && o.Kind != rundir.KindGRPCUnary) || o.ErrorKind == "canceled" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counted("").add(o)
	if o.Version != "" {
		p.counted(o.Version).add(o)
	}
}

// counted returns the counts of version, "" for the whole service. The
// caller holds p.mu.
func (p *publisher) counted(version string) *trafficCounts {
	c := p.counts[version]
	if c == nil {
		c = &trafficCounts{latencyMs: map[float64]float64{}}
		p.counts[version] = c
	}
	return c
}

func (c *trafficCounts) add(o *rundir.Observation) {
	c.requests++
	switch {
	case o.Kind == rundir.KindGRPCUnary && o.GRPCCode == "OK", o.Status >= 200 && o.Status < 300:
		c.xx2++
	case o.Status >= 400 && o.Status < 500:
		c.xx4++
	default:
		c.xx5++
	}
	c.latencyMs[roundSignificant(float64(o.Latency)/float64(time.Millisecond), 2)]++
}

// roundSignificant rounds v to n significant digits, so that an interval's
// latencies fit CloudWatch's 150 distinct values per datum.
func roundSignificant(v float64, n int) float64 {
	if v <= 0 {
		return 0
	}
	scale := math.Pow(10, float64(n)-math.Ceil(math.Log10(v)))
	return math.Round(v*scale) / scale
}

// run publishes every publishEvery until ctx ends, then once more.
func (p *publisher) run(ctx context.Context, onError func(error)) {
	t := time.NewTicker(publishEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := p.flush(context.WithoutCancel(ctx)); err != nil {
				onError(err)
			}
			return
		case <-t.C:
			if err := p.flush(ctx); err != nil {
				onError(err)
			}
		}
	}
}

type metricDatum struct {
	MetricName string            `json:"MetricName"`
	Dimensions []metricDimension `json:"Dimensions"`
	Timestamp  float64           `json:"Timestamp"`
	Value      *float64          `json:"Value,omitempty"`
	Values     []float64         `json:"Values,omitempty"`
	Counts     []float64         `json:"Counts,omitempty"`
	Unit       string            `json:"Unit"`
}

// flush posts what was counted since the last flush.
func (p *publisher) flush(ctx context.Context) error {
	p.mu.Lock()
	counts := p.counts
	p.counts = map[string]*trafficCounts{}
	p.mu.Unlock()
	if len(counts) == 0 {
		return nil
	}
	now := float64(time.Now().UnixMilli()) / 1e3
	var data []metricDatum
	for _, v := range sortedKeys(counts) {
		dims := p.dims
		if v != "" {
			dims = append(slices.Clone(p.dims), metricDimension{contract.DimensionVersion, v})
		}
		data = append(data, counts[v].data(dims, now)...)
	}
	body, err := json.Marshal(map[string]any{"Namespace": contract.NamespaceECS, "MetricData": data})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.endpoint+contract.CloudWatchPublishPath, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("publishing metrics to CloudWatch: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("publishing metrics to CloudWatch: %s", resp.Status)
	}
	return nil
}

// data is c as CloudWatch datums with dims at time now (epoch seconds).
func (c *trafficCounts) data(dims []metricDimension, now float64) []metricDatum {
	count := func(name string, v float64) metricDatum {
		return metricDatum{MetricName: name, Dimensions: dims, Timestamp: now, Value: aws.Float64(v), Unit: "Count"}
	}
	out := []metricDatum{
		count("RequestCount", c.requests), count("HTTPCode_Target_2XX_Count", c.xx2),
		count("HTTPCode_Target_4XX_Count", c.xx4), count("HTTPCode_Target_5XX_Count", c.xx5),
	}
	values := make([]float64, 0, len(c.latencyMs))
	for v := range c.latencyMs {
		values = append(values, v)
	}
	slices.Sort(values)
	for chunk := range slices.Chunk(values, 150) {
		counts := make([]float64, len(chunk))
		for i, v := range chunk {
			counts[i] = c.latencyMs[v]
		}
		out = append(out, metricDatum{MetricName: "TargetResponseTime", Dimensions: dims, Timestamp: now, Values: chunk, Counts: counts, Unit: "Milliseconds"})
	}
	return out
}

// startPublishing publishes the measured service's traffic to CloudWatch
// until the returned stop is called (after the load has stopped).
func (r *runner) startPublishing(wld *world) (stop func()) {
	service := r.sc.Load.Measure
	if svc, ok := r.sc.Service(service); ok && len(r.sc.Rollout.Deployments) > 0 {
		service = wld.unitFor(svc).name
	}
	p := newPublisher(r.opts.Endpoint, r.sc.Cluster, service)
	r.obs.mu.Lock()
	r.obs.pub = p
	r.obs.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var reported sync.Once
	go func() {
		defer close(done)
		p.run(ctx, func(err error) {
			// Once is enough: the fakes' endpoint is down or refuses.
			reported.Do(func() {
				r.engineEvent(contract.EventPublishError, "", map[string]string{contract.DetailError: err.Error()})
			})
		})
	}()
	return func() {
		cancel()
		<-done
	}
}

// putAlarms creates the deployment's alarms on the metrics the publisher
// publishes for service, and returns the deployment configuration's
// alarms member.
func putAlarms(ctx context.Context, cw *cloudwatch.Client, cluster, service string, dep scenarios.Deployment) (*ecstypes.DeploymentAlarms, error) {
	if len(dep.Alarms) == 0 {
		return nil, nil
	}
	names := make([]string, 0, len(dep.Alarms))
	for _, a := range dep.Alarms {
		dims := []cwtypes.Dimension{
			{Name: aws.String(contract.DimensionCluster), Value: aws.String(cluster)},
			{Name: aws.String(contract.DimensionService), Value: aws.String(service)},
			{Name: aws.String(contract.DimensionDiscoveryName), Value: aws.String(service)},
		}
		if a.Version != "" {
			dims = append(dims, cwtypes.Dimension{Name: aws.String(contract.DimensionVersion), Value: aws.String(a.Version)})
		}
		in := &cloudwatch.PutMetricAlarmInput{
			AlarmName: aws.String(a.Name), Namespace: aws.String(contract.NamespaceECS), MetricName: aws.String(a.Metric),
			Dimensions: dims, Period: aws.Int32(int32(a.Period / time.Second)), EvaluationPeriods: aws.Int32(int32(a.EvaluationPeriods)),
			DatapointsToAlarm: aws.Int32(int32(a.DatapointsToAlarm)), Threshold: aws.Float64(a.Threshold),
			ComparisonOperator: cwtypes.ComparisonOperator(a.Comparison), TreatMissingData: aws.String(a.TreatMissingData),
			AlarmDescription: aws.String(fmt.Sprintf("meshsim: deployment %q of %s watches it", dep.Name, service)),
		}
		if strings.HasPrefix(a.Statistic, "p") {
			in.ExtendedStatistic = aws.String(a.Statistic)
		} else {
			in.Statistic = cwtypes.Statistic(a.Statistic)
		}
		if _, err := cw.PutMetricAlarm(ctx, in); err != nil {
			return nil, fmt.Errorf("cloudwatch PutMetricAlarm %s: %w", a.Name, err)
		}
		names = append(names, a.Name)
	}
	return &ecstypes.DeploymentAlarms{AlarmNames: names, Enable: true, Rollback: dep.AlarmRollback}, nil
}
