// Package cloudwatch is the CloudWatch fake: metrics (PutMetricData,
// GetMetricData, GetMetricStatistics, ListMetrics) and metric alarms
// (PutMetricAlarm, DescribeAlarms, DescribeAlarmsForMetric,
// DescribeAlarmHistory, DeleteAlarms, SetAlarmState, Enable/DisableAlarmActions,
// tags) that real clients reach over the Smithy RPC v2 CBOR protocol, the one
// aws-sdk-go-v2 and the AWS CLI use for CloudWatch.
//
// Alarms are evaluated as CloudWatch evaluates them (period, evaluation
// periods, datapoints to alarm, threshold and comparison, missing-data
// treatment; see Evaluate), on the world's time scale: at time scale S a
// period of P seconds lasts P/S real seconds. Timestamps stay real.
//
// meshsim's own observations arrive on Publish (the engine posts them to
// PublishPath), under the namespaces and dimensions AWS publishes them in,
// which PutMetricData refuses to clients as AWS does.
package cloudwatch

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/meshsim/meshsim/sim/awsproto"
	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/events"
)

// Service is the RPC v2 service name in request paths
// (/service/GraniteServiceVersion20100801/operation/OP).
const Service = "GraniteServiceVersion20100801"

// PathPrefix routes CloudWatch's RPC v2 requests at the endpoint.
const PathPrefix = "/service/" + Service + "/"

// PublishPath is where meshsim posts its own observations as a
// PutMetricData body in JSON (see Publish).
const PublishPath = contract.CloudWatchPublishPath

// queryCodes are the Query protocol's codes for CloudWatch's error shapes
// (awsQueryError traits of the service model), sent in X-Amzn-Query-Error.
var queryCodes = map[string]string{
	"InternalServiceFault":                 "InternalServiceError",
	"InvalidFormatFault":                   "InvalidFormat",
	"InvalidParameterCombinationException": "InvalidParameterCombination",
	"InvalidParameterValueException":       "InvalidParameterValue",
	"LimitExceededFault":                   "LimitExceeded",
	"MissingRequiredParameterException":    "MissingParameter",
	"ResourceNotFound":                     "ResourceNotFound",
}

// Options configure the fake.
type Options struct {
	// Bus receives an event for every alarm state change.
	Bus *events.Bus
	// Second is how long a CloudWatch second lasts (the world's time
	// scale); 0 means a real second.
	Second time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// OnStateChange, when set, is told of every alarm's change of state
	// (ECS watches its deployments' alarms so). It is called without the
	// fake's lock held, in the order the changes happened.
	OnStateChange func(alarm, state string)
}

// Fake is the CloudWatch fake. It is an http.Handler for PathPrefix and
// PublishPath; Run evaluates its alarms until its context ends.
type Fake struct {
	bus      *events.Bus
	second   time.Duration
	now      func() time.Time
	onChange func(alarm, state string)

	mu      sync.Mutex
	metrics map[metricKey]*series
	alarms  map[string]*alarm // by name
	history []historyItem
	// changed are the changes of state not yet told to onChange.
	changed []stateChange
	// notifying serialises the calls of onChange.
	notifying sync.Mutex
}

type stateChange struct{ alarm, state string }

// New returns an empty CloudWatch.
func New(opts Options) *Fake {
	f := &Fake{
		bus:      opts.Bus,
		second:   opts.Second,
		now:      opts.Now,
		onChange: opts.OnStateChange,
		metrics:  make(map[metricKey]*series),
		alarms:   make(map[string]*alarm),
	}
	if f.second <= 0 {
		f.second = time.Second
	}
	if f.now == nil {
		f.now = time.Now
	}
	return f
}

// handler answers one operation; decode reads the request's input into a
// struct, whatever the protocol.
type handler func(f *Fake, region string, decode func(any) error) (any, error)

var operations = map[string]handler{
	"PutMetricData":           (*Fake).putMetricData,
	"GetMetricStatistics":     (*Fake).getMetricStatistics,
	"GetMetricData":           (*Fake).getMetricData,
	"ListMetrics":             (*Fake).listMetrics,
	"PutMetricAlarm":          (*Fake).putMetricAlarm,
	"DescribeAlarms":          (*Fake).describeAlarms,
	"DescribeAlarmsForMetric": (*Fake).describeAlarmsForMetric,
	"DescribeAlarmHistory":    (*Fake).describeAlarmHistory,
	"DeleteAlarms":            (*Fake).deleteAlarms,
	"SetAlarmState":           (*Fake).setAlarmState,
	"EnableAlarmActions":      (*Fake).enableAlarmActions,
	"DisableAlarmActions":     (*Fake).disableAlarmActions,
	"TagResource":             (*Fake).tagResource,
	"UntagResource":           (*Fake).untagResource,
	"ListTagsForResource":     (*Fake).listTagsForResource,
}

