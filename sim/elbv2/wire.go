package elbv2

// The wire shapes of the ELBv2 API, named as the model names them (the
// JSON names are the Query protocol's member names; awsproto encodes them
// beside the SDK's schemas).

// LoadBalancer is a load balancer as DescribeLoadBalancers returns it.
type LoadBalancer struct {
	LoadBalancerArn       string             `json:"LoadBalancerArn"`
	LoadBalancerName      string             `json:"LoadBalancerName"`
	DNSName               string             `json:"DNSName"`
	CanonicalHostedZoneID string             `json:"CanonicalHostedZoneId"`
	CreatedTime           float64            `json:"CreatedTime"`
	Scheme                string             `json:"Scheme"`
	VpcID                 string             `json:"VpcId"`
	State                 LBState            `json:"State"`
	Type                  string             `json:"Type"`
	AvailabilityZones     []AvailabilityZone `json:"AvailabilityZones"`
	SecurityGroups        []string           `json:"SecurityGroups,omitempty"`
	IPAddressType         string             `json:"IpAddressType"`
}

// LBState is a load balancer's state code.
type LBState struct {
	Code   string `json:"Code"`
	Reason string `json:"Reason,omitempty"`
}

// AvailabilityZone is a zone a load balancer has a node in.
type AvailabilityZone struct {
	ZoneName string `json:"ZoneName"`
	SubnetID string `json:"SubnetId,omitempty"`
}

// TargetGroup is a target group as DescribeTargetGroups returns it.
type TargetGroup struct {
	TargetGroupArn             string   `json:"TargetGroupArn"`
	TargetGroupName            string   `json:"TargetGroupName"`
	Protocol                   string   `json:"Protocol,omitempty"`
	ProtocolVersion            string   `json:"ProtocolVersion,omitempty"`
	Port                       int32    `json:"Port,omitempty"`
	VpcID                      string   `json:"VpcId,omitempty"`
	TargetType                 string   `json:"TargetType"`
	IPAddressType              string   `json:"IpAddressType,omitempty"`
	HealthCheckEnabled         bool     `json:"HealthCheckEnabled"`
	HealthCheckProtocol        string   `json:"HealthCheckProtocol,omitempty"`
	HealthCheckPort            string   `json:"HealthCheckPort,omitempty"`
	HealthCheckPath            string   `json:"HealthCheckPath,omitempty"`
	HealthCheckIntervalSeconds int32    `json:"HealthCheckIntervalSeconds"`
	HealthCheckTimeoutSeconds  int32    `json:"HealthCheckTimeoutSeconds"`
	HealthyThresholdCount      int32    `json:"HealthyThresholdCount"`
	UnhealthyThresholdCount    int32    `json:"UnhealthyThresholdCount"`
	Matcher                    *Matcher `json:"Matcher,omitempty"`
	LoadBalancerArns           []string `json:"LoadBalancerArns"`
}

// Matcher is the HTTP codes a healthy target answers health checks with.
type Matcher struct {
	HTTPCode string `json:"HttpCode,omitempty"`
	GrpcCode string `json:"GrpcCode,omitempty"`
}

// Listener is a listener as DescribeListeners returns it.
type Listener struct {
	ListenerArn     string   `json:"ListenerArn"`
	LoadBalancerArn string   `json:"LoadBalancerArn"`
	Port            int32    `json:"Port"`
	Protocol        string   `json:"Protocol"`
	DefaultActions  []Action `json:"DefaultActions"`
}

// Action is a listener's or rule's action: forward (to one target group,
// or weighted ones) or fixed-response.
type Action struct {
	Type                string               `json:"Type"`
	Order               int32                `json:"Order,omitempty"`
	TargetGroupArn      string               `json:"TargetGroupArn,omitempty"`
	ForwardConfig       *ForwardConfig       `json:"ForwardConfig,omitempty"`
	FixedResponseConfig *FixedResponseConfig `json:"FixedResponseConfig,omitempty"`
}

