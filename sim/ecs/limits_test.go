package ecs_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/meshsim/meshsim/sim/awsclient"
	"github.com/meshsim/meshsim/sim/ecs"
)

// handlerClient is an HTTP client that serves every request with h in the
// caller's goroutine: no network, so that the real SDK client can drive
// the fake inside a synctest bubble.
type handlerClient struct{ h http.Handler }

func (c handlerClient) Do(r *http.Request) (*http.Response, error) {
	w := httptest.NewRecorder()
	c.h.ServeHTTP(w, r)
	resp := w.Result()
	resp.Request = r
	return resp, nil
}

// memClient returns a real aws-sdk-go-v2 ECS client that talks to h in
// memory.
func memClient(h http.Handler) *sdk.Client {
	cfg := awsclient.Config("http://ecs.meshsim.test", "eu-west-1")
	cfg.HTTPClient = handlerClient{h}
	cfg.RetryMaxAttempts = 1
	return sdk.NewFromConfig(cfg)
}

// memWorld is an ECS fake without a runtime (every task fails to start)
// and a client that talks to it in memory. Close it before the bubble
// ends.
func memWorld(t *testing.T, opts ecs.Options) (*ecs.Fake, *sdk.Client) {
	t.Helper()
	fake := ecs.New(opts)
	client := memClient(fake)
	ctx := context.Background()
	if _, err := client.CreateCluster(ctx, &sdk.CreateClusterInput{ClusterName: aws.String(testCluster)}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.RegisterTaskDefinition(ctx, &sdk.RegisterTaskDefinitionInput{
		Family: aws.String("web"),
		ContainerDefinitions: []types.ContainerDefinition{{
			Name: aws.String("app"), Image: aws.String("meshsim/test-http:v1"),
		}},
	}); err != nil {
		t.Fatal(err)
	}
	return fake, client
}

func TestDesiredCountLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, client := memWorld(t, ecs.Options{})
		defer fake.Close()
		ctx := context.Background()
		create := func(name string, n int32) error {
			_, err := client.CreateService(ctx, &sdk.CreateServiceInput{
				Cluster: aws.String(testCluster), ServiceName: aws.String(name), TaskDefinition: aws.String("web"), DesiredCount: aws.Int32(n),
			})
			return err
		}
		tests := []struct {
			name    string
			call    func() error
			code    string
			message string
		}{
			{"beyond the ECS quota", func() error { return create("huge", 12345) },
				"InvalidParameterException", "desiredCount must be between 0 and 5000 (the Amazon ECS quota of tasks per service)."},
			{"beyond MaxTasks", func() error { return create("big", 1001) },
				"LimitExceededException", "meshsim runs at most 1000 tasks (the desiredCount of all services together; Options.MaxTasks); this request asks for 1001."},
			{"within MaxTasks", func() error { return create("a", 600) }, "", ""},
			{"all services together beyond MaxTasks", func() error { return create("b", 401) },
				"LimitExceededException", "meshsim runs at most 1000 tasks (the desiredCount of all services together; Options.MaxTasks); this request asks for 1001."},
			{"scaled up beyond MaxTasks", func() error {
				_, err := client.UpdateService(ctx, &sdk.UpdateServiceInput{Cluster: aws.String(testCluster), Service: aws.String("a"), DesiredCount: aws.Int32(1001)})
				return err
			}, "LimitExceededException", "meshsim runs at most 1000 tasks (the desiredCount of all services together; Options.MaxTasks); this request asks for 1001."},
			{"scaled to the limit", func() error {
				_, err := client.UpdateService(ctx, &sdk.UpdateServiceInput{Cluster: aws.String(testCluster), Service: aws.String("a"), DesiredCount: aws.Int32(1000)})
				return err
			}, "", ""},
			{"negative", func() error {
				_, err := client.UpdateService(ctx, &sdk.UpdateServiceInput{Cluster: aws.String(testCluster), Service: aws.String("a"), DesiredCount: aws.Int32(-1)})
				return err
			}, "InvalidParameterException", "desiredCount must be between 0 and 5000 (the Amazon ECS quota of tasks per service)."},
		}
		for _, tt := range tests {
			code, msg := apiError(tt.call())
			if tt.code == "" && msg != "<nil>" {
				t.Errorf("%s: %s %s, want success", tt.name, code, msg)
			}
			if code != tt.code || tt.code != "" && msg != tt.message {
				t.Errorf("%s: %s %q, want %s %q", tt.name, code, msg, tt.code, tt.message)
			}
		}
	})
}

