package contract

// CloudWatch's part of the contract: where meshsim publishes its own
// observations as metrics, and the alarm events.

// CloudWatchPublishPath is where meshsim posts its observations as a
// PutMetricData body in JSON on the fakes' endpoint. Unlike the API's
// PutMetricData it takes AWS/ namespaces: these are the metrics AWS itself
// publishes (Service Connect's, ECS's).
const CloudWatchPublishPath = "/_meshsim/cloudwatch/metrics"

// SourceCloudWatch is the CloudWatch fake.
const SourceCloudWatch Source = "cloudwatch"

// EventAlarmState is an alarm's change of state (Resource: the alarm's
// name; Detail: DetailFrom, DetailTo, DetailReason, DetailDatapoints).
const EventAlarmState EventType = "alarm.state"

// EventPublishError (source engine) says the engine could not publish its
// observations to CloudWatch (Detail: DetailError); alarms then see
// missing data.
const EventPublishError EventType = "cloudwatch.publish.error"

// DetailDatapoints lists the datapoints of an evaluation that breached the
// alarm's threshold, as "RFC3339-TIME=VALUE", comma-separated.
const DetailDatapoints = "datapoints"

// CloudWatch namespaces and dimensions of the metrics meshsim publishes
// from its observations, as AWS publishes them.
const (
	// NamespaceECS holds Service Connect's traffic metrics (RequestCount,
	// HTTPCode_Target_5XX_Count, TargetResponseTime, …) with dimensions
	// ClusterName, ServiceName, DiscoveryName.
	NamespaceECS = "AWS/ECS"
	// NamespaceContainerInsights holds the task counts (RunningTaskCount,
	// PendingTaskCount, DesiredTaskCount) with ClusterName, ServiceName.
	NamespaceContainerInsights = "ECS/ContainerInsights"
	DimensionCluster           = "ClusterName"
	DimensionService           = "ServiceName"
	DimensionDiscoveryName     = "DiscoveryName"
	// DimensionVersion is meshsim's own: the same traffic metrics per
	// version of the service (the scenario's version name, one task
	// definition revision), which AWS does not publish.
	DimensionVersion = "Version"
)
