package cloudmap

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/meshsim/meshsim/sim/awsproto/awsprototest"
	"github.com/meshsim/meshsim/sim/endpoint"
)

// fuzzOps are the operations the fuzz target sends, by index.
var fuzzOps = []string{
	"CreateHttpNamespace", "CreatePrivateDnsNamespace", "GetNamespace", "ListNamespaces", "DeleteNamespace",
	"CreateService", "GetService", "ListServices", "DeleteService",
	"RegisterInstance", "DeregisterInstance", "GetInstance", "ListInstances",
	"DiscoverInstances", "DiscoverInstancesRevision", "UpdateInstanceCustomHealthStatus", "GetOperation",
	"CreatePublicDnsNamespace", "UpdateHttpNamespace", "UpdatePrivateDnsNamespace", "UpdatePublicDnsNamespace",
	"UpdateService", "GetServiceAttributes", "UpdateServiceAttributes", "DeleteServiceAttributes",
	"ListOperations", "GetInstancesHealthStatus", "ListTagsForResource", "TagResource", "UntagResource",
}

// fuzzSeeds are valid requests of each operation and malformed ones. In a
// body, $NS, $SVC and $OP stand for the ids of the namespace "apps", its
// service "movie" and the operation that registered instance "t1", which
// every input starts with.
var fuzzSeeds = []struct {
	op   string
	body string
}{
	{"CreateHttpNamespace", `{"Name":"web","CreatorRequestId":"tok","Description":"d","Tags":[{"Key":"k","Value":"v"}]}`},
	{"CreatePrivateDnsNamespace", `{"Name":"internal.local","Vpc":"vpc-1","Properties":{"DnsProperties":{"SOA":{"TTL":60}}}}`},
	{"GetNamespace", `{"Id":"$NS"}`},
	{"ListNamespaces", `{"MaxResults":1,"Filters":[{"Name":"TYPE","Values":["HTTP"],"Condition":"EQ"}]}`},
	{"DeleteNamespace", `{"Id":"$NS"}`},
	{"CreateService", `{"Name":"api","NamespaceId":"$NS","HealthCheckCustomConfig":{"FailureThreshold":1},"Type":"HTTP"}`},
	{"CreateService", `{"Name":"dns","NamespaceId":"$NS","DnsConfig":{"RoutingPolicy":"MULTIVALUE","DnsRecords":[{"Type":"A","TTL":10}]}}`},
	{"GetService", `{"Id":"$SVC"}`},
	{"ListServices", `{"Filters":[{"Name":"NAMESPACE_ID","Values":["$NS"],"Condition":"EQ"}],"MaxResults":5}`},
	{"DeleteService", `{"Id":"$SVC"}`},
	{"RegisterInstance", `{"ServiceId":"$SVC","InstanceId":"t2","CreatorRequestId":"r2","Attributes":{"AWS_INSTANCE_IPV4":"10.0.0.2","AWS_INSTANCE_PORT":"8080","AWS_INIT_HEALTH_STATUS":"UNHEALTHY","version":"v2"}}`},
	{"DeregisterInstance", `{"ServiceId":"$SVC","InstanceId":"t1"}`},
	{"GetInstance", `{"ServiceId":"$SVC","InstanceId":"t1"}`},
	{"ListInstances", `{"ServiceId":"$SVC","MaxResults":1,"NextToken":"MQ"}`},
	{"DiscoverInstances", `{"NamespaceName":"apps","ServiceName":"movie","HealthStatus":"HEALTHY_OR_ELSE_ALL","QueryParameters":{"version":"v1"},"OptionalParameters":{"x":"y"},"MaxResults":10}`},
	{"DiscoverInstancesRevision", `{"NamespaceName":"apps","ServiceName":"movie"}`},
	{"UpdateInstanceCustomHealthStatus", `{"ServiceId":"$SVC","InstanceId":"t1","Status":"UNHEALTHY"}`},
	{"GetOperation", `{"OperationId":"$OP"}`},
	{"CreatePublicDnsNamespace", `{"Name":"example.com","Properties":{"DnsProperties":{"SOA":{"TTL":60}}},"Tags":[{"Key":"k","Value":"v"}]}`},
	{"UpdateHttpNamespace", `{"Id":"$NS","UpdaterRequestId":"u1","Namespace":{"Description":"new"}}`},
	{"UpdatePrivateDnsNamespace", `{"Id":"$NS","Namespace":{"Description":"d","Properties":{"DnsProperties":{"SOA":{"TTL":5}}}}}`},
	{"UpdatePublicDnsNamespace", `{"Id":"$NS","Namespace":{"Description":"d"}}`},
	{"UpdateService", `{"Id":"$SVC","Service":{"Description":"d","DnsConfig":{"DnsRecords":[{"Type":"A","TTL":5}]},"HealthCheckConfig":{"Type":"TCP"}}}`},
	{"GetServiceAttributes", `{"ServiceId":"$SVC"}`},
	{"UpdateServiceAttributes", `{"ServiceId":"$SVC","Attributes":{"a":"1"}}`},
	{"DeleteServiceAttributes", `{"ServiceId":"$SVC","Attributes":["a"]}`},
	{"ListOperations", `{"Filters":[{"Name":"UPDATE_DATE","Values":["0","9e9"],"Condition":"BETWEEN"},{"Name":"TYPE","Values":["REGISTER_INSTANCE"],"Condition":"IN"}],"MaxResults":1}`},
	{"GetInstancesHealthStatus", `{"ServiceId":"$SVC","Instances":["t1"],"MaxResults":1}`},
	{"ListTagsForResource", `{"ResourceARN":"arn:aws:servicediscovery:us-east-1:000000000000:service/$SVC"}`},
	{"TagResource", `{"ResourceARN":"arn:aws:servicediscovery:us-east-1:000000000000:service/$SVC","Tags":[{"Key":"k","Value":"v"}]}`},
	{"UntagResource", `{"ResourceARN":"arn:aws:servicediscovery:us-east-1:000000000000:service/$SVC","TagKeys":["k"]}`},
	// Malformed.
	{"ListOperations", `{"Filters":[{"Name":"UPDATE_DATE","Values":["NaN","1e999"],"Condition":"BETWEEN"}]}`},
	{"CreateService", `{`},
	{"CreateService", `[]`},
	{"CreateService", `null`},
	{"CreateService", `{"Name":5}`},
	{"CreateHttpNamespace", "{\"Name\":\"a\xffb\"}"},
	{"CreateHttpNamespace", `{"Name":"a\u0000b"}`},
	{"RegisterInstance", `{"ServiceId":"$SVC","InstanceId":"../t","Attributes":{"AWS_INSTANCE_PORT":"99999999999999999999"}}`},
	{"ListInstances", `{"ServiceId":"$SVC","MaxResults":-1,"NextToken":"!!"}`},
	{"ListNamespaces", `{"MaxResults":1e400}`},
	{"DiscoverInstances", `{"NamespaceName":"","ServiceName":"movie","HealthStatus":"SOMETIMES"}`},
	{"GetOperation", `{"OperationId":{"a":1}}`},
}