// TestFailingTasksDoNotStarveTheAPI runs a service at ECS's quota of 5,000
// tasks, none of which can start, beside a second service, for ten ECS
// minutes: the scheduler launches within the launch rate and backs off,
// and every other call answers throughout. (How long a task change holds
// the lock is measured by BenchmarkTaskChange.)
func TestFailingTasksDoNotStarveTheAPI(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, client := memWorld(t, ecs.Options{MaxTasks: 5001, TaskLaunchRate: 500})
		defer fake.Close()
		ctx := context.Background()
		for name, n := range map[string]int32{"huge": 5000, "small": 1} {
			if _, err := client.CreateService(ctx, &sdk.CreateServiceInput{
				Cluster: aws.String(testCluster), ServiceName: aws.String(name), TaskDefinition: aws.String("web"), DesiredCount: aws.Int32(n),
			}); err != nil {
				t.Fatal(err)
			}
		}
		start := time.Now()
		for minute := 1; minute <= 10; minute++ {
			time.Sleep(time.Minute)
			synctest.Wait()
			out, err := client.DescribeServices(ctx, &sdk.DescribeServicesInput{Cluster: aws.String(testCluster), Services: []string{"huge", "small"}})
			if err != nil || len(out.Services) != 2 {
				t.Fatalf("minute %d: DescribeServices: %v %+v", minute, err, out)
			}
			stopped := countTasks(t, client, "huge", types.DesiredStatusStopped)
			// 500 launches a minute at most, and a burst of 50 to begin with.
			if limit := 50 + 500*int(time.Since(start)/time.Minute); stopped > limit {
				t.Errorf("minute %d: %d tasks launched, want at most %d", minute, stopped, limit)
			}
			if stopped == 0 {
				t.Errorf("minute %d: no task launched", minute)
			}
			if _, err := client.ListServices(ctx, &sdk.ListServicesInput{Cluster: aws.String(testCluster)}); err != nil {
				t.Fatalf("minute %d: ListServices: %v", minute, err)
			}
		}
		t.Logf("launched in 10 minutes: %d", countTasks(t, client, "huge", types.DesiredStatusStopped))
		// Failures back off: after the first ones the service waits up
		// to 32 s between launches, so far fewer than the rate allows ran.
		if stopped := countTasks(t, client, "huge", types.DesiredStatusStopped); stopped > 50*20 {
			t.Errorf("%d tasks launched in 10 minutes; the failure backoff should hold them to a few waves", stopped)
		}
		svc, err := client.DescribeServices(ctx, &sdk.DescribeServicesInput{Cluster: aws.String(testCluster), Services: []string{"huge"}})
		if err != nil {
			t.Fatal(err)
		}
		if s := svc.Services[0]; s.RunningCount != 0 || s.Deployments[0].FailedTasks == 0 {
			t.Errorf("huge: running %d, failed %d", s.RunningCount, s.Deployments[0].FailedTasks)
		}
	})
}

// countTasks counts the tasks of a service with the given desired status,
// page by page.
func countTasks(t *testing.T, client *sdk.Client, service string, desired types.DesiredStatus) int {
	t.Helper()
	n := 0
	pages := sdk.NewListTasksPaginator(client, &sdk.ListTasksInput{
		Cluster: aws.String(testCluster), ServiceName: aws.String(service), DesiredStatus: desired,
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(context.Background())
		if err != nil {
			if strings.Contains(err.Error(), "ServiceNotFound") {
				return n
			}
			t.Fatal(err)
		}
		n += len(page.TaskArns)
	}
	return n
}