// Operations lists the operations the fake answers.
func Operations() []string {
	ops := make([]string, 0, len(operations))
	for op := range operations {
		ops = append(ops, op)
	}
	return ops
}

// ServeHTTP implements http.Handler. It answers RPC v2 CBOR (the SDKs)
// and JSON 1.0 with X-Amz-Target (botocore, the AWS CLI), the two protocols
// CloudWatch's clients speak today.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == PublishPath {
		f.servePublish(w, r)
		return
	}
	var (
		op     string
		ok     bool
		decode func(body []byte, v any) error
		write  func(any)
		fail   func(error)
	)
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		op, ok = strings.CutPrefix(t, Service+".")
		decode = func(body []byte, v any) error { return awsproto.DecodeBytes(body, v, "SerializationException") }
		write = func(v any) { awsproto.WriteJSON10(w, v) }
		fail = func(err error) { awsproto.WriteJSON10Error(w, err, "InternalServiceFault", queryCodes) }
	} else {
		op, ok = awsproto.RPCv2Operation(r.URL.Path, Service)
		ok = ok && r.Method == http.MethodPost
		decode = awsproto.DecodeCBOR
		write = func(v any) { awsproto.WriteCBOR(w, v) }
		fail = func(err error) { awsproto.WriteCBORError(w, err, "InternalServiceFault", queryCodes) }
	}
	if !ok {
		fail(awsproto.Errorf(http.StatusNotFound, "UnknownOperationException",
			"%s %s is not a CloudWatch operation (POST /service/%s/operation/NAME, or X-Amz-Target %s.NAME)", r.Method, r.URL.Path, Service, Service))
		return
	}
	h, ok := operations[op]
	if !ok {
		fail(awsproto.Errorf(http.StatusBadRequest, "UnknownOperationException", "CloudWatch has no operation %q in meshsim", op))
		return
	}
	body, err := awsproto.ReadBody(r, "SerializationException")
	if err == nil {
		body, err = awsproto.Decompress(r, body)
	}
	if err != nil {
		fail(err)
		return
	}
	out, err := h(f, awsproto.Region(r), func(v any) error { return decode(body, v) })
	if err != nil {
		fail(err)
		return
	}
	write(out)
}

// servePublish takes meshsim's own datapoints: a PutMetricData input in
// JSON, in any namespace (AWS/ECS among them).
func (f *Fake) servePublish(w http.ResponseWriter, r *http.Request) {
	var in putMetricDataInput
	if r.Method != http.MethodPost {
		awsproto.WriteRESTError(w, awsproto.Errorf(http.StatusMethodNotAllowed, "MethodNotAllowed", "POST a PutMetricData body"))
		return
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		awsproto.WriteRESTError(w, awsproto.Errorf(http.StatusBadRequest, "SerializationException", "the body is not a PutMetricData input: %v", err))
		return
	}
	if err := f.Publish(in.Namespace, in.MetricData); err != nil {
		awsproto.WriteRESTError(w, err)
		return
	}
	awsproto.WriteREST(w, struct{}{})
}

// Run evaluates every alarm once a period (once a minute for longer
// periods), on the time scale, until ctx ends.
func (f *Fake) Run(ctx context.Context) {
	tick := time.NewTicker(f.evaluationTick())
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		f.evaluateDue()
	}
}

// evaluationTick is how often Run looks for alarms due: a tenth of the
// shortest period CloudWatch allows for standard resolution (60 s), at the
// time scale, but not more often than every 10 ms.
func (f *Fake) evaluationTick() time.Duration {
	return max(6*f.second, 10*time.Millisecond)
}

// emitAlarm announces an alarm's change of state on the bus, if there is
// one.
func (f *Fake) emitAlarm(name string, detail map[string]string) {
	if f.bus != nil {
		f.bus.Emit(events.Event{Source: contract.SourceCloudWatch, Type: contract.EventAlarmState, Resource: name, Detail: detail})
	}
}

// notify tells onChange of the changes of state made since it last did.
// Callers do not hold f.mu.
func (f *Fake) notify() {
	if f.onChange == nil {
		return
	}
	f.notifying.Lock()
	defer f.notifying.Unlock()
	f.mu.Lock()
	changes := f.changed
	f.changed = nil
	f.mu.Unlock()
	for _, c := range changes {
		f.onChange(c.alarm, c.state)
	}
}
