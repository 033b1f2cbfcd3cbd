package main

// The docker runtime's commands: "meshsim clean", the hidden "meshsim
// container ..." entry points that meshsim's image runs, and the world
// that "meshsim run --runtime docker" starts.

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"

	"github.com/meshsim/meshsim/scenarios"
	"github.com/meshsim/meshsim/scenarios/engine"
	"github.com/meshsim/meshsim/sim/docker"
)

// envImageBinary names a static linux meshsim binary to put in the image
// in place of this executable (for example one cross-compiled on macOS
// with CGO_ENABLED=0 GOOS=linux go build).
const envImageBinary = "MESHSIM_IMAGE_BINARY"

// dockerCommands are the commands of the docker runtime.
func dockerCommands() []*cobra.Command {
	return []*cobra.Command{cleanCmd(), containerCmd()}
}

// envoyImageFlag is the run command's flag that names an Envoy image.
const envoyImageFlag = "envoy-image"

// Flags of the task containers' limits.
const (
	taskMemoryFlag = "task-memory"
	taskPIDsFlag   = "task-pids"
)

// dockerRunFlags adds the docker runtime's flags to the run command.
func dockerRunFlags(run *cobra.Command) {
	run.Flags().String(envoyImageFlag, "", "with --runtime docker: run this Envoy image, if Docker has it locally, as the sidecar (e.g. envoyproxy/envoy:v1.31-latest)")
	run.Flags().String(taskMemoryFlag, units.BytesSize(float64(docker.DefaultTaskLimits.Memory)),
		"with --runtime docker: memory limit of each task container (e.g. 256MiB, 1GiB); beyond it the container is OOM-killed")
	run.Flags().Int64(taskPIDsFlag, docker.DefaultTaskLimits.PIDs, "with --runtime docker: most processes and threads of each task container")
}

// taskLimits reads the task containers' limits from the run command's
// flags.
func taskLimits(cmd *cobra.Command) (docker.Limits, error) {
	mem, err := cmd.Flags().GetString(taskMemoryFlag)
	if err != nil {
		return docker.Limits{}, err
	}
	bytes, err := units.RAMInBytes(mem)
	if err != nil || bytes < 6<<20 {
		return docker.Limits{}, fmt.Errorf("--%s %q: want a size of at least 6MiB (Docker's minimum), e.g. 512MiB", taskMemoryFlag, mem)
	}
	pids, err := cmd.Flags().GetInt64(taskPIDsFlag)
	if err != nil {
		return docker.Limits{}, err
	}
	if pids < 1 {
		return docker.Limits{}, fmt.Errorf("--%s %d: want at least 1", taskPIDsFlag, pids)
	}
	return docker.Limits{Memory: bytes, PIDs: pids}, nil
}

// startDockerWorld starts a world whose fakes, tasks and sidecars run in
// containers, for "meshsim run --runtime docker": it finds the engine,
// builds meshsim's image unless the engine has it, and starts the fakes'
// container. Progress and the Envoy fallback go to the command's stderr.
func startDockerWorld(ctx context.Context, cmd *cobra.Command, sc *scenarios.Scenario) (*docker.World, error) {
	log := cmd.ErrOrStderr()
	envoyImage, err := cmd.Flags().GetString(envoyImageFlag)
	if err != nil {
		return nil, err
	}
	limits, err := taskLimits(cmd)
	if err != nil {
		return nil, err
	}
	quietTestcontainers()
	cli, err := docker.Connect(ctx)
	if err != nil {
		return nil, err
	}
	images, err := userImages(ctx, cli, sc)
	if err != nil {
		return nil, err
	}
	self := os.Getenv(envImageBinary)
	if self == "" {
		if self, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("locating the meshsim executable: %w", err)
		}
	}
	bin, removeBin, err := docker.Binary(ctx, cli, self, log)
	if err != nil {
		return nil, err
	}
	defer removeBin()
	tag, built, err := docker.EnsureImage(ctx, cli, bin, io.Discard)
	if err != nil {
		return nil, err
	}
	if built {
		fmt.Fprintf(log, "meshsim: built image %s (FROM scratch; later runs of this binary reuse it)\n", tag)
	}
	runID := docker.NewRunID()
	fmt.Fprintf(log, "meshsim: docker run %s: containers meshsim-%s-*, network meshsim-%s (after a crash: meshsim clean --run %s)\n",
		runID, runID, runID, runID)
	return docker.StartWorld(ctx, cli, docker.WorldOptions{
		RunID: runID, Image: tag, EnvoyImage: envoyImage, TimeScale: sc.TimeScale, Images: images, TaskLimits: limits, Log: log,
	})
}