// FuzzAPI sends one request to the Cloud Map API, through the fakes'
// endpoint, after a namespace, a service and an instance exist. Whatever
// the request, the answer is never a 5xx nor a panic, an error is in Cloud
// Map's shape, and the fake still answers DiscoverInstances and
// ListServices afterwards.
//
//	go test -run '^$' -fuzz FuzzAPI -fuzztime 5m ./sim/cloudmap/
func FuzzAPI(f *testing.F) {
	for _, s := range fuzzSeeds {
		for i, op := range fuzzOps {
			if op == s.op {
				f.Add(uint8(i), []byte(s.body))
			}
		}
	}
	f.Fuzz(func(t *testing.T, op uint8, body []byte) {
		fake := New(Options{}) // no bus: events are not what is fuzzed
		defer fake.Close()
		ep := endpoint.New(nil)
		ep.HandleTarget(TargetPrefix, fake)
		send := func(op string, body []byte) (int, []byte) {
			return awsprototest.Do(t, ep, awsprototest.Request{Target: TargetPrefix + "." + op, Body: body})
		}
		var ids struct {
			OperationID string `json:"OperationId"`
			Service     struct {
				ID string `json:"Id"`
			} `json:"Service"`
			Operation struct {
				Targets map[string]string `json:"Targets"`
			} `json:"Operation"`
		}
		must := func(op, body string) {
			status, out := send(op, []byte(body))
			if status != 200 || json.Unmarshal(out, &ids) != nil {
				t.Fatalf("setup %s: HTTP %d %s", op, status, out)
			}
		}
		must("CreateHttpNamespace", `{"Name":"apps"}`)
		must("GetOperation", `{"OperationId":"`+ids.OperationID+`"}`)
		ns := ids.Operation.Targets["NAMESPACE"]
		must("CreateService", `{"Name":"movie","NamespaceId":"`+ns+`","HealthCheckCustomConfig":{}}`)
		svc := ids.Service.ID
		must("RegisterInstance", `{"ServiceId":"`+svc+`","InstanceId":"t1","Attributes":{"AWS_INSTANCE_IPV4":"10.0.0.1","version":"v1"}}`)
		body = bytes.ReplaceAll(body, []byte("$NS"), []byte(ns))
		body = bytes.ReplaceAll(body, []byte("$SVC"), []byte(svc))
		body = bytes.ReplaceAll(body, []byte("$OP"), []byte(ids.OperationID))

		send(fuzzOps[int(op)%len(fuzzOps)], body)

		// The fake still works.
		if status, out := send("ListServices", nil); status != 200 {
			t.Fatalf("ListServices afterwards: HTTP %d %s", status, out)
		}
		status, out := send("DiscoverInstances", []byte(`{"NamespaceName":"apps","ServiceName":"movie","HealthStatus":"ALL"}`))
		if status != 200 && !bytes.Contains(out, []byte("NotFound")) {
			t.Fatalf("DiscoverInstances afterwards: HTTP %d %s", status, out)
		}
	})
}
