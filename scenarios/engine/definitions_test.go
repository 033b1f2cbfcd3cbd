package engine

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/scenarios"
	"github.com/meshsim/meshsim/sim"
	"github.com/meshsim/meshsim/sim/awsclient"
	"github.com/meshsim/meshsim/sim/contract"
)

// definitionsScenario is a scenario whose one version is registered from
// taskDefinition, with service definition serviceFile, paths relative to
// this package.
func definitionsScenario(t *testing.T, taskDefinition, serviceFile string) *scenarios.Scenario {
	t.Helper()
	doc := `name: defs
timeScale: 10
services:
  - name: web
    port: 8080
    serviceFile: ` + serviceFile + `
    versions:
      - {name: v1, count: 1, taskDefinitionFile: ` + taskDefinition + `, command: ["./bin/app", "--serve"], env: {APP_VERSION: v1}}
ingress: {service: web}
load: {rate: 1}
rollout: {service: web, steps: [{weights: {v1: 100}, bake: 1s}]}
`
	sc, err := scenarios.Parse("defs.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// TestUserDefinitions registers the user's --cli-input-json documents (the
// AWS documentation's Fargate task definition, and service definitions
// with the ROLLING and BLUE_GREEN strategies) through the AWS API: what
// is deployed is what the files say, but for what cannot exist locally,
// which is recorded; what the fake accepts without acting on is reported.
func TestUserDefinitions(t *testing.T) {
	for _, tt := range []struct {
		serviceFile, strategy string
		bake                  int32
	}{
		{"../../examples/ecs-definitions/service-rolling.json", "ROLLING", 0},
		{"../../examples/ecs-definitions/service-blue-green.json", "BLUE_GREEN", 2},
	} {
		t.Run(tt.strategy, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			sc := definitionsScenario(t, "../../examples/ecs-definitions/task-definition.json", tt.serviceFile)
			fakes, err := sim.Start(ctx, sim.Options{TimeScale: sc.TimeScale})
			if err != nil {
				t.Fatal(err)
			}
			defer fakes.Close()
			out, err := rundir.Create(filepath.Join(t.TempDir(), "run"), rundir.Meta{FormatVersion: rundir.FormatVersion})
			if err != nil {
				t.Fatal(err)
			}
			defer out.Close()
			var mu sync.Mutex
			var evs []rundir.Event
			stop := recordEvents(fakes.Endpoint, out, func(e rundir.Event) {
				mu.Lock()
				evs = append(evs, e)
				mu.Unlock()
			})
			w := &world{sc: sc, aws: awsclient.New(fakes.Endpoint, sc.Region), tasks: newTaskBook(),
				event: func(typ contract.EventType, resource string, detail map[string]string) {
					mu.Lock()
					evs = append(evs, rundir.Event{Source: contract.SourceEngine, Type: typ, Resource: resource, Detail: detail})
					mu.Unlock()
				}}
			if err := w.create(ctx); err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := w.teardown(ctx); err != nil {
					t.Error(err)
				}
			}()

			svc, err := w.aws.ECS.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(sc.Cluster), Services: []string{"web-v1"}})
			if err != nil || len(svc.Services) != 1 {
				t.Fatalf("DescribeServices: %v %+v", err, svc)
			}
			s := svc.Services[0]
			checkUserService(t, s, tt.strategy, tt.bake)
			td, err := w.aws.ECS.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: s.TaskDefinition})
			if err != nil {
				t.Fatal(err)
			}
			checkUserTaskDefinition(t, td.TaskDefinition)
			stop()

			mu.Lock()
			defer mu.Unlock()
			checkDefinitionEvents(t, evs)
		})
	}
}

// checkUserService checks that the service s is deployed as the service
// definition file says, with the strategy and bake time given.
func checkUserService(t *testing.T, s ecstypes.Service, strategy string, bake int32) {
	t.Helper()
	dc := s.DeploymentConfiguration
	if string(dc.Strategy) != strategy || aws.ToInt32(dc.MaximumPercent) != 200 || aws.ToInt32(dc.MinimumHealthyPercent) != 100 ||
		dc.DeploymentCircuitBreaker == nil || !dc.DeploymentCircuitBreaker.Rollback || aws.ToInt32(dc.BakeTimeInMinutes) != bake {
		t.Errorf("deploymentConfiguration %+v, want the file's (%s)", dc, strategy)
	}
	if aws.ToInt32(&s.DesiredCount) != 2 {
		t.Errorf("desiredCount %d, want the file's 2", s.DesiredCount)
	}
}

