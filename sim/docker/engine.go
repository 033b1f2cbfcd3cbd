package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
)

// Labels every container and network of a run carries.
const (
	// LabelRun is the run id.
	LabelRun = "meshsim.run"
	// LabelRole is "fakes", "task" or "network".
	LabelRole = "meshsim.role"
	// LabelService is the ECS service that started the task (the task
	// definition family for a task no service started).
	LabelService = "meshsim.service"
	// LabelVersion is the sample service version (MESHSIM_VERSION), or
	// the task definition revision as "rev<N>".
	LabelVersion = "meshsim.version"
	// LabelTask is the ECS task id.
	LabelTask = "meshsim.task"
	// LabelContainer is the container's name in the task definition.
	LabelContainer = "meshsim.container"
)

// Roles (LabelRole values).
const (
	roleFakes   = "fakes"
	roleTask    = "task"
	roleNetwork = "network"
)

// ErrNoEngine is returned (wrapped) by Connect when no Docker engine
// answers.
var ErrNoEngine = errors.New("no Docker engine answered")

// connectTimeout bounds finding and pinging the engine.
const connectTimeout = 15 * time.Second

// Connect returns a client of the Docker engine that DOCKER_HOST, the
// testcontainers configuration or the default socket names, once it has
// answered a ping. Without an engine the error wraps ErrNoEngine and says
// what to do.
//
// Connect turns testcontainers-go's Ryuk reaper off for the process
// (TESTCONTAINERS_RYUK_DISABLED=true) before its first testcontainers
// call: Ryuk would be pulled from Docker Hub, and meshsim removes what it
// starts itself.
func Connect(ctx context.Context) (*testcontainers.DockerClient, error) {
	disableReaper()
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err == nil {
		if _, err = cli.Ping(ctx, client.PingOptions{}); err != nil {
			cli.Close()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w (%v): start Docker or point DOCKER_HOST at an engine, "+
			"or rehearse with the inproc runtime (--runtime inproc), which needs no Docker", ErrNoEngine, err)
	}
	return cli, nil
}

// disableReaper keeps testcontainers-go from starting Ryuk. Its
// configuration is read once per process, so this must run before the
// first testcontainers call; every entry point of the package goes through
// Connect, which calls it.
func disableReaper() {
	os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
}

// quiet is the logger given to testcontainers: meshsim reports progress
// itself.
var quiet = tclog.NewNoopLogger()

// NewRunID returns a fresh run id: 8 hex digits, unique enough that the
// names of two runs never collide on one engine.
func NewRunID() string {
	var b [4]byte
	rand.Read(b[:]) // never returns an error (see crypto/rand.Read)
	return hex.EncodeToString(b[:])
}

// name joins parts into a container or network name: "meshsim-" then the
// parts, with every character Docker does not accept replaced by '-'.
func name(parts ...string) string {
	var b strings.Builder
	b.WriteString("meshsim")
	for _, p := range parts {
		if p == "" {
			continue
		}
		b.WriteByte('-')
		for _, r := range p {
			switch {
			case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
				b.WriteRune(r)
			default:
				b.WriteByte('-')
			}
		}
	}
	return b.String()
}

// NetworkName is the name of a run's Docker network.
func NetworkName(runID string) string { return name(runID) }

// fakesName is the name of a run's fakes container, also its alias on the
// run network.
func fakesName(runID string) string { return name(runID, roleFakes) }

// runFilter selects the containers or networks of runID, or of every
// meshsim run when runID is "".
func runFilter(runID string) client.Filters {
	if runID == "" {
		return make(client.Filters).Add("label", LabelRun)
	}
	return make(client.Filters).Add("label", LabelRun+"="+runID)
}
