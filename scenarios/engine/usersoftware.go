package engine

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/scenarios"
	"github.com/meshsim/meshsim/sim/contract"
)

// This file runs the user's own software in the world (a version with an
// image or a command) and attributes the requests it serves by what the
// data plane reports, since the user's application names no version.

// userStopTimeout is the stopTimeout of a user's container when the
// version sets none: ECS's default.
const userStopTimeout = 30 * time.Second

// CheckUserSoftware checks that the runtime can run the scenario's
// versions of the user's software: a command is a local process (the
// inproc runtime), an image a container (the docker runtime). The error
// names the version's place in the scenario file.
func CheckUserSoftware(sc *scenarios.Scenario, runtime string) error {
	for _, s := range sc.Services {
		for _, v := range s.Versions {
			switch {
			case len(v.Command) > 0 && runtime == "docker":
				return fmt.Errorf("%s: service %q version %q runs a command, a local process: use the inproc runtime, or give an image for --runtime docker", v.Pos, s.Name, v.Name)
			case v.TaskDefinitionFile != "" && len(v.Command) == 0 && runtime != "docker":
				return fmt.Errorf("%s: service %q version %q: the images of %s run with --runtime docker; give a command to run the application as a local process", v.Pos, s.Name, v.Name, v.TaskDefinitionFile)
			case v.Image != "" && runtime != "docker":
				return fmt.Errorf("%s: service %q version %q runs the image %s: use --runtime docker, or give a command to run it as a local process", v.Pos, s.Name, v.Name, v.Image)
			}
		}
	}
	if runtime != "docker" {
		// A missing program fails the run before anything starts, at the
		// version's place, rather than as tasks that never start.
		return sc.CheckCommands()
	}
	return nil
}

// userContainer is the container of version v of service s when v runs
// the user's software: the image or command, with the version's
// environment, the port and address to listen on in the variables the
// service names (s.PortEnv, s.HostEnv), the service's port mapping, an
// HTTP health check on its health check path (commands only), and the stop
// timeout.
//
// The address given is 0.0.0.0, as in a container; the inproc runtime
// turns it into the task's own loopback address.
func (w *world) userContainer(s *scenarios.Service, v scenarios.Version) ecstypes.ContainerDefinition {
	env := make(map[string]string, len(v.Env)+2)
	for k, val := range v.Env {
		env[k] = val
	}
	env[s.PortEnv] = fmt.Sprint(s.Port)
	env[s.HostEnv] = "0.0.0.0"
	appProtocol := ecstypes.ApplicationProtocolHttp
	if s.Protocol == scenarios.ProtocolGRPC {
		appProtocol = ecstypes.ApplicationProtocolGrpc
	}
	stop := userStopTimeout
	if v.StopTimeout > 0 {
		stop = v.StopTimeout
	}
	c := ecstypes.ContainerDefinition{
		Name:         aws.String("app"),
		Essential:    aws.Bool(true),
		Environment:  keyValues(env),
		PortMappings: []ecstypes.PortMapping{{ContainerPort: aws.Int32(int32(s.Port)), Name: aws.String(string(s.Protocol)), AppProtocol: appProtocol}},
		StopTimeout:  aws.Int32(int32(stop / time.Second)),
	}
	// A command's health check is run by meshsim itself (the inproc
	// runtime reads curl's arguments); an image's would run inside the
	// image, which may have no shell or curl (FROM scratch, distroless), so
	// an image version gets none, as a task definition without one: ECS
	// then counts the container healthy once it runs. Give an image a
	// health check in its taskDefinitionFile.
	if s.Protocol != scenarios.ProtocolGRPC && len(v.Command) > 0 {
		c.HealthCheck = &ecstypes.HealthCheck{
			Command:  []string{"CMD-SHELL", fmt.Sprintf("curl -f http://localhost:%d%s || exit 1", s.Port, s.HealthCheckPath)},
			Interval: aws.Int32(5),
			Timeout:  aws.Int32(2),
			Retries:  aws.Int32(3),
			// The user's application may take a while to listen.
			StartPeriod: aws.Int32(30),
		}
	}
	if len(v.Command) > 0 {
		c.Image = aws.String(contract.CommandImage)
		c.Command = v.Command
		// The command runs where the scenario file is, so that the paths
		// in it are relative to the file, as the scenario's other paths.
		if dir := w.sc.Dir(); dir != "" {
			c.WorkingDirectory = aws.String(dir)
		}
	} else {
		c.Image = aws.String(v.Image)
	}
	return c
}

