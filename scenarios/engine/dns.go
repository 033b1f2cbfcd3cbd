package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/meshsim/meshsim/loadgen"
	"github.com/meshsim/meshsim/scenarios"
)

// route53 reports whether the rollout shifts traffic with Route 53
// weighted records (routing route53).
func (w *world) route53() bool { return w.sc.Routing == scenarios.RoutingRoute53 }

// records is the Route 53 side of routing route53: a hosted zone with one
// weighted record set per version of the rolled service, whose values are
// the addresses of that version's tasks.
type records struct {
	zoneID string
	// name is the record's fully qualified name, with the trailing dot.
	name string
	// sets holds each version's record set as last written, so that it
	// can be changed and deleted (a DELETE must give the current values).
	sets map[string]r53types.ResourceRecordSet
	// order is the versions in the scenario's order.
	order []string
}

// recordName is the name the clients resolve, without the trailing dot.
func (w *world) recordName() string {
	return strings.ToLower(w.sc.DNS.Record + "." + w.sc.DNS.Zone)
}

// createRecords creates the hosted zone, a health check per version if
// asked, and the weighted record sets with the first step's weights, and
// waits until the change is INSYNC (the SDK's waiter, as `aws route53 wait
// resource-record-sets-changed` does). The services must be steady.
func (w *world) createRecords(ctx context.Context) error {
	sc := w.sc
	svc, _ := sc.Service(sc.Rollout.Service)
	zone, err := w.aws.Route53.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{
		Name:            aws.String(sc.DNS.Zone),
		CallerReference: aws.String(fmt.Sprintf("meshsim-%s-%d", sc.Name, time.Now().UnixNano())),
	})
	if err != nil {
		return fmt.Errorf("route53 CreateHostedZone %s: %w", sc.DNS.Zone, err)
	}
	w.dns = &records{zoneID: aws.ToString(zone.HostedZone.Id), name: w.recordName() + ".", sets: map[string]r53types.ResourceRecordSet{}}
	w.undo(func(ctx context.Context) error {
		_, err := w.aws.Route53.DeleteHostedZone(ctx, &route53.DeleteHostedZoneInput{Id: aws.String(w.dns.zoneID)})
		return err
	})
	var changes []r53types.Change
	for _, v := range svc.Versions {
		ips, err := w.taskIPs(ctx, versionName(svc.Name, v.Name))
		if err != nil {
			return err
		}
		set := r53types.ResourceRecordSet{
			Name: aws.String(w.dns.name), Type: r53types.RRTypeA, SetIdentifier: aws.String(v.Name),
			Weight: aws.Int64(int64(sc.Rollout.Steps[0].Weights[v.Name])), TTL: aws.Int64(int64(sc.DNS.TTL / time.Second)),
		}
		for _, ip := range ips {
			set.ResourceRecords = append(set.ResourceRecords, r53types.ResourceRecord{Value: aws.String(ip)})
		}
		if sc.DNS.HealthChecks {
			if set.HealthCheckId, err = w.createHealthCheck(ctx, svc, v.Name, ips[0]); err != nil {
				return err
			}
		}
		w.dns.sets[v.Name] = set
		w.dns.order = append(w.dns.order, v.Name)
		changes = append(changes, r53types.Change{Action: r53types.ChangeActionCreate, ResourceRecordSet: &set})
	}
	w.undo(func(ctx context.Context) error {
		var del []r53types.Change
		for _, v := range w.dns.order {
			set := w.dns.sets[v]
			del = append(del, r53types.Change{Action: r53types.ChangeActionDelete, ResourceRecordSet: &set})
		}
		return w.changeRecords(ctx, "meshsim teardown", del, false)
	})
	return w.changeRecords(ctx, "meshsim setup: "+sc.Rollout.Steps[0].Name, changes, true)
}

