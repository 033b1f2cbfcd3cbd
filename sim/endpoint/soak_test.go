package endpoint_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	am "github.com/aws/aws-sdk-go-v2/service/appmesh"
	amtypes "github.com/aws/aws-sdk-go-v2/service/appmesh/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	sd "github.com/aws/aws-sdk-go-v2/service/servicediscovery"

	"github.com/meshsim/meshsim/sim"
	"github.com/meshsim/meshsim/sim/awsclient"
)

// soakCase is one kind of create/delete cycle against a whole simulated
// world (sim.Start: the fakes behind their endpoint, the event bus, the xDS
// translation of every change), through the real SDK clients.
type soakCase struct {
	name string
	// setup creates what the cycles need and returns the cycle: it creates
	// and deletes resource number i and checks that each call succeeded.
	setup func(ctx context.Context, c awsclient.Clients) (func(i int) error, error)
	// empty reports what is left of the cycles' resources, "" for nothing.
	empty func(ctx context.Context, c awsclient.Clients) (string, error)
}

var soakCases = []soakCase{{
	name: "appmesh-virtual-node",
	setup: func(ctx context.Context, c awsclient.Clients) (func(int) error, error) {
		if _, err := c.AppMesh.CreateMesh(ctx, &am.CreateMeshInput{MeshName: aws.String("soak")}); err != nil {
			return nil, err
		}
		spec := &amtypes.VirtualNodeSpec{Listeners: []amtypes.Listener{{
			PortMapping: &amtypes.PortMapping{Port: aws.Int32(8080), Protocol: amtypes.PortProtocolHttp}}},
			ServiceDiscovery: &amtypes.ServiceDiscoveryMemberDns{Value: amtypes.DnsServiceDiscovery{Hostname: aws.String("soak.local")}}}
		return func(i int) error {
			name := fmt.Sprintf("node-%d", i)
			if _, err := c.AppMesh.CreateVirtualNode(ctx, &am.CreateVirtualNodeInput{
				MeshName: aws.String("soak"), VirtualNodeName: aws.String(name), Spec: spec}); err != nil {
				return err
			}
			_, err := c.AppMesh.DeleteVirtualNode(ctx, &am.DeleteVirtualNodeInput{
				MeshName: aws.String("soak"), VirtualNodeName: aws.String(name)})
			return err
		}, nil
	},
	empty: func(ctx context.Context, c awsclient.Clients) (string, error) {
		out, err := c.AppMesh.ListVirtualNodes(ctx, &am.ListVirtualNodesInput{MeshName: aws.String("soak")})
		if err != nil || len(out.VirtualNodes) == 0 {
			return "", err
		}
		return fmt.Sprintf("%d virtual nodes", len(out.VirtualNodes)), nil
	},
}, {
	name: "cloudmap-service-and-instance",
	setup: func(ctx context.Context, c awsclient.Clients) (func(int) error, error) {
		op, err := c.CloudMap.CreateHttpNamespace(ctx, &sd.CreateHttpNamespaceInput{Name: aws.String("soak")})
		if err != nil {
			return nil, err
		}
		got, err := c.CloudMap.GetOperation(ctx, &sd.GetOperationInput{OperationId: op.OperationId})
		if err != nil {
			return nil, err
		}
		nsID := got.Operation.Targets["NAMESPACE"]
		return func(i int) error {
			svc, err := c.CloudMap.CreateService(ctx, &sd.CreateServiceInput{
				Name: aws.String(fmt.Sprintf("svc-%d", i)), NamespaceId: aws.String(nsID)})
			if err != nil {
				return err
			}
			if _, err := c.CloudMap.RegisterInstance(ctx, &sd.RegisterInstanceInput{
				ServiceId: svc.Service.Id, InstanceId: aws.String("i-1"),
				Attributes: map[string]string{"AWS_INSTANCE_IPV4": "10.0.0.1", "AWS_INSTANCE_PORT": "8080"}}); err != nil {
				return err
			}
			if _, err := c.CloudMap.DeregisterInstance(ctx, &sd.DeregisterInstanceInput{
				ServiceId: svc.Service.Id, InstanceId: aws.String("i-1")}); err != nil {
				return err
			}
			_, err = c.CloudMap.DeleteService(ctx, &sd.DeleteServiceInput{Id: svc.Service.Id})
			return err
		}, nil
	},
	empty: func(ctx context.Context, c awsclient.Clients) (string, error) {
		out, err := c.CloudMap.ListServices(ctx, &sd.ListServicesInput{})
		if err != nil || len(out.Services) == 0 {
			return "", err
		}
		return fmt.Sprintf("%d services", len(out.Services)), nil
	},
}, {
	name: "ecs-service",
	setup: func(ctx context.Context, c awsclient.Clients) (func(int) error, error) {
		if _, err := c.ECS.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("soak")}); err != nil {
			return nil, err
		}
		if _, err := c.ECS.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
			Family: aws.String("soak"), NetworkMode: ecstypes.NetworkModeAwsvpc,
			ContainerDefinitions: []ecstypes.ContainerDefinition{{Name: aws.String("app"), Image: aws.String("meshsim/sample"), Essential: aws.Bool(true)}},
		}); err != nil {
			return nil, err
		}
		return func(i int) error {
			name := fmt.Sprintf("svc-%d", i)
			if _, err := c.ECS.CreateService(ctx, &ecs.CreateServiceInput{
				Cluster: aws.String("soak"), ServiceName: aws.String(name), TaskDefinition: aws.String("soak"),
				DesiredCount: aws.Int32(0), NetworkConfiguration: &ecstypes.NetworkConfiguration{
					AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{Subnets: []string{"subnet-1"}}}}); err != nil {
				return err
			}
			_, err := c.ECS.DeleteService(ctx, &ecs.DeleteServiceInput{Cluster: aws.String("soak"), Service: aws.String(name)})
			return err
		}, nil
	},
	empty: func(ctx context.Context, c awsclient.Clients) (string, error) {
		out, err := c.ECS.ListServices(ctx, &ecs.ListServicesInput{Cluster: aws.String("soak")})
		if err != nil || len(out.ServiceArns) == 0 {
			return "", err
		}
		return fmt.Sprintf("%d services", len(out.ServiceArns)), nil
	},
}}

