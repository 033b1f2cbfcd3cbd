package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/meshsim/meshsim/scenarios"
	"github.com/meshsim/meshsim/sim/contract"
)

// This file registers the user's own ECS definitions: the JSON documents
// they give `aws ecs register-task-definition --cli-input-json` and `aws
// ecs create-service --cli-input-json`. They go through the AWS API as
// they are, but for what cannot exist on this machine: an ECR image URI
// becomes the local tag, a command version's app container runs the
// command, the Envoy container joins the rehearsal's mesh, and the service
// joins the rehearsal's cluster, name and Cloud Map registry. Each change
// is recorded as a "definition.mapped" engine event. A member the AWS API
// does not know is an error naming it, as the AWS CLI makes it; the ECS
// fake reports the members it accepts but does not act on
// ("request.ignored" events).

// readCLIInput decodes the --cli-input-json document at path into in,
// refusing members the AWS API does not have.
func readCLIInput(path string, in any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(in); err != nil {
		return fmt.Errorf("%s: %w (the document must be valid input of the AWS API, as for --cli-input-json)", path, err)
	}
	return nil
}

// ecrImage matches a private ECR image URI: ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO[:TAG].
var ecrImage = regexp.MustCompile(`^[0-9]{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/`)

// localImage is the local tag of an image: an ECR URI without its
// registry, which a user builds and tags locally (docker build -t REPO:TAG).
func localImage(image string) string { return ecrImage.ReplaceAllString(image, "") }

// isEnvoy reports whether a container is the App Mesh proxy.
func isEnvoy(c ecstypes.ContainerDefinition) bool {
	return strings.Contains(aws.ToString(c.Image), "envoy")
}

// appContainerIndex finds the application's container: the one that maps
// the service's port.
func appContainerIndex(in *ecs.RegisterTaskDefinitionInput, port uint32) (int, error) {
	for i, c := range in.ContainerDefinitions {
		for _, pm := range c.PortMappings {
			if aws.ToInt32(pm.ContainerPort) == int32(port) && !isEnvoy(c) {
				return i, nil
			}
		}
	}
	return -1, fmt.Errorf("no container maps the service's port %d (portMappings[].containerPort)", port)
}

// userTaskDefinition reads version v's task definition file and maps it to
// unit u of this machine (see the file comment); mapped lists what changed.
func (w *world) userTaskDefinition(u unit, v scenarios.Version) (in *ecs.RegisterTaskDefinitionInput, mapped []string, err error) {
	s := u.service
	in = &ecs.RegisterTaskDefinitionInput{}
	if err := readCLIInput(v.TaskDefinitionFile, in); err != nil {
		return nil, nil, err
	}
	app, err := appContainerIndex(in, s.Port)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", v.TaskDefinitionFile, err)
	}
	hasEnvoy := false
	for i := range in.ContainerDefinitions {
		c := &in.ContainerDefinitions[i]
		name := aws.ToString(c.Name)
		if img := localImage(aws.ToString(c.Image)); img != aws.ToString(c.Image) {
			mapped = append(mapped, fmt.Sprintf("container %s: image %s → %s", name, aws.ToString(c.Image), img))
			c.Image = aws.String(img)
		}
		if isEnvoy(*c) {
			hasEnvoy = true
			c.Environment = slices.DeleteFunc(c.Environment, func(kv ecstypes.KeyValuePair) bool {
				return aws.ToString(kv.Name) == contract.EnvResourceARN || aws.ToString(kv.Name) == contract.EnvVirtualNodeName
			})
			c.Environment = append(c.Environment, ecstypes.KeyValuePair{Name: aws.String(contract.EnvResourceARN), Value: aws.String(w.nodeARN(u.name))})
			mapped = append(mapped, fmt.Sprintf("container %s: %s → %s", name, contract.EnvResourceARN, w.nodeARN(u.name)))
		}
		if i != app {
			continue
		}
		env := map[string]string{s.PortEnv: fmt.Sprint(s.Port), s.HostEnv: "0.0.0.0"}
		for k, val := range v.Env {
			env[k] = val
		}
		c.Environment = slices.DeleteFunc(c.Environment, func(kv ecstypes.KeyValuePair) bool {
			_, set := env[aws.ToString(kv.Name)]
			return set
		})
		c.Environment = append(c.Environment, keyValues(env)...)
		if len(v.Command) > 0 {
			mapped = append(mapped, fmt.Sprintf("container %s: image %s → the local command %q", name, aws.ToString(c.Image), v.Command))
			c.Image = aws.String(contract.CommandImage)
			c.EntryPoint, c.Command = nil, v.Command
			if dir := w.sc.Dir(); dir != "" {
				c.WorkingDirectory = aws.String(dir)
			}
		}
	}
	if in.NetworkMode != ecstypes.NetworkModeAwsvpc {
		// The rehearsal's services run on Fargate, in awsvpc mode, as ECS
		// requires of Fargate tasks (each task has its own address here).
		from := string(in.NetworkMode)
		if from == "" {
			from = "(bridge, the default)"
		}
		mapped = append(mapped, fmt.Sprintf("networkMode %s → awsvpc", from))
		in.NetworkMode = ecstypes.NetworkModeAwsvpc
	}
	if !u.sc && !hasEnvoy {
		in.ContainerDefinitions = append(in.ContainerDefinitions, w.sidecarContainer(u.name))
		mapped = append(mapped, "added the App Mesh proxy container envoy of virtual node "+u.name)
	}
	if !u.sc && in.ProxyConfiguration == nil {
		in.ProxyConfiguration = w.proxyConfiguration(s.Port)
	}
	return in, mapped, nil
}

