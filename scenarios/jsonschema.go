package scenarios

import (
	"encoding/json"
	"sort"
)

// SchemaID is the $id of the scenario files' JSON Schema.
const SchemaID = "https://meshsim.dev/schemas/scenario.schema.json"

// JSONSchema returns the JSON Schema (draft 2020-12) of scenario files, for
// editors (yaml-language-server: `# yaml-language-server: $schema=...`).
// It is built from the same rules the parser applies: the enums of
// enums.go and schema.go (routings, protocols, strategies, fault actions,
// lifecycle stages, assertion kinds), the list limits (maxItems), the name
// patterns and the numeric ranges. Its objects name exactly the fields the
// parser knows (a test checks this against the parser's "unknown field"
// answers). Rules that span fields (weights summing to 100, a version
// that is a sample or the user's software) stay the validator's:
// `meshsim scenarios validate` reports them with file:line:col.
func JSONSchema() ([]byte, error) {
	return json.MarshalIndent(scenarioSchema(), "", "  ")
}

// object is a closed JSON Schema object: only the given properties.
func object(desc string, props map[string]any, required ...string) map[string]any {
	o := map[string]any{"type": "object", "additionalProperties": false, "properties": props}
	if desc != "" {
		o["description"] = desc
	}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

func str(desc string) map[string]any { return map[string]any{"type": "string", "description": desc} }

func pattern(desc, re string) map[string]any {
	return map[string]any{"type": "string", "description": desc, "pattern": re}
}

func number(desc string, lo, hi float64) map[string]any {
	return map[string]any{"type": "number", "description": desc, "minimum": lo, "maximum": hi}
}

func integer(desc string, lo, hi int) map[string]any {
	return map[string]any{"type": "integer", "description": desc, "minimum": lo, "maximum": hi}
}

func boolean(desc string) map[string]any {
	return map[string]any{"type": "boolean", "description": desc}
}

func listOf(field, desc string, items any) map[string]any {
	l := map[string]any{"type": "array", "description": desc, "items": items}
	if n, ok := maxItems[field]; ok {
		l["maxItems"] = n
	}
	return l
}

func enumOf[T ~string](desc string, values []T) map[string]any {
	e := make([]string, len(values))
	for i, v := range values {
		e[i] = string(v)
	}
	return map[string]any{"type": "string", "description": desc, "enum": e}
}

// durationPattern is what time.ParseDuration takes, without a sign.
const durationPattern = `^([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|ms|s|m|h)(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|ms|s|m|h))*$|^0$`

func duration(desc string) map[string]any {
	return pattern(desc+" (a duration such as 500ms, 10s or 2m)", durationPattern)
}

func stringMap(desc, keyPattern string) map[string]any {
	m := map[string]any{"type": "object", "description": desc, "additionalProperties": map[string]any{"type": "string"}}
	if keyPattern != "" {
		m["propertyNames"] = map[string]any{"pattern": keyPattern}
	}
	return m
}

func scenarioSchema() map[string]any {
	s := object("A meshsim scenario: the world to stand up, the load, the rollout and the assertions (docs/scenarios.md).", map[string]any{
		"name":        pattern("The scenario's name (meshsim run NAME)", validName.String()),
		"description": str("One line saying what the scenario rehearses"),
		"region":      pattern(regionName.rule, regionName.re.String()),
		"cluster":     pattern("The ECS cluster: "+clusterName.rule, clusterName.re.String()),
		"mesh":        pattern("The App Mesh mesh: "+meshName.rule, meshName.re.String()),
		"namespace":   str("The Cloud Map namespace, a DNS name such as shop.local"),
		"routing":     enumOf("How services find each other", Routings),
		"timeScale":   number("Run AWS-side durations N times faster", 1, 100000),
		"services":    listOf("services", "The microservices of the world", serviceSchema()),
		"ingress": object("The service the load enters by", map[string]any{
			"name":    pattern("The ingress proxy's name", validName.String()),
			"service": pattern("The service it forwards to", validName.String()),
			"virtualGateway": object("Run the ingress as an App Mesh virtual gateway (routing appmesh)", map[string]any{
				"port": integer("The gateway's listener port (default 8088)", 1, 65535),
				"routes": listOf("ingress.virtualGateway.routes", "Its gateway routes, highest priority first (default: prefix / to the ingress service)",
					object("An http gateway route", map[string]any{
						"name":          pattern("The gateway route's name (default route-N)", validName.String()),
						"prefix":        str("The path prefix it matches"),
						"path":          str("The exact path it matches"),
						"service":       pattern("The service it sends to (default the ingress service)", validName.String()),
						"rewritePrefix": str("Replaces the matched prefix: / by default, disabled to keep it, or a path"),
						"rewritePath":   str("Replaces the matched path"),
						"keepHostname":  boolean("Keep the client's Host instead of the virtual service's name"),
					})),
			}),
		}),
		"loadBalancer": object("The Application Load Balancer of routing alb", map[string]any{
			"port":                integer("The production listener's port", 1, 65535),
			"testPort":            integer("The test listener's port (BLUE_GREEN, LINEAR, CANARY)", 1, 65535),
			"deregistrationDelay": duration("How long a deregistered target drains"),
			"slowStart":           duration("How long a new target's weight ramps up (0: off)"),
			"healthCheckInterval": duration("The target groups' health-check interval"),
			"healthyThreshold":    integer("Passed checks before a target is healthy", 2, 10),
			"unhealthyThreshold":  integer("Failed checks before a target is unhealthy", 2, 10),
		}),
		"load":       loadSchema(),
		"rollout":    rolloutSchema(),
		"faults":     listOf("faults", "Tasks broken at a moment of the rollout", faultSchema()),
		"instrument": instrumentSchema(),
		"capacity":   capacitySchema(),
		"compare": object("Thresholds of meshsim compare for runs of this scenario", map[string]any{
			"alpha":            number("Significance level of each test", 1e-9, 0.5),
			"errorRatePp":      number("Smallest error-rate increase that counts, in percentage points", 0, 100),
			"weightErrorPp":    number("Smallest growth of a step's weight error that counts, in percentage points", 0, 100),
			"latencyTolerance": number("Smallest latency shift that counts, as a fraction of the baseline's median", 0, 100),
			"minLatencyShift":  duration("Smallest latency shift that counts"),
			"gate":             listOf("compare.gate", "The metric families that decide the verdict", enumOf("A metric family", CompareFamilies)),
		}),
		"dns":        dnsSchema(),
		"assertions": listOf("assertions", "The checks that set the exit code", assertionSchema()),
	}, "name")
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	s["$id"] = SchemaID
	s["title"] = "meshsim scenario"
	return s
}

func serviceSchema() map[string]any {
	return object("A microservice with one or more versions", map[string]any{
		"name":            pattern("The service's name", validName.String()),
		"port":            integer("The port it listens on", 1, 65535),
		"backends":        listOf("services[].backends", "The services it calls on each request", pattern("A service name", validName.String())),
		"healthCheckPath": pattern("The container health check's path", healthPath.String()),
		"protocol":        enumOf("What the service speaks", Protocols),
		"portEnv":         pattern("The environment variable that tells your software its port", validEnvName.String()),
		"hostEnv":         pattern("The environment variable that tells your software its address", validEnvName.String()),
		"serviceFile":     str("An ECS CreateService input (JSON), relative to the scenario"),
		"retries":         integer("Retries of the service's App Mesh route", 0, 25),
		"versions":        listOf("services[].versions", "The versions (one ECS service each)", versionSchema()),
	}, "name")
}

func versionSchema() map[string]any {
	return object("A version: one of meshsim's sample services (knobs) or your software (image, command or taskDefinitionFile)", map[string]any{
		"name":                pattern("The version's name", validVersion.String()),
		"count":               integer("How many tasks", 0, 50),
		"latency":             duration("The sample's latency"),
		"latencyDistribution": enumOf("How the sample's latency varies around latency", []string{"fixed", "exponential", "uniform", "lognormal"}),
		"cpu":                 duration("CPU time the sample spends on each request"),
		"concurrency":         integer("Requests the sample serves at once (0: no limit)", 0, 100000),
		"errorRate":           number("The sample's share of 500 answers", 0, 1),
		"startDelay":          duration("How long the sample takes to start"),
		"shutdown":            enumOf("How the sample stops", []string{"graceful", "abrupt"}),
		"drain":               duration("How long a graceful sample drains"),
		"crashAfter":          duration("The sample exits after this long"),
		"health":              enumOf("What the sample's health check answers", []string{"ok", "fail"}),
		"image":               str("A local Docker image (docker runtime)"),
		"command":             map[string]any{"type": "array", "minItems": 1, "items": map[string]any{"type": "string"}, "description": "A local command, one process per task (inproc runtime)"},
		"env":                 stringMap("Environment variables of your software", validEnvName.String()),
		"taskDefinitionFile":  str("An ECS RegisterTaskDefinition input (JSON), relative to the scenario"),
		"stopTimeout":         duration("ECS's stopTimeout, whole seconds from 2s to 120s"),
	}, "name")
}

func loadSchema() map[string]any {
	return object("The load driven through the ingress", map[string]any{
		"rate":        number("Requests per second", 0.1, 20000),
		"timeout":     duration("A request's timeout"),
		"path":        str("The request path, starting with /"),
		"measure":     pattern("The service whose versions are measured", validName.String()),
		"streams":     integer("Long-lived gRPC streams", 0, 20000),
		"streamKind":  enumOf("The kind of gRPC streams", []string{"subscribe", "chat", "both"}),
		"client":      enumOf("How gRPC load reaches the service", []string{"sidecar", "proxyless"}),
		"connections": integer("Connections of the HTTP load generator", 1, 1000),
		"targetsFile": str("A vegeta targets file, relative to the scenario"),
		"requests": listOf("load.requests", "Weighted requests", object("One request", map[string]any{
			"method":  str("The HTTP method"),
			"path":    str("The request path, starting with /"),
			"headers": stringMap("Request headers", ""),
			"body":    str("The request body"),
			"weight":  integer("Its relative weight", 1, 1000000),
		}, "path")),
		"grpcMethod":  pattern("The gRPC method, package.Service/Method", validGRPCMethod.String()),
		"grpcRequest": map[string]any{"type": []string{"object", "string"}, "description": "The request message as JSON (a mapping or a string of JSON)"},
		"protoset":    str("A protoset file describing grpcMethod, relative to the scenario"),
	})
}

func rolloutSchema() map[string]any {
	percentBake := func(desc string, lo float64) map[string]any {
		return object(desc, map[string]any{
			"percent": number("Percent of traffic", lo, 100),
			"bake":    duration("Bake time"),
		})
	}
	hook := object("A lifecycle hook answered by a gate", map[string]any{
		"stages":       listOf("hooks[].stages", "The lifecycle stages it answers", enumOf("A lifecycle stage", LifecycleStages)),
		"maxErrorRate": number("The largest error rate that passes", 0, 1),
		"maxP99":       duration("The largest p99 that passes"),
		"window":       duration("The window judged"),
		"minRequests":  integer("The fewest requests to judge", 1, 1000000),
		"noDataWait":   duration("How long to wait for data"),
		"onNoData":     enumOf("The answer without data", OnNoDatas),
		"analysis": object("A Kayenta-style canary analysis: the new version against the old one in the same window", map[string]any{
			"pass":         number("The score that passes", 0, 100),
			"marginal":     number("The score that is marginal (below: fail)", 0, 100),
			"confLevel":    number("The tests' confidence level", 0.5, 0.9999),
			"interval":     duration("The intervals of the Flagger and Argo Rollouts verdicts"),
			"threshold":    integer("Flagger's threshold of failed checks", 1, 1000),
			"failureLimit": integer("Argo Rollouts' failureLimit", 0, 1000),
		}),
	})
	deployment := object("An ECS deployment (UpdateService)", map[string]any{
		"name":                  str("The deployment's name"),
		"to":                    pattern("The version deployed", validName.String()),
		"strategy":              enumOf("ECS's deployment strategy", Strategies),
		"minimumHealthyPercent": integer("ECS's minimumHealthyPercent", 0, 100),
		"maximumPercent":        integer("ECS's maximumPercent", 100, 200),
		"circuitBreaker": object("ECS's deployment circuit breaker", map[string]any{
			"enable": boolean("Enable the circuit breaker"), "rollback": boolean("Roll back when it trips"),
		}),
		"bake":          duration("ECS's bakeTimeInMinutes (not for ROLLING)"),
		"canary":        percentBake("CANARY configuration", 0.1),
		"linear":        percentBake("LINEAR configuration", 3),
		"hooks":         listOf("deployments[].hooks", "Lifecycle hooks", hook),
		"alarms":        listOf("deployments[].alarms", "CloudWatch alarms the deployment watches (deploymentConfiguration.alarms)", alarmSchema()),
		"alarmRollback": boolean("Roll back when an alarm goes into ALARM (default true)"),
		"expect":        enumOf("How the deployment should end", []string{"SUCCESSFUL", "ROLLBACK_SUCCESSFUL"}),
		"hold":          duration("How long the settled state is held"),
		"expectReason":  str("The expected rollback reason"),
	}, "to")
	step := object("A route step: weights held for a bake time", map[string]any{
		"name":    str("The step's name"),
		"bake":    duration("How long the weights are held"),
		"weights": map[string]any{"type": "object", "description": "Percent per version, summing to 100", "additionalProperties": integer("Percent", 0, 100)},
	}, "weights")
	return object("How the new version is rolled out: route steps or ECS deployments", map[string]any{
		"service":     pattern("The service rolled out", validName.String()),
		"steps":       listOf("rollout.steps", "Route steps", step),
		"deployments": listOf("rollout.deployments", "ECS deployments", deployment),
	})
}

func faultSchema() map[string]any {
	return object("A fault", map[string]any{
		"action":  enumOf("What is done to the tasks", FaultActions),
		"service": pattern("The service", validName.String()),
		"version": pattern("The version", validVersion.String()),
		"count":   integer("How many tasks", 1, 100),
		"step":    str("The step (or the prefix of a deployment phase) it happens in"),
		"after":   duration("How long into the step"),
		"at":      duration("How long after the load started"),
		"delay":   duration("The delay a delay fault adds"),
		"percent": number("The share a drop fault drops", 0, 100),
	}, "action")
}

func dnsSchema() map[string]any {
	return object("Route 53 weighted records and the clients that resolve them (routing: route53)", map[string]any{
		"zone":               str("The hosted zone's name (default NAME.test)"),
		"record":             str("The name the clients resolve, relative to the zone (default the rolled service's name)"),
		"ttl":                duration("The records' TTL, whole seconds of AWS time (default 60s)"),
		"clients":            integer("The number of clients, each with its own DNS cache and connections", 1, 10000),
		"cache":              enumOf("How the clients cache answers", []string{"ttl", "forever", "none"}),
		"keepAlive":          boolean("Whether the clients reuse their connections (default true)"),
		"connectionLifetime": duration("How long a client keeps using a connection (AWS time; 0: until the server closes it)"),
		"healthChecks":       boolean("Give each version's record a Route 53 health check"),
	})
}

func instrumentSchema() map[string]any {
	return object("Limits on meshsim's own measurement beyond which a step is INCONCLUSIVE", map[string]any{
		"maxLag":      duration("The load generator's p99 lag"),
		"minAchieved": number("The smallest achieved/offered rate", 0, 1),
		"maxCPUWait":  duration("The p99 CPU wait of meshsim's goroutines"),
	})
}

// assertionSchema is a name (no-value kinds) or a one-pair mapping.
func assertionSchema() map[string]any {
	var bare []string
	valued := map[string]any{}
	kinds := make([]string, 0, len(AssertionKinds))
	for k := range AssertionKinds {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		desc := AssertionKinds[k]
		switch k {
		case "no-failed-requests", "deployments-as-expected", "no-message-lost":
			bare = append(bare, k)
		case "latency-p99-below", "streams-resumed-within":
			valued[k] = duration(desc)
		case "max-error-rate":
			valued[k] = number(desc, 0, 1)
		case "weight-within":
			valued[k] = number(desc, 0, 100)
		case "weight-binomial":
			valued[k] = number(desc, 0.5, 10)
		}
	}
	pair := object("An assertion with a value", valued)
	pair["minProperties"], pair["maxProperties"] = 1, 1
	return map[string]any{"oneOf": []any{
		map[string]any{"type": "string", "enum": bare, "description": "An assertion without a value"},
		pair,
	}}
}