// soakResult is what one soak measured.
type soakResult struct {
	// firstRate and lastRate are cycles/s over the first and the last
	// tenth of the cycles: wall time, so a busy machine lowers them.
	firstRate, lastRate float64
	// firstCPU and lastCPU are the process's CPU time per cycle over the
	// same tenths, which other processes on the machine barely change.
	firstCPU, lastCPU time.Duration
	// heapBefore, heapMid and heapAfter are the live heap after GC before
	// the cycles, half-way and after them.
	heapBefore, heapMid, heapAfter uint64
}

// soak runs cycles create/delete cycles of sc against a fresh world and
// checks that nothing of them is left.
func soak(tb testing.TB, sc soakCase, cycles int) soakResult {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := sim.Start(ctx, sim.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	defer w.Close()
	clients := awsclient.New(w.Endpoint, "us-east-1")
	cycle, err := sc.setup(ctx, clients)
	if err != nil {
		tb.Fatalf("setup: %v", err)
	}
	res := soakResult{heapBefore: liveHeap()}
	tenth := max(cycles/10, 1)
	start, startCPU := time.Now(), cpuTime()
	measure := func(rate *float64, cpu *time.Duration) {
		*rate = float64(tenth) / time.Since(start).Seconds()
		*cpu = (cpuTime() - startCPU) / time.Duration(tenth)
	}
	for i := range cycles {
		if i == cycles-tenth {
			start, startCPU = time.Now(), cpuTime()
		}
		if err := cycle(i); err != nil {
			tb.Fatalf("cycle %d: %v", i, err)
		}
		switch i {
		case tenth - 1:
			measure(&res.firstRate, &res.firstCPU)
		case cycles / 2:
			res.heapMid = liveHeap()
		}
	}
	measure(&res.lastRate, &res.lastCPU)
	res.heapAfter = liveHeap()
	left, err := sc.empty(ctx, clients)
	if err != nil {
		tb.Fatalf("listing what is left: %v", err)
	}
	if left != "" {
		tb.Errorf("after %d create/delete cycles, %s are left", cycles, left)
	}
	return res
}

func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkSoak runs b.N create/delete cycles of each kind through the real
// SDK clients against a whole world and reports throughput over the first
// and the last tenth of the cycles (as cycles/s of wall time, and as the
// process's CPU time per cycle, which a busy machine disturbs less) and the
// live heap before, half-way and after: flat throughput and a heap that
// stops growing mean nothing accumulates. The bus's event history (100,000
// events) is most of what stays.
// The soak is 100,000 cycles:
//
//	go test -run '^$' -bench Soak -benchtime 100000x ./sim/endpoint/
func BenchmarkSoak(b *testing.B) {
	for _, sc := range soakCases {
		b.Run(sc.name, func(b *testing.B) {
			r := soak(b, sc, b.N)
			b.ReportMetric(r.firstRate, "first10%-cycles/s")
			b.ReportMetric(r.lastRate, "last10%-cycles/s")
			b.ReportMetric(float64(r.firstCPU.Microseconds()), "first10%-cpu-µs/cycle")
			b.ReportMetric(float64(r.lastCPU.Microseconds()), "last10%-cpu-µs/cycle")
			b.ReportMetric(float64(r.heapBefore)/(1<<20), "heap-before-MB")
			b.ReportMetric(float64(r.heapMid)/(1<<20), "heap-mid-MB")
			b.ReportMetric(float64(r.heapAfter)/(1<<20), "heap-after-MB")
		})
	}
}

// TestSoakShort is the soak's quick form: a few hundred cycles of each kind
// leave nothing behind. Speed and memory are the benchmark's to report.
func TestSoakShort(t *testing.T) {
	for _, sc := range soakCases {
		t.Run(sc.name, func(t *testing.T) { soak(t, sc, 300) })
	}
}