// userImages returns the users' images the scenario's task definitions
// name, failing up front, at the version's place in the scenario, when the
// engine lacks one (meshsim pulls nothing).
func userImages(ctx context.Context, cli *testcontainers.DockerClient, sc *scenarios.Scenario) ([]string, error) {
	wanted, err := engine.UserImages(sc)
	if err != nil {
		return nil, err
	}
	images := make([]string, 0, len(wanted))
	for _, u := range wanted {
		if _, err := cli.ImageInspect(ctx, u.Image); err != nil {
			return nil, fmt.Errorf("%s: service %s version %s: image %s is not in the local Docker engine, and meshsim pulls nothing "+
				"(docker pull, build or load it first): %w", u.Pos, u.Service, u.Version, u.Image, err)
		}
		images = append(images, u.Image)
	}
	return images, nil
}

func cleanCmd() *cobra.Command {
	var (
		runID  string
		images bool
	)
	cmd := &cobra.Command{
		Use:   "clean",
		Short: "Remove the containers and networks meshsim runs left in Docker",
		Long: `Remove every container and network that a docker-runtime run left behind (after a
crash or kill -9; a run that ends normally, fails or is interrupted removes its own).
They are found by the label meshsim.run. This includes runs still in progress:
--run ID removes one run only. --images also removes meshsim's images
(meshsim/meshsim), which the next run builds again.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			quietTestcontainers()
			cli, err := docker.Connect(ctx)
			if err != nil {
				return &exitError{exitErrored, err}
			}
			defer cli.Close()
			rm, err := docker.Clean(ctx, cli, runID)
			if err == nil && images {
				rm.Images, err = docker.CleanImages(ctx, cli)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed %d containers, %d networks, %d images\n", rm.Containers, rm.Networks, rm.Images)
			if err != nil {
				return &exitError{exitErrored, err}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&runID, "run", "", "remove only this run's containers and network (the id in their names, meshsim-<id>-...)")
	cmd.Flags().BoolVar(&images, "images", false, "also remove meshsim's images")
	return cmd
}

// containerCmd holds the entry points of meshsim's image, one per role.
// They read their configuration from the environment, as containers do,
// and stop on SIGTERM.
func containerCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:    "container",
		Short:  "Entry points of meshsim's container image (docker runtime)",
		Hidden: true,
	}
	roles := []struct {
		use, short string
		run        func(ctx context.Context, env map[string]string, stdout io.Writer) error
	}{
		{"fakes", "Serve the fakes and the xDS control plane; ECS runs tasks as containers", docker.RunFakes},
		{"app", "Run the sample HTTP service of a task", func(ctx context.Context, env map[string]string, _ io.Writer) error {
			return docker.RunApp(ctx, env)
		}},
		{"grpc", "Run the sample gRPC service of a task", func(ctx context.Context, env map[string]string, _ io.Writer) error {
			return docker.RunGRPC(ctx, env)
		}},
		{"sidecar", "Run the embedded sidecar of a task", func(ctx context.Context, env map[string]string, _ io.Writer) error {
			return docker.RunSidecar(ctx, env)
		}},
	}
	for _, r := range roles {
		cmd.AddCommand(&cobra.Command{
			Use:   r.use,
			Short: r.short,
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
				defer stop()
				quietTestcontainers()
				if err := r.run(ctx, environ(), cmd.OutOrStdout()); err != nil {
					return &exitError{exitErrored, err}
				}
				return nil
			},
		})
	}
	return cmd
}

// environ returns the process environment as a map.
func environ() map[string]string {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return env
}

// quietTestcontainers keeps testcontainers-go's default logger (its
// engine banner) off meshsim's output; meshsim reports progress itself.
func quietTestcontainers() {
	tclog.SetDefault(tclog.NewNoopLogger())
}