// createHealthCheck creates the Route 53 health check of one version: an
// HTTP GET of the service's health check path on the task at ip, every 10
// seconds, unhealthy after 3 failures.
func (w *world) createHealthCheck(ctx context.Context, svc *scenarios.Service, version, ip string) (*string, error) {
	out, err := w.aws.Route53.CreateHealthCheck(ctx, &route53.CreateHealthCheckInput{
		CallerReference: aws.String(fmt.Sprintf("meshsim-%s-%s-%d", svc.Name, version, time.Now().UnixNano())),
		HealthCheckConfig: &r53types.HealthCheckConfig{
			Type: r53types.HealthCheckTypeHttp, IPAddress: aws.String(ip), Port: aws.Int32(int32(svc.Port)),
			ResourcePath: aws.String(svc.HealthCheckPath), RequestInterval: aws.Int32(10), FailureThreshold: aws.Int32(3),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("route53 CreateHealthCheck %s %s: %w", svc.Name, version, err)
	}
	id := out.HealthCheck.Id
	w.undo(func(ctx context.Context) error {
		_, err := w.aws.Route53.DeleteHealthCheck(ctx, &route53.DeleteHealthCheckInput{HealthCheckId: id})
		return err
	})
	return id, nil
}

// changeRecords sends one change batch; with wait, it returns once the
// change is INSYNC.
func (w *world) changeRecords(ctx context.Context, comment string, changes []r53types.Change, wait bool) error {
	out, err := w.aws.Route53.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{
		HostedZoneId: aws.String(w.dns.zoneID),
		ChangeBatch:  &r53types.ChangeBatch{Comment: aws.String(comment), Changes: changes},
	})
	if err != nil {
		return fmt.Errorf("route53 ChangeResourceRecordSets %s: %w", w.dns.name, err)
	}
	if !wait {
		return nil
	}
	waiter := route53.NewResourceRecordSetsChangedWaiter(w.aws.Route53, func(o *route53.ResourceRecordSetsChangedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, time.Second
	})
	maxWait := time.Minute
	if d, ok := ctx.Deadline(); ok {
		maxWait = time.Until(d)
	}
	if err := waiter.Wait(ctx, &route53.GetChangeInput{Id: out.ChangeInfo.Id}, maxWait); err != nil {
		return fmt.Errorf("route53 change %s did not reach INSYNC: %w", aws.ToString(out.ChangeInfo.Id), err)
	}
	return nil
}

// setRecordWeights applies a rollout step: one ChangeResourceRecordSets
// that UPSERTs every version's record set with its new weight. It does not
// wait for the change to propagate: the clients see it when Route 53's
// name servers answer with it and their cached answers expire, which is
// the lag the run measures.
func (w *world) setRecordWeights(ctx context.Context, step string, weights map[string]int) error {
	var changes []r53types.Change
	next := map[string]r53types.ResourceRecordSet{}
	for _, v := range w.dns.order {
		set := w.dns.sets[v]
		set.Weight = aws.Int64(int64(weights[v]))
		next[v] = set
		changes = append(changes, r53types.Change{Action: r53types.ChangeActionUpsert, ResourceRecordSet: &set})
	}
	if err := w.changeRecords(ctx, "meshsim step "+step, changes, false); err != nil {
		return err
	}
	w.dns.sets = next
	return nil
}

// taskIPs returns the private IPs of the running tasks of ECS service
// name.
func (w *world) taskIPs(ctx context.Context, name string) ([]string, error) {
	list, err := w.aws.ECS.ListTasks(ctx, &ecs.ListTasksInput{
		Cluster: aws.String(w.sc.Cluster), ServiceName: aws.String(name), DesiredStatus: ecstypes.DesiredStatusRunning,
	})
	if err != nil {
		return nil, fmt.Errorf("ecs ListTasks %s: %w", name, err)
	}
	if len(list.TaskArns) == 0 {
		return nil, fmt.Errorf("ecs service %s has no running task to put in its DNS record", name)
	}
	out, err := w.aws.ECS.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(w.sc.Cluster), Tasks: list.TaskArns})
	if err != nil {
		return nil, fmt.Errorf("ecs DescribeTasks %s: %w", name, err)
	}
	var ips []string
	for _, t := range out.Tasks {
		if ip := privateIPv4(t); ip != "" {
			ips = append(ips, ip)
		}
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("ecs service %s: DescribeTasks shows no privateIPv4Address", name)
	}
	return ips, nil
}

// dnsClients is the client population of routing route53, resolving
// through the world's name server at dnsServer.
func dnsClients(sc *scenarios.Scenario, dnsServer string) *loadgen.Clients {
	return &loadgen.Clients{
		Count:        sc.DNS.Clients,
		DNSServer:    dnsServer,
		Cache:        loadgen.CacheMode(sc.DNS.Cache),
		TimeScale:    sc.TimeScale,
		NoKeepAlive:  !sc.DNS.KeepAlive,
		ConnLifetime: sc.Scaled(sc.DNS.ConnectionLifetime),
	}
}

// CheckDNS reports whether a run of sc can resolve its names: routing
// route53 needs the name server of meshsim's own world (dnsAddress).
func CheckDNS(sc *scenarios.Scenario, dnsAddress string) error {
	if sc.Routing == scenarios.RoutingRoute53 && dnsAddress == "" {
		return errors.New("routing route53 needs the name server of meshsim's own world, which the embedded (inproc) runtime serves; " +
			"it is not available with --endpoint or the docker runtime")
	}
	return nil
}
