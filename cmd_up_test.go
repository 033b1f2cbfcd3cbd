package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/appmesh"
	amtypes "github.com/aws/aws-sdk-go-v2/service/appmesh/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/scenarios"
	"github.com/meshsim/meshsim/sim/awsclient"
	"github.com/meshsim/meshsim/sim/poll/polltest"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestUpDown: while `meshsim up` measures, AWS SDK calls (what the AWS CLI
// sends) update the route and the service against the fakes; `meshsim
// down` ends the rehearsal, and the run's steps are those App Mesh and ECS
// reported, with the route's weights.
func TestUpDown(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end rehearsal; skipped with -short")
	}
	const doc = `name: updown
timeScale: 10
services:
  - name: web
    versions:
      - {name: v1, count: 1}
      - {name: v2, count: 1}
ingress: {service: web}
load: {rate: 50, timeout: 2s}
rollout: {service: web, steps: [{weights: {v1: 100, v2: 0}, bake: 1h}]}
`
	sc, err := scenarios.Parse("updown.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "run")
	var stdout syncBuffer
	done := make(chan error, 1)
	go func() { done <- up(context.Background(), &stdout, sc, dir, "127.0.0.1:0", "127.0.0.1:0") }()

	polltest.Eventually(t, "meshsim up to be ready", func() bool {
		_, err := os.Stat(filepath.Join(dir, upPIDFile))
		return err == nil && strings.Contains(stdout.String(), "AWS_ENDPOINT_URL=")
	})
	endpoint := regexp.MustCompile(`AWS_ENDPOINT_URL=(\S+)`).FindStringSubmatch(stdout.String())[1]
	clients := awsclient.New(endpoint, "us-east-1")
	ctx := context.Background()

	// What `aws appmesh update-route` sends: half of the traffic to v2.
	_, err = clients.AppMesh.UpdateRoute(ctx, &appmesh.UpdateRouteInput{
		MeshName: aws.String("updown"), VirtualRouterName: aws.String("web-router"), RouteName: aws.String("web-route"),
		Spec: &amtypes.RouteSpec{HttpRoute: &amtypes.HttpRoute{
			Match: &amtypes.HttpRouteMatch{Prefix: aws.String("/")},
			Action: &amtypes.HttpRouteAction{WeightedTargets: []amtypes.WeightedTarget{
				{VirtualNode: aws.String("web-v1"), Weight: 1}, {VirtualNode: aws.String("web-v2"), Weight: 1},
			}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	polltest.Eventually(t, "requests under the route update", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, rundir.ObservationsFile))
		return bytes.Count(b, []byte(`"step":1,`)) >= 20
	})
	// What `aws ecs update-service --force-new-deployment` sends.
	if _, err := clients.ECS.UpdateService(ctx, &ecs.UpdateServiceInput{
		Cluster: aws.String("updown"), Service: aws.String("web-v2"), ForceNewDeployment: true,
	}); err != nil {
		t.Fatal(err)
	}
	polltest.Eventually(t, "the steps to be recorded", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, rundir.EventsFile))
		return strings.Contains(string(b), "UpdateRoute web-route") && strings.Contains(string(b), "completed")
	})
	// Requests under the last step: 20 more than were recorded when it
	// began.
	recorded := func() int {
		b, _ := os.ReadFile(filepath.Join(dir, rundir.ObservationsFile))
		return bytes.Count(b, []byte("\n"))
	}
	lastBegan := recorded()
	polltest.Eventually(t, "requests under the last step", func() bool { return recorded() >= lastBegan+20 })

	var downOut bytes.Buffer
	if err := down(ctx, &downOut, dir, time.Minute); err != nil {
		t.Fatal(err)
	}
	code := exitOK
	if err := <-done; err != nil {
		var ee *exitError
		if !errors.As(err, &ee) {
			t.Fatalf("meshsim up: %v\n%s", err, stdout.String())
		}
		code = ee.code
	}
	// The exit code is the report's verdict. A machine too busy for the
	// load makes the run inconclusive, accepted only when the report says
	// the instrument saturated; a failed or errored run fails the test.
	f := readReports(t, dir)
	if code != verdictCode(f.json.Verdict) {
		t.Errorf("meshsim up exit code %d, report verdict %q", code, f.json.Verdict)
	}
	switch {
	case code == exitInconclusive && f.json.Instrument != nil && f.json.Instrument.Inconclusive > 0:
		t.Logf("inconclusive: the instrument saturated: %s", f.json.VerdictReason)
	case code != exitOK:
		t.Fatalf("meshsim up: exit code %d, verdict %q: %s\n%s", code, f.json.Verdict, f.json.VerdictReason, stdout.String())
	}
	run, err := rundir.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var route *rundir.Step
	for i, s := range run.Meta.Steps {
		names = append(names, s.Name)
		if strings.HasPrefix(s.Name, "UpdateRoute web-route") {
			route = &run.Meta.Steps[i]
		}
	}
	if names[0] != "up" || route == nil || route.Weights["v1"] != 50 || route.Weights["v2"] != 50 {
		t.Fatalf("steps %q (route step %+v): want up, then the route update at v1 50 / v2 50", names, route)
	}
	if !strings.Contains(strings.Join(names, "\n"), "web-v2 deployment") {
		t.Errorf("steps %q: want the deployment of web-v2", names)
	}
	perStep := map[int]int{}
	for _, o := range run.Observations {
		if o.OK() {
			perStep[o.Step]++
		}
	}
	if perStep[0] == 0 || perStep[route.Index] == 0 {
		t.Errorf("successful requests per step %v: want requests before and after the route update", perStep)
	}
	if _, err := os.Stat(filepath.Join(dir, "report.json")); err != nil {
		t.Error(err)
	}
}