// UserImage is an image of the user's that a run's task definitions name.
type UserImage struct {
	Image            string
	Service, Version string
	// Pos is the version's place in the scenario file.
	Pos scenarios.Pos
}

// UserImages lists, once each, the user's images the scenario's task
// definitions will name: the versions' images and the containers of their
// task definition files (an ECR URI as its local tag), but for the App
// Mesh proxy and an app container that a command replaces. The docker
// runtime checks them before the run and starts no other image.
func UserImages(sc *scenarios.Scenario) ([]UserImage, error) {
	var out []UserImage
	add := func(s scenarios.Service, v scenarios.Version, img string) {
		if !slices.ContainsFunc(out, func(u UserImage) bool { return u.Image == img }) {
			out = append(out, UserImage{Image: img, Service: s.Name, Version: v.Name, Pos: v.Pos})
		}
	}
	for _, s := range sc.Services {
		for _, v := range s.Versions {
			if v.Image != "" {
				add(s, v, v.Image)
			}
			if v.TaskDefinitionFile == "" {
				continue
			}
			in := &ecs.RegisterTaskDefinitionInput{}
			if err := readCLIInput(v.TaskDefinitionFile, in); err != nil {
				return nil, fmt.Errorf("%s: service %q version %q: %w", v.Pos, s.Name, v.Name, err)
			}
			app, err := appContainerIndex(in, s.Port)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", v.Pos, v.TaskDefinitionFile, err)
			}
			for i, c := range in.ContainerDefinitions {
				if isEnvoy(c) || (i == app && len(v.Command) > 0) || aws.ToString(c.Image) == "" {
					continue
				}
				add(s, v, localImage(aws.ToString(c.Image)))
			}
		}
	}
	return out, nil
}

// taskBook knows, from ECS's task.state events, which task runs at each
// address, and from the engine's registrations which version each task
// definition runs: it names the version behind an endpoint the ingress
// proxy forwarded to (loadgen.HTTPConfig.Attribute).
type taskBook struct {
	mu       sync.Mutex
	byIP     map[string]bookedTask
	versions map[string]string // task definition ARN → version
}

type bookedTask struct {
	id, taskDefinition string
}

func newTaskBook() *taskBook {
	return &taskBook{byIP: map[string]bookedTask{}, versions: map[string]string{}}
}

// registered records that task definition arn runs version.
func (b *taskBook) registered(arn, version string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.versions[arn] = version
}

// observe follows the tasks' addresses.
func (b *taskBook) observe(e rundir.Event) {
	if e.Source != contract.SourceECS || e.Type != contract.EventTaskState {
		return
	}
	ip := e.Detail[contract.DetailIP]
	if ip == "" {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	// An address is reused once its task has stopped: the latest task
	// to report it holds it.
	b.byIP[ip] = bookedTask{id: e.Resource[strings.LastIndexByte(e.Resource, '/')+1:], taskDefinition: e.Detail[contract.DetailTaskDefinition]}
}

// version returns the version task definition arn runs, or else its
// FAMILY:REVISION.
func (b *taskBook) version(arn string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if v, ok := b.versions[arn]; ok {
		return v
	}
	return arn[strings.LastIndexByte(arn, '/')+1:]
}

// attribute returns the version and task at endpoint (host:port): the
// version the task's definition was registered for, or else the task
// definition's FAMILY:REVISION (one the user registered).
func (b *taskBook) attribute(endpoint string) (version, task string) {
	host, _, err := net.SplitHostPort(endpoint)
	if err != nil {
		host = endpoint
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.byIP[host]
	if !ok {
		return "", ""
	}
	version, ok = b.versions[t.taskDefinition]
	if !ok {
		version = t.taskDefinition[strings.LastIndexByte(t.taskDefinition, '/')+1:]
	}
	return version, t.id
}

// userSoftware reports whether a version of s runs the user's software.
func userSoftware(s *scenarios.Service) bool {
	for _, v := range s.Versions {
		if v.UserSoftware() {
			return true
		}
	}
	return false
}

// attributed reports whether the measured service's requests are to be
// attributed by the data plane: it runs the user's software and the
// ingress forwards to it directly (with Service Connect the ingress is a
// sample front service, which names its backends itself).
func attributed(sc *scenarios.Scenario) bool {
	if sc.Load.Measure != sc.Ingress.Service || sc.Routing != scenarios.RoutingAppMesh {
		return false
	}
	s, ok := sc.Service(sc.Ingress.Service)
	return ok && userSoftware(s)
}
