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
	// Appended, so that the corpus's indexes keep their operations.
	"RunTask", "StartTask", "CreateTaskSet", "UpdateTaskSet", "UpdateServicePrimaryTaskSet", "DeleteTaskSet",
	"DescribeTaskSets", "UntagResource", "UpdateCluster", "UpdateClusterSettings", "PutClusterCapacityProviders",
	"CreateCapacityProvider", "UpdateCapacityProvider", "DeleteCapacityProvider", "DescribeCapacityProviders",
	"PutAccountSetting", "PutAccountSettingDefault", "DeleteAccountSetting", "ListAccountSettings",
	"PutAttributes", "DeleteAttributes", "ListAttributes", "RegisterContainerInstance", "DeregisterContainerInstance",
	"DescribeContainerInstances", "ListContainerInstances", "UpdateContainerInstancesState", "ListTaskDefinitionFamilies",
	"GetTaskProtection", "UpdateTaskProtection", "ExecuteCommand",
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
	{"RunTask", `{"cluster":"c","taskDefinition":"web","count":2,"startedBy":"me","group":"g","networkConfiguration":{"awsvpcConfiguration":{"subnets":["subnet-1"]}},"overrides":{"cpu":"512","containerOverrides":[{"name":"app","command":["x"],"environment":[{"name":"A","value":"b"}]}]},"tags":[{"key":"k","value":"v"}],"propagateTags":"TASK_DEFINITION","enableECSManagedTags":true}`},
	{"StartTask", `{"cluster":"c","taskDefinition":"web","containerInstances":["abc"]}`},
	{"CreateTaskSet", `{"cluster":"c","service":"svc","taskDefinition":"web","networkConfiguration":{"awsvpcConfiguration":{"subnets":["subnet-1"]}},"scale":{"value":50,"unit":"PERCENT"}}`},
	{"UpdateTaskSet", `{"cluster":"c","service":"svc","taskSet":"ecs-svc/1","scale":{"value":100}}`},
	{"UpdateServicePrimaryTaskSet", `{"cluster":"c","service":"svc","primaryTaskSet":"ecs-svc/1"}`},
	{"DeleteTaskSet", `{"cluster":"c","service":"svc","taskSet":"ecs-svc/1","force":true}`},
	{"DescribeTaskSets", `{"cluster":"c","service":"svc","include":["TAGS"]}`},
	{"UntagResource", `{"resourceArn":"arn:aws:ecs:us-east-1:000000000000:cluster/c","tagKeys":["a"]}`},
	{"UpdateCluster", `{"cluster":"c","settings":[{"name":"containerInsights","value":"enhanced"}],"serviceConnectDefaults":{"namespace":"ns"}}`},
	{"UpdateClusterSettings", `{"cluster":"c","settings":[{"name":"containerInsights","value":"enabled"}]}`},
	{"PutClusterCapacityProviders", `{"cluster":"c","capacityProviders":["FARGATE"],"defaultCapacityProviderStrategy":[{"capacityProvider":"FARGATE","weight":1,"base":1}]}`},
	{"CreateCapacityProvider", `{"name":"cp","autoScalingGroupProvider":{"autoScalingGroupArn":"arn:aws:autoscaling:x","managedScaling":{"targetCapacity":90}},"tags":[{"key":"k","value":"v"}]}`},
	{"UpdateCapacityProvider", `{"name":"cp","autoScalingGroupProvider":{"managedScaling":{"targetCapacity":50}}}`},
	{"DeleteCapacityProvider", `{"capacityProvider":"FARGATE"}`},
	{"DescribeCapacityProviders", `{"capacityProviders":["FARGATE","nope"],"include":["TAGS"]}`},
	{"PutAccountSetting", `{"name":"awsvpcTrunking","value":"enabled","principalArn":"arn:aws:iam::000000000000:user/u"}`},
	{"PutAccountSettingDefault", `{"name":"containerInsights","value":"enhanced"}`},
	{"DeleteAccountSetting", `{"name":"awsvpcTrunking"}`},
	{"ListAccountSettings", `{"effectiveSettings":true,"maxResults":2}`},
	{"PutAttributes", `{"cluster":"c","attributes":[{"name":"a","value":"b","targetId":"x"}]}`},
	{"DeleteAttributes", `{"cluster":"c","attributes":[{"name":"a","targetId":"x"}]}`},
	{"ListAttributes", `{"cluster":"c","targetType":"container-instance","attributeName":"a"}`},
	{"RegisterContainerInstance", `{"cluster":"c","instanceIdentityDocument":"{\"instanceId\":\"i-1\"}","attributes":[{"name":"a","value":"b"}]}`},
	{"DeregisterContainerInstance", `{"cluster":"c","containerInstance":"x","force":true}`},
	{"DescribeContainerInstances", `{"cluster":"c","containerInstances":["x"],"include":["TAGS"]}`},
	{"ListContainerInstances", `{"cluster":"c","filter":"attribute:a == b and ec2InstanceId == i-1"}`},
	{"UpdateContainerInstancesState", `{"cluster":"c","containerInstances":["x"],"status":"DRAINING"}`},
	{"ListTaskDefinitionFamilies", `{"status":"ALL","familyPrefix":"w"}`},
	{"GetTaskProtection", `{"cluster":"c","tasks":["x"]}`},
	{"UpdateTaskProtection", `{"cluster":"c","tasks":["x"],"protectionEnabled":true,"expiresInMinutes":10}`},
	{"ExecuteCommand", `{"cluster":"c","task":"x","command":"sh","interactive":true}`},
	// Malformed.
	{"RunTask", `{"cluster":"c","taskDefinition":"web","count":100,"overrides":{"containerOverrides":[{"name":7}]}}`},
	{"CreateTaskSet", `{"cluster":"c","service":"svc","taskDefinition":"web","scale":{"value":1e308}}`},
	{"ListContainerInstances", `{"cluster":"c","filter":"attribute:"}`},
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
