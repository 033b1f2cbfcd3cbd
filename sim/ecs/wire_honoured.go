package ecs

import "encoding/json"

// honoured lists, for each operation whose ignored members are reported,
// the request members the fake acts on. A member not listed, nor inside
// one listed, is accepted and echoed as ECS would, but has no effect
// here: checkRequest reports it. "[]" stands for any list index, "{}"
// for any map key. Operations not listed report only unknown members.
var honoured = map[string][]string{
	"CreateCluster": {"clusterName", "serviceConnectDefaults.namespace", "tags"},
	"RegisterTaskDefinition": {
		"family", "networkMode",
		"containerDefinitions[].name", "containerDefinitions[].image", "containerDefinitions[].essential",
		"containerDefinitions[].portMappings[].containerPort", "containerDefinitions[].portMappings[].protocol",
		"containerDefinitions[].portMappings[].name", "containerDefinitions[].portMappings[].appProtocol",
		"containerDefinitions[].environment", "containerDefinitions[].healthCheck", "containerDefinitions[].stopTimeout",
		"containerDefinitions[].entryPoint", "containerDefinitions[].command",
		"containerDefinitions[].workingDirectory", "containerDefinitions[].user",
	},
	"CreateService": append([]string{
		"cluster", "serviceName", "taskDefinition", "desiredCount", "schedulingStrategy",
		"deploymentController.type", "tags",
	}, serviceMembers...),
	"UpdateService": append([]string{
		"cluster", "service", "taskDefinition", "desiredCount", "forceNewDeployment",
	}, serviceMembers...),
}

// honouredPatterns are the pattern sets of honoured, by operation.
var honouredPatterns = func() map[string]*patternSet {
	out := map[string]*patternSet{}
	for op, list := range honoured {
		out[op] = patterns(list)
	}
	return out
}()

// serviceMembers are the members of CreateService and UpdateService that
// configure how the service deploys and is discovered.
var serviceMembers = []string{
	"deploymentConfiguration.maximumPercent", "deploymentConfiguration.minimumHealthyPercent",
	"deploymentConfiguration.deploymentCircuitBreaker", "deploymentConfiguration.strategy",
	"deploymentConfiguration.bakeTimeInMinutes", "deploymentConfiguration.linearConfiguration",
	"deploymentConfiguration.canaryConfiguration",
	"deploymentConfiguration.lifecycleHooks[].targetType", "deploymentConfiguration.lifecycleHooks[].hookTargetArn",
	"deploymentConfiguration.lifecycleHooks[].lifecycleStages", "deploymentConfiguration.lifecycleHooks[].hookDetails",
	"deploymentConfiguration.lifecycleHooks[].timeoutConfiguration",
	"serviceRegistries[].registryArn", "serviceRegistries[].port",
	"serviceRegistries[].containerName", "serviceRegistries[].containerPort",
	"networkConfiguration.awsvpcConfiguration.subnets",
	"serviceConnectConfiguration.enabled", "serviceConnectConfiguration.namespace",
	"serviceConnectConfiguration.services[].portName", "serviceConnectConfiguration.services[].discoveryName",
	"serviceConnectConfiguration.services[].clientAliases[].port",
	"serviceConnectConfiguration.services[].clientAliases[].dnsName",
	"serviceConnectConfiguration.services[].clientAliases[].testTrafficRules",
	"serviceConnectConfiguration.services[].ingressPortOverride",
	"serviceConnectConfiguration.services[].timeout",
	"loadBalancers[].targetGroupArn", "loadBalancers[].containerName", "loadBalancers[].containerPort",
	"loadBalancers[].advancedConfiguration", "healthCheckGracePeriodSeconds",
}

// resourceMembers name, for each reported operation, the member that
// names the resource the request makes or changes.
var resourceMembers = map[string]string{
	"CreateCluster":          "clusterName",
	"RegisterTaskDefinition": "family",
	"CreateService":          "serviceName",
	"UpdateService":          "service",
}

// resourceName returns the name of the resource a checked request of
// operation op makes or changes, or "".
func resourceName(op string, body []byte) string {
	var members map[string]json.RawMessage
	var name string
	if json.Unmarshal(body, &members) != nil || json.Unmarshal(members[resourceMembers[op]], &name) != nil {
		return ""
	}
	return name
}