// ForwardTargets returns the weighted target groups of a forward action
// (one of weight 1 when it names only TargetGroupArn); nil for another
// action.
func (a Action) ForwardTargets() []TargetGroupTuple {
	switch {
	case a.Type != "forward":
		return nil
	case a.ForwardConfig != nil && len(a.ForwardConfig.TargetGroups) > 0:
		out := make([]TargetGroupTuple, len(a.ForwardConfig.TargetGroups))
		for i, t := range a.ForwardConfig.TargetGroups {
			w := int32(1)
			if t.Weight != nil {
				w = *t.Weight
			}
			out[i] = TargetGroupTuple{TargetGroupArn: t.TargetGroupArn, Weight: &w}
		}
		return out
	}
	one := int32(1)
	return []TargetGroupTuple{{TargetGroupArn: a.TargetGroupArn, Weight: &one}}
}

// ForwardConfig forwards to weighted target groups.
type ForwardConfig struct {
	TargetGroups                []TargetGroupTuple `json:"TargetGroups"`
	TargetGroupStickinessConfig *Stickiness        `json:"TargetGroupStickinessConfig,omitempty"`
}

// TargetGroupTuple is one weighted target group of a forward action.
type TargetGroupTuple struct {
	TargetGroupArn string `json:"TargetGroupArn"`
	Weight         *int32 `json:"Weight,omitempty"`
}

// Stickiness is target group stickiness (accepted, not honoured: the
// data plane picks a target group per request).
type Stickiness struct {
	Enabled         bool  `json:"Enabled"`
	DurationSeconds int32 `json:"DurationSeconds,omitempty"`
}

// FixedResponseConfig answers requests without forwarding them.
type FixedResponseConfig struct {
	StatusCode  string `json:"StatusCode"`
	ContentType string `json:"ContentType,omitempty"`
	MessageBody string `json:"MessageBody,omitempty"`
}

// Rule is a listener rule as DescribeRules returns it.
type Rule struct {
	RuleArn    string          `json:"RuleArn"`
	Priority   string          `json:"Priority"`
	Conditions []RuleCondition `json:"Conditions"`
	Actions    []Action        `json:"Actions"`
	IsDefault  bool            `json:"IsDefault"`
}

// RuleCondition is one condition of a rule: path-pattern, host-header or
// http-header (http-request-method and source-ip are accepted and
// matched too, query-string is refused).
type RuleCondition struct {
	Field                   string             `json:"Field"`
	Values                  []string           `json:"Values,omitempty"`
	HostHeaderConfig        *ValuesConfig      `json:"HostHeaderConfig,omitempty"`
	PathPatternConfig       *ValuesConfig      `json:"PathPatternConfig,omitempty"`
	HTTPHeaderConfig        *HTTPHeaderConfig  `json:"HttpHeaderConfig,omitempty"`
	HTTPRequestMethodConfig *ValuesConfig      `json:"HttpRequestMethodConfig,omitempty"`
	QueryStringConfig       *QueryStringConfig `json:"QueryStringConfig,omitempty"`
}

// ValuesConfig is a condition's values.
type ValuesConfig struct {
	Values []string `json:"Values"`
}

// HTTPHeaderConfig matches one request header.
type HTTPHeaderConfig struct {
	HTTPHeaderName string   `json:"HttpHeaderName"`
	Values         []string `json:"Values"`
}

// QueryStringConfig matches query parameters (not supported).
type QueryStringConfig struct {
	Values []struct {
		Key   string `json:"Key,omitempty"`
		Value string `json:"Value"`
	} `json:"Values"`
}

// TargetDescription names a target: an IP address (target type ip) and
// its port.
type TargetDescription struct {
	ID               string `json:"Id"`
	Port             int32  `json:"Port,omitempty"`
	AvailabilityZone string `json:"AvailabilityZone,omitempty"`
}

// TargetHealthDescription is a target and its health.
type TargetHealthDescription struct {
	Target          TargetDescription `json:"Target"`
	HealthCheckPort string            `json:"HealthCheckPort,omitempty"`
	TargetHealth    TargetHealth      `json:"TargetHealth"`
}

// TargetHealth is a target's health state.
type TargetHealth struct {
	State       string `json:"State"`
	Reason      string `json:"Reason,omitempty"`
	Description string `json:"Description,omitempty"`
}

// Attribute is a load balancer's or target group's attribute.
type Attribute struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// Tag is a resource tag.
type Tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value,omitempty"`
}

// TagDescription is the tags of one resource.
type TagDescription struct {
	ResourceArn string `json:"ResourceArn"`
	Tags        []Tag  `json:"Tags"`
}
