package ecs

import (
	"testing"

	"github.com/meshsim/meshsim/sim/awsproto/awsprototest"
	"github.com/meshsim/meshsim/sim/endpoint"
)

// fuzzOps are the operations the fuzz target sends, by index.
var fuzzOps = []string{
	"CreateCluster", "DescribeClusters", "DeleteCluster",
	"RegisterTaskDefinition", "DescribeTaskDefinition", "DeregisterTaskDefinition", "ListTaskDefinitions",
	"CreateService", "UpdateService", "DescribeServices", "DeleteService", "ListServices",
	"ListTasks", "DescribeTasks", "StopTask",
	"ListServiceDeployments", "DescribeServiceDeployments", "DescribeServiceRevisions",
	"StopServiceDeployment", "TagResource", "ListTagsForResource",
}

// fuzzSeeds are valid requests of each operation and malformed ones, about
// the cluster "c", the task definition family "web" and the service "svc"
// that every input starts with.
var fuzzSeeds = []struct {
	op   string
	body string
}{
	{"CreateCluster", `{"clusterName":"other","tags":[{"key":"k","value":"v"}]}`},
	{"DescribeClusters", `{"clusters":["c","nope"]}`},
	{"DeleteCluster", `{"cluster":"other"}`},
	{"RegisterTaskDefinition", `{"family":"web","networkMode":"awsvpc","containerDefinitions":[{"name":"app","image":"meshsim/sample-http","memory":128,"portMappings":[{"containerPort":8080,"name":"http"}],"healthCheck":{"command":["CMD-SHELL","curl -f http://localhost:8080/health"],"interval":5}}]}`},
	{"DescribeTaskDefinition", `{"taskDefinition":"web:1","include":["TAGS"]}`},
	{"DeregisterTaskDefinition", `{"taskDefinition":"web:1"}`},
	{"ListTaskDefinitions", `{"familyPrefix":"web","status":"ACTIVE","maxResults":1}`},
	{"CreateService", `{"cluster":"c","serviceName":"svc2","taskDefinition":"web","desiredCount":1,"deploymentConfiguration":{"strategy":"CANARY","canaryConfiguration":{"canaryPercent":10,"canaryBakeTimeInMinutes":1},"bakeTimeInMinutes":1}}`},
	{"UpdateService", `{"cluster":"c","service":"svc","desiredCount":2,"taskDefinition":"web:1","deploymentConfiguration":{"minimumHealthyPercent":50,"maximumPercent":200,"deploymentCircuitBreaker":{"enable":true,"rollback":true}}}`},
	{"DescribeServices", `{"cluster":"c","services":["svc","missing"]}`},
	{"DeleteService", `{"cluster":"c","service":"svc","force":true}`},
	{"ListServices", `{"cluster":"c","maxResults":1,"nextToken":"x"}`},
	{"ListTasks", `{"cluster":"c","serviceName":"svc","desiredStatus":"STOPPED"}`},
	{"DescribeTasks", `{"cluster":"c","tasks":["arn:aws:ecs:us-east-1:000000000000:task/c/abc"]}`},
	{"StopTask", `{"cluster":"c","task":"abc","reason":"r"}`},
	{"ListServiceDeployments", `{"cluster":"c","service":"svc","status":["SUCCESSFUL"]}`},
	{"DescribeServiceDeployments", `{"serviceDeploymentArns":["arn:aws:ecs:us-east-1:000000000000:service-deployment/c/svc/x"]}`},
	{"DescribeServiceRevisions", `{"serviceRevisionArns":["nope"]}`},
	{"StopServiceDeployment", `{"serviceDeploymentArn":"nope","stopType":"ROLLBACK"}`},
	{"TagResource", `{"resourceArn":"arn:aws:ecs:us-east-1:000000000000:cluster/c","tags":[{"key":"a","value":"b"}]}`},
	{"ListTagsForResource", `{"resourceArn":"arn:aws:ecs:us-east-1:000000000000:cluster/c"}`},
	// Malformed.
	{"RegisterTaskDefinition", `{"family":"web","containerDefinitions":[{"name":"app","image":"x","memory":{"a":1}}]}`},
	{"RegisterTaskDefinition", `{"family":"../x","containerDefinitions":[]}`},
	{"CreateService", `{`},
	{"CreateService", `[]`},
	{"CreateService", `null`},
	{"CreateService", `{"cluster":"c","serviceName":"s","desiredCount":1e400}`},
	{"UpdateService", `{"cluster":"c","service":"svc","desiredCount":123456789}`},
	{"UpdateService", "{\"cluster\":\"c\",\"service\":\"a\xffb\"}"},
	{"DescribeServices", `{"cluster":"c","services":"svc"}`},
	{"ListTasks", `{"cluster":"c","maxResults":-1}`},
}

// FuzzAPI sends one request to the ECS API, through the fakes' endpoint,
// after a cluster, a task definition and a service exist. Whatever the
// request, the answer is never a 5xx nor a panic, an error is in ECS's
// shape, and the fake still answers DescribeServices afterwards.
//
//	go test -run '^$' -fuzz FuzzAPI -fuzztime 5m ./sim/ecs/
func FuzzAPI(f *testing.F) {
	for _, s := range fuzzSeeds {
		for i, op := range fuzzOps {
			if op == s.op {
				f.Add(uint8(i), []byte(s.body))
			}
		}
	}
	f.Fuzz(func(t *testing.T, op uint8, body []byte) {
		fake := New(Options{}) // no runtime: tasks fail to start, which is not what is fuzzed
		defer fake.Close()
		ep := endpoint.New(nil)
		ep.HandleTarget(TargetPrefix, fake)
		send := func(op string, body string) (int, []byte) {
			return awsprototest.Do(t, ep, awsprototest.Request{Target: TargetPrefix + "." + op, Body: []byte(body)})
		}
		must := func(op, body string) {
			if status, out := send(op, body); status != 200 {
				t.Fatalf("setup %s: HTTP %d %s", op, status, out)
			}
		}
		must("CreateCluster", `{"clusterName":"c"}`)
		must("RegisterTaskDefinition", `{"family":"web","networkMode":"awsvpc","containerDefinitions":[{"name":"app","image":"meshsim/sample-http","memory":128,"portMappings":[{"containerPort":8080}]}]}`)
		must("CreateService", `{"cluster":"c","serviceName":"svc","taskDefinition":"web","desiredCount":1,"networkConfiguration":{"awsvpcConfiguration":{"subnets":["subnet-1"]}}}`)

		send(fuzzOps[int(op)%len(fuzzOps)], string(body))

		// The fake still works.
		if status, out := send("DescribeServices", `{"cluster":"c","services":["svc"]}`); status != 200 {
			t.Fatalf("DescribeServices afterwards: HTTP %d %s", status, out)
		}
	})
}