// userServiceInput reads service s's service file for unit u running task
// definition td: it joins the rehearsal's cluster under the unit's name;
// the desired count is the version's unless the file sets one.
func (w *world) userServiceInput(u unit, td string) (*ecs.CreateServiceInput, []string, error) {
	in := &ecs.CreateServiceInput{}
	if err := readCLIInput(u.service.ServiceFile, in); err != nil {
		return nil, nil, err
	}
	var mapped []string
	for _, m := range []struct {
		what     string
		dst      **string
		to, from string
	}{
		{"cluster", &in.Cluster, w.sc.Cluster, aws.ToString(in.Cluster)},
		{"serviceName", &in.ServiceName, u.name, aws.ToString(in.ServiceName)},
		{"taskDefinition", &in.TaskDefinition, td, aws.ToString(in.TaskDefinition)},
	} {
		if m.from != m.to {
			mapped = append(mapped, fmt.Sprintf("%s %s → %s", m.what, m.from, m.to))
		}
		*m.dst = aws.String(m.to)
	}
	if in.DesiredCount == nil {
		in.DesiredCount = aws.Int32(int32(u.version.Count))
	}
	if len(in.ServiceRegistries) > 0 {
		mapped = append(mapped, "serviceRegistries → the rehearsal's Cloud Map service")
		in.ServiceRegistries = nil
	}
	if len(in.LoadBalancers) > 0 {
		mapped = append(mapped, "loadBalancers → none (the rehearsal's target groups are its own)")
		in.LoadBalancers = nil
	}
	return in, mapped, nil
}

// appName is the name of the application's container in unit u's task
// definition: "app", or the one of the user's task definition file that
// maps the service's port.
func (w *world) appName(u unit) string {
	if f := u.version.TaskDefinitionFile; f != "" {
		in := &ecs.RegisterTaskDefinitionInput{}
		if readCLIInput(f, in) == nil {
			if i, err := appContainerIndex(in, u.service.Port); err == nil {
				return aws.ToString(in.ContainerDefinitions[i].Name)
			}
		}
	}
	return "app"
}

// registerUserTaskDefinition registers version v of unit u from its task
// definition file.
func (w *world) registerUserTaskDefinition(ctx context.Context, u unit, v scenarios.Version) (string, error) {
	in, mapped, err := w.userTaskDefinition(u, v)
	if err != nil {
		return "", err
	}
	out, err := w.aws.ECS.RegisterTaskDefinition(ctx, in)
	if err != nil {
		return "", fmt.Errorf("ecs RegisterTaskDefinition from %s: %w", v.TaskDefinitionFile, err)
	}
	arn := aws.ToString(out.TaskDefinition.TaskDefinitionArn)
	w.mapped(arn, v.TaskDefinitionFile, mapped)
	return arn, nil
}

// mapped records what meshsim changed in the user's definition file to
// register it as resource.
func (w *world) mapped(resource, file string, changes []string) {
	if w.event == nil || len(changes) == 0 {
		return
	}
	w.event(contract.EventDefinitionMapped, resource, map[string]string{"file": file, "changes": strings.Join(changes, "; ")})
}