// checkUserTaskDefinition checks that the task definition d is the file's,
// its image mapped to the local command, with the App Mesh proxy added.
func checkUserTaskDefinition(t *testing.T, d *ecstypes.TaskDefinition) {
	t.Helper()
	if aws.ToString(d.Family) != "fargate-task-definition" || aws.ToString(d.Cpu) != "256" || aws.ToString(d.Memory) != "512" ||
		!strings.HasSuffix(aws.ToString(d.ExecutionRoleArn), "role/ecsTaskExecutionRole") {
		t.Errorf("task definition %s cpu %s memory %s role %s: want the file's", aws.ToString(d.Family), aws.ToString(d.Cpu), aws.ToString(d.Memory), aws.ToString(d.ExecutionRoleArn))
	}
	app := d.ContainerDefinitions[0]
	if aws.ToString(app.Image) != contract.CommandImage || !slices.Equal(app.Command, []string{"./bin/app", "--serve"}) ||
		app.LogConfiguration == nil || aws.ToInt32(app.StopTimeout) != 10 || app.HealthCheck == nil || aws.ToInt32(app.HealthCheck.StartPeriod) != 10 {
		t.Errorf("app container %+v: want the command, and the file's logConfiguration, stopTimeout and health check", app)
	}
	env := map[string]string{}
	for _, kv := range app.Environment {
		env[aws.ToString(kv.Name)] = aws.ToString(kv.Value)
	}
	if env["PORT"] != "8080" || env["HOST"] != "0.0.0.0" || env["APP_VERSION"] != "v1" {
		t.Errorf("app environment %v", env)
	}
	if len(d.ContainerDefinitions) != 2 || aws.ToString(d.ContainerDefinitions[1].Image) != contract.SidecarImage {
		t.Errorf("containers %d: want the app and the App Mesh proxy added", len(d.ContainerDefinitions))
	}
}

// checkDefinitionEvents checks that the events evs report what was mapped
// for the local run and what the fake accepted without acting on.
func checkDefinitionEvents(t *testing.T, evs []rundir.Event) {
	t.Helper()
	var mapped, ignored []string
	for _, e := range evs {
		switch e.Type {
		case contract.EventDefinitionMapped:
			mapped = append(mapped, e.Detail["changes"])
		case contract.EventRequestIgnored:
			if e.Detail[contract.DetailOperation] == "RegisterTaskDefinition" {
				ignored = append(ignored, e.Detail[contract.DetailIgnored])
			}
		}
	}
	all := strings.Join(mapped, "; ")
	for _, want := range []string{"123456789012.dkr.ecr.us-east-1.amazonaws.com/sample-app:1.0 → sample-app:1.0", "the local command", "serviceName sample-app-service → web-v1", "cluster default → defs"} {
		if !strings.Contains(all, want) {
			t.Errorf("definition.mapped events %q lack %q", all, want)
		}
	}
	if got := strings.Join(ignored, ","); !strings.Contains(got, "logConfiguration") || !strings.Contains(got, "cpu") {
		t.Errorf("request.ignored of RegisterTaskDefinition: %q, want logConfiguration and cpu reported", got)
	}
}

// TestUserDefinitionUnknownMember: a member the AWS API does not have
// stops the run with an error naming it and the file, as the AWS CLI's
// --cli-input-json does.
func TestUserDefinitionUnknownMember(t *testing.T) {
	sc := definitionsScenario(t, "testdata/task-definition-typo.json", "../../examples/ecs-definitions/service-rolling.json")
	w := &world{sc: sc}
	_, _, err := w.userTaskDefinition(w.units()[0], sc.Services[0].Versions[0])
	if err == nil || !strings.Contains(err.Error(), `unknown field "containerDefintions"`) || !strings.Contains(err.Error(), "task-definition-typo.json") {
		t.Errorf("error %v, want the unknown member and the file named", err)
	}
}
