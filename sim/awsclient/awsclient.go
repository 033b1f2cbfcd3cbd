// Package awsclient configures the real aws-sdk-go-v2 clients to talk to the
// fakes' endpoint: static credentials (any are accepted), the endpoint as
// BaseEndpoint, and the "data-" host prefix that Cloud Map's DiscoverInstances
// would add to the endpoint's host switched off.
package awsclient

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/appmesh"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/servicediscovery"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Config returns an aws.Config for endpointURL (for example
// "http://127.0.0.1:4566") in region. apiOptions are added to every
// client's middleware stack (the engine records each call with one).
func Config(endpointURL, region string, apiOptions ...func(*middleware.Stack) error) aws.Config {
	return aws.Config{
		Region:           region,
		Credentials:      credentials.NewStaticCredentialsProvider("meshsim", "meshsim", ""),
		BaseEndpoint:     aws.String(endpointURL),
		APIOptions:       append([]func(*middleware.Stack) error{disableHostPrefix}, apiOptions...),
		RetryMaxAttempts: 3,
	}
}

// Clients holds one client per service the fakes serve.
type Clients struct {
	ECS      *ecs.Client
	CloudMap *servicediscovery.Client
	AppMesh  *appmesh.Client
	// CloudWatch speaks RPC v2 CBOR to the fake, as to AWS.
	CloudWatch *cloudwatch.Client
	Route53    *route53.Client
	// ELB speaks the Query protocol (XML answers) to the ELBv2 fake.
	ELB *elasticloadbalancingv2.Client
}

// New returns clients for endpointURL in region, with apiOptions as for
// Config.
func New(endpointURL, region string, apiOptions ...func(*middleware.Stack) error) Clients {
	cfg := Config(endpointURL, region, apiOptions...)
	return Clients{
		ECS:      ecs.NewFromConfig(cfg),
		CloudMap: servicediscovery.NewFromConfig(cfg),
		AppMesh:  appmesh.NewFromConfig(cfg),

		CloudWatch: cloudwatch.NewFromConfig(cfg),
		Route53:    route53.NewFromConfig(cfg),
		ELB:        elasticloadbalancingv2.NewFromConfig(cfg),
	}
}

// disableHostPrefix stops the SDK from prefixing the endpoint host (Cloud
// Map's DiscoverInstances would dial "data-127.0.0.1").
func disableHostPrefix(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("meshsimDisableHostPrefix",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			return next.HandleInitialize(smithyhttp.DisableEndpointHostPrefix(ctx, true), in)
		}), middleware.Before)
}
