package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/meshsim/meshsim/sim/poll"
)

// Ports of the fakes' container.
const (
	// FakesAPIPort is the AWS endpoint's port in the fakes' container.
	FakesAPIPort = 4566
	// FakesXDSPort is the xDS control plane's port, which sidecars reach on
	// the run network.
	FakesXDSPort = 18000
)

// fakesStartTimeout bounds the fakes' container getting ready.
const fakesStartTimeout = 60 * time.Second

// fakesStopGrace is how long the fakes get to stop their tasks (each with
// its own grace) before everything of the run is removed by force.
const fakesStopGrace = 20 * time.Second

// publishAttempts bounds starting the fakes' container again when the
// engine fails to publish a free port (port 0) because another process
// took the one it picked meanwhile.
const publishAttempts = 3

// WorldOptions configure a world whose fakes and tasks run in containers.
type WorldOptions struct {
	// RunID names and labels the run's containers and network; default
	// NewRunID().
	RunID string
	// Image is meshsim's image (see EnsureImage). Required.
	Image string
	// EnvoyImage, when set, runs the sidecars if the engine has it; if not,
	// Log says so and the embedded sidecar runs.
	EnvoyImage string
	// Addr is the host address the AWS endpoint is published on; default
	// 127.0.0.1:0 (a free port).
	Addr string
	// TimeScale and DeregistrationDelay are the fakes' sim.Options of the
	// same names.
	TimeScale           float64
	DeregistrationDelay time.Duration
	// Images are the users' images the run's task definitions may name
	// (see Options.Images). StartWorld fails at once, naming the image,
	// when the engine lacks one.
	Images []string
	// TaskLimits bound each task container, FakesLimits the fakes'; zero
	// fields take DefaultTaskLimits' and DefaultFakesLimits'.
	TaskLimits, FakesLimits Limits
	// Log receives what the user should know as the world starts; nil
	// discards it.
	Log io.Writer
}

// World is a simulated world in containers: the fakes' container and,
// started by its ECS fake, the tasks, on a network made for the run.
type World struct {
	// Endpoint is the AWS endpoint's URL on the host, on 127.0.0.1.
	Endpoint string
	// XDSAddress is the control plane's host:port on the host (published
	// on the endpoint's address), for proxyless gRPC clients.
	XDSAddress string
	// RunID is the run's id; Network its Docker network.
	RunID   string
	Network string
	// EnvoyImage is the image that runs the sidecars, "" for the embedded
	// sidecar.
	EnvoyImage string
	// Faults breaks the run's tasks on purpose.
	Faults *Faults

	cli     *testcontainers.DockerClient
	fakesID string
	token   string
	conn    net.Conn // the control channel
	// served is closed once the control channel has ended and the
	// runtime has stopped what was left; servedErr says how that went.
	served    chan struct{}
	servedErr error
	once      sync.Once
	err       error
}

// StartWorld makes the run's network and starts the fakes' container on
// it ("meshsim container fakes"), its API port published on opts.Addr and
// its xDS port on a free port of the same address; then it connects to
// the fakes' control channel and runs, in this process, the docker
// runtime that starts and stops the tasks the fakes' ECS decides on. The
// fakes' container holds no Docker socket, runs as User with no
// capabilities, and stops itself (and so every task, which shares its PID
// namespace) when this process is gone (see HeartbeatTimeout). It returns
// once the endpoint answers on the host and the run network is reachable
// from the host (the engine sends load to task addresses there). On error,
// whatever it started is removed.
func StartWorld(ctx context.Context, cli *testcontainers.DockerClient, opts WorldOptions) (*World, error) {
	if opts.Image == "" {
		return nil, errors.New("docker world: WorldOptions.Image is empty")
	}
	if opts.RunID == "" {
		opts.RunID = NewRunID()
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	hostAddr, err := netip.ParseAddrPort(opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("docker world: address %q: want ip:port: %w", opts.Addr, err)
	}
	w := &World{RunID: opts.RunID, cli: cli}
	if opts.EnvoyImage != "" {
		if _, err := cli.ImageInspect(ctx, opts.EnvoyImage); err == nil {
			w.EnvoyImage = opts.EnvoyImage
		} else {
			fmt.Fprintf(opts.Log, "meshsim: the Envoy image %s is not in the local Docker engine and meshsim pulls nothing: "+
				"the sidecars are meshsim's embedded sidecar (same xDS). To use Envoy, docker pull or load %s first.\n",
				opts.EnvoyImage, opts.EnvoyImage)
		}
	}

	for _, img := range opts.Images {
		if _, err := cli.ImageInspect(ctx, img); err != nil {
			return nil, fmt.Errorf("image %s is not in the local Docker engine, and meshsim pulls nothing "+
				"(docker pull, build or load it first): %w", img, err)
		}
	}

	if w.Network, err = CreateNetwork(ctx, cli, opts.RunID); err != nil {
		return nil, err
	}
	w.Faults = NewFaults(cli, opts.RunID, w.Network)
	fail := func(err error) (*World, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if _, cerr := Clean(ctx, cli, opts.RunID); cerr != nil {
			err = errors.Join(err, fmt.Errorf("cleaning up: %w", cerr))
		}
		return nil, err
	}

	var fakesIP string
	for attempt := 1; ; attempt++ {
		fakesIP, err = w.startFakes(ctx, opts, hostAddr)
		if err == nil {
			break
		}
		if !errors.Is(err, errPortTaken) || hostAddr.Port() != 0 || attempt == publishAttempts {
			return fail(err)
		}
		// The engine picked a free port that another process took
		// meanwhile: try again with another.
		if rmErr := remove(ctx, cli, []string{w.fakesID}); rmErr != nil {
			return fail(errors.Join(err, rmErr))
		}
		w.fakesID = ""
	}
	if err := w.serve(ctx, opts, fakesIP); err != nil {
		return fail(err)
	}
	return w, nil
}

// serve connects to the fakes' control channel and serves it with a
// docker runtime until the fakes exit.
func (w *World) serve(ctx context.Context, opts WorldOptions, fakesIP string) error {
	conn, err := dialControl(ctx, net.JoinHostPort(fakesIP, strconv.Itoa(FakesControlPort)), w.token)
	if err != nil {
		return err
	}
	w.conn = conn
	wire := newWire(conn)
	rt, err := New(w.cli, Options{
		RunID:        opts.RunID,
		Network:      w.Network,
		Image:        opts.Image,
		XDSAddress:   net.JoinHostPort(fakesName(opts.RunID), strconv.Itoa(FakesXDSPort)),
		EnvoyImage:   w.EnvoyImage,
		Events:       emitter{wire},
		Images:       opts.Images,
		PIDNamespace: w.fakesID,
		Limits:       opts.TaskLimits,
	})
	if err != nil {
		conn.Close()
		return err
	}
	w.served = make(chan struct{})
	go func() {
		defer close(w.served)
		w.servedErr = serveHost(conn, wire, rt)
	}()
	return nil
}

// startFakes runs the fakes' container and waits until it serves; it
// returns the container's address on the run network.
func (w *World) startFakes(ctx context.Context, opts WorldOptions, hostAddr netip.AddrPort) (string, error) {
	apiPort := network.MustParsePort(strconv.Itoa(FakesAPIPort) + "/tcp")
	xdsPort := network.MustParsePort(strconv.Itoa(FakesXDSPort) + "/tcp")
	w.token = newToken()
	fakesEnv := map[string]string{
		EnvRunID:               opts.RunID,
		EnvControlToken:        w.token,
		EnvTimeScale:           strconv.FormatFloat(opts.TimeScale, 'g', -1, 64),
		EnvDeregistrationDelay: opts.DeregistrationDelay.String(),
	}
	limits := opts.FakesLimits.orDefault(DefaultFakesLimits)
	c, err := testcontainers.Run(ctx, opts.Image,
		testcontainers.WithLogger(quiet),
		testcontainers.WithName(fakesName(opts.RunID)),
		testcontainers.WithLabels(map[string]string{LabelRun: opts.RunID, LabelRole: roleFakes}),
		testcontainers.WithCmd("container", "fakes"),
		testcontainers.WithEnv(fakesEnv),
		testcontainers.WithExposedPorts(apiPort.String(), xdsPort.String()),
		tcnetwork.WithNetworkName([]string{fakesName(opts.RunID)}, w.Network),
		testcontainers.WithConfigModifier(func(cfg *container.Config) { cfg.User = User }),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.NetworkMode = container.NetworkMode(w.Network)
			// Task containers join its PID namespace.
			hc.PidMode = "shareable"
			harden(hc, limits)
			hc.PortBindings = network.PortMap{
				apiPort: {{HostIP: hostAddr.Addr(), HostPort: portText(hostAddr.Port())}},
				xdsPort: {{HostIP: hostAddr.Addr()}},
			}
		}),
		testcontainers.WithWaitStrategy(wait.ForLog(FakesReady).WithStartupTimeout(fakesStartTimeout).WithPollInterval(fakesPollInterval)),
	)
	if c != nil {
		w.fakesID = c.GetContainerID()
	}
	if err != nil {
		return "", w.fakesError(ctx, hostAddr, err)
	}
	mapped, err := c.MappedPort(ctx, apiPort.String())
	if err != nil {
		return "", fmt.Errorf("the fakes' container publishes no API port: %w", err)
	}
	w.Endpoint = "http://" + net.JoinHostPort(hostAddr.Addr().String(), strconv.Itoa(int(mapped.Num())))
	if mapped, err = c.MappedPort(ctx, xdsPort.String()); err != nil {
		return "", fmt.Errorf("the fakes' container publishes no xDS port: %w", err)
	}
	w.XDSAddress = net.JoinHostPort(hostAddr.Addr().String(), strconv.Itoa(int(mapped.Num())))
	in, err := c.Inspect(ctx)
	if err != nil {
		return "", fmt.Errorf("inspecting the fakes' container: %w", err)
	}
	ip, err := networkIP(in, w.Network)
	if err != nil {
		return "", fmt.Errorf("the fakes' container: %w", err)
	}
	// The engine sends load to task addresses on the run network, which
	// only a Linux host with a local engine reaches.
	if err := answers(ctx, "http://"+net.JoinHostPort(ip, strconv.Itoa(FakesAPIPort))+"/"); err != nil {
		return "", fmt.Errorf("addresses on the run's Docker network (%s) are not reachable from this host (%v): "+
			"the docker runtime needs a Linux host with a local engine (not Docker Desktop's VM or a remote engine); "+
			"use the inproc runtime (--runtime inproc) instead", ip, err)
	}
	if err := answers(ctx, w.Endpoint+"/"); err != nil {
		return "", fmt.Errorf("the fakes' endpoint %s does not answer: %w", w.Endpoint, err)
	}
	return ip, nil
}

// errPortTaken is wrapped by the error of a world whose API port is
// taken.
var errPortTaken = errors.New("the port is taken")

// fakesError explains why the fakes' container did not start.
func (w *World) fakesError(ctx context.Context, hostAddr netip.AddrPort, err error) error {
	msg := err.Error()
	if strings.Contains(msg, "port is already allocated") || strings.Contains(msg, "address already in use") {
		return fmt.Errorf("publishing the AWS endpoint on %s: %w; choose another address, or port 0 for a free one: %w", hostAddr, errPortTaken, err)
	}
	if w.fakesID != "" {
		if line := lastLogLine(context.WithoutCancel(ctx), w.cli, w.fakesID); line != "" {
			return fmt.Errorf("the fakes' container did not start: %w; its last words: %s", err, line)
		}
	}
	return fmt.Errorf("the fakes' container did not start: %w", err)
}

// fakesPollInterval is how often the fakes' log is read for FakesReady
// while they start (some 0.5 s on a 2-core machine): testcontainers' 100 ms
// default would add 50 ms to every docker run's start on average.
const fakesPollInterval = 20 * time.Millisecond

// FakesReady is the line "meshsim container fakes" prints once it serves.
const FakesReady = "meshsim fakes: ready"

// answers waits (a few seconds at most) until url answers any HTTP
// response.
func answers(ctx context.Context, url string) error {
	client := &http.Client{Timeout: time.Second}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var last error
	err := poll.Until(ctx, 100*time.Millisecond, func(ctx context.Context) (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false, err
		}
		resp, err := client.Do(req)
		if err != nil {
			last = err
			return false, nil
		}
		resp.Body.Close()
		return true, nil
	})
	if err != nil && last != nil {
		return last
	}
	return err
}

// portText is a host port for a port binding; "" asks for a free one.
func portText(p uint16) string {
	if p == 0 {
		return ""
	}
	return strconv.Itoa(int(p))
}

// CreateNetwork makes the run's bridge network, NetworkName(runID), with
// a subnet of its own configuration, so that a task reconnected after a
// Disconnect fault gets the address it had (Docker assigns a chosen
// address only on such networks). The subnet is the first of Docker's
// default address pools that no network of the engine and no address or
// route of the host overlaps (see freeSubnet); when the engine refuses it
// (another process took it meanwhile), Docker picks a free subnet for a
// throwaway network first. Choosing it here saves that throwaway
// network's creation and removal, a third of a second of every docker
// run's start.
func CreateNetwork(ctx context.Context, cli *testcontainers.DockerClient, runID string) (string, error) {
	name := NetworkName(runID)
	labels := map[string]string{LabelRun: runID, LabelRole: roleNetwork}
	create := func(subnet netip.Prefix) error {
		_, err := cli.NetworkCreate(ctx, name, client.NetworkCreateOptions{
			Driver: "bridge",
			Labels: labels,
			IPAM:   &network.IPAM{Config: []network.IPAMConfig{{Subnet: subnet}}},
		})
		return err
	}
	taken := func(err error) bool { return cerrdefs.IsConflict(err) || strings.Contains(err.Error(), "overlap") }
	list, err := cli.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil {
		return "", fmt.Errorf("creating the run's Docker network %s: listing the engine's networks: %w", name, err)
	}
	used := hostPrefixes()
	for _, n := range list.Items {
		for _, c := range n.IPAM.Config {
			used = append(used, c.Subnet)
		}
	}
	if subnet, ok := freeSubnet(used); ok {
		err := create(subnet)
		if err == nil {
			return name, nil
		}
		if !taken(err) {
			return "", fmt.Errorf("creating the run's Docker network %s: %w", name, err)
		}
	}
	var lastErr error
	for range 3 {
		probe, err := cli.NetworkCreate(ctx, name, client.NetworkCreateOptions{Driver: "bridge", Labels: labels})
		if err != nil {
			return "", fmt.Errorf("creating the run's Docker network %s: %w", name, err)
		}
		in, err := cli.NetworkInspect(ctx, probe.ID, client.NetworkInspectOptions{})
		_, rmErr := cli.NetworkRemove(ctx, probe.ID, client.NetworkRemoveOptions{})
		if err = errors.Join(err, rmErr); err != nil {
			return "", fmt.Errorf("creating the run's Docker network %s: %w", name, err)
		}
		var subnet netip.Prefix
		for _, c := range in.Network.IPAM.Config {
			if c.Subnet.Addr().Is4() {
				subnet = c.Subnet
			}
		}
		if !subnet.IsValid() {
			return "", fmt.Errorf("creating the run's Docker network %s: Docker assigned no IPv4 subnet", name)
		}
		if err = create(subnet); err == nil {
			return name, nil
		}
		lastErr = err
		if !taken(err) {
			break
		}
	}
	return "", fmt.Errorf("creating the run's Docker network %s: %w", name, lastErr)
}

// freeSubnet returns the first subnet of Docker's default address pools
// (172.17.0.0/16 to 172.31.0.0/16, then 192.168.0.0/16 cut into /20s) that
// overlaps none of used.
func freeSubnet(used []netip.Prefix) (netip.Prefix, bool) {
	var candidates []netip.Prefix
	for b := 17; b <= 31; b++ {
		candidates = append(candidates, netip.PrefixFrom(netip.AddrFrom4([4]byte{172, byte(b), 0, 0}), 16))
	}
	for c := 0; c < 256; c += 16 {
		candidates = append(candidates, netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 168, byte(c), 0}), 20))
	}
	for _, c := range candidates {
		if !slices.ContainsFunc(used, c.Overlaps) {
			return c, true
		}
	}
	return netip.Prefix{}, false
}

// hostPrefixes returns the host's IPv4 addresses (with their networks)
// and the destinations of its IPv4 routes, which a network's subnet must
// not overlap, as Docker's own choice avoids them. What cannot be read is
// left out: the engine still refuses a subnet that overlaps one of its
// networks.
func hostPrefixes() []netip.Prefix {
	var out []netip.Prefix
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				if p, err := netip.ParsePrefix(n.String()); err == nil && p.Addr().Is4() && !p.Addr().IsLoopback() {
					out = append(out, p.Masked())
				}
			}
		}
	}
	if data, err := os.ReadFile("/proc/net/route"); err == nil {
		out = append(out, parseRoutes(data)...)
	}
	return out
}

// parseRoutes reads the destinations of Linux's IPv4 routing table
// (/proc/net/route: little-endian hex destination and mask), leaving out
// the default route, which overlaps every subnet.
func parseRoutes(data []byte) []netip.Prefix {
	var out []netip.Prefix
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		if len(f) < 8 || f[0] == "Iface" {
			continue
		}
		dst, err1 := strconv.ParseUint(f[1], 16, 32)
		mask, err2 := strconv.ParseUint(f[7], 16, 32)
		if err1 != nil || err2 != nil || mask == 0 {
			continue
		}
		d := uint32(dst)
		addr := netip.AddrFrom4([4]byte{byte(d), byte(d >> 8), byte(d >> 16), byte(d >> 24)})
		out = append(out, netip.PrefixFrom(addr, bits.OnesCount32(uint32(mask))).Masked())
	}
	return out
}

// Close stops the world: the fakes get SIGTERM, so that ECS stops every
// task as it shuts down (through this process's runtime); then every
// container and the network of the run are removed, whatever state they
// are in.
func (w *World) Close() error {
	w.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), fakesStopGrace+cleanupTimeout)
		defer cancel()
		var errs []error
		if w.fakesID != "" {
			if err := terminate(ctx, w.cli, []string{w.fakesID}, graces(1, fakesStopGrace), nil); err != nil {
				errs = append(errs, fmt.Errorf("stopping the fakes: %w", err))
			}
		}
		if w.served != nil {
			// The fakes have exited: the channel ends, and the runtime
			// stops what is left.
			w.conn.Close()
			select {
			case <-w.served:
				if w.servedErr != nil {
					errs = append(errs, w.servedErr)
				}
			case <-ctx.Done():
				errs = append(errs, fmt.Errorf("stopping the run's tasks: %w", ctx.Err()))
			}
		}
		if _, err := Clean(ctx, w.cli, w.RunID); err != nil {
			errs = append(errs, err)
		}
		w.err = errors.Join(errs...)
	})
	return w.err
}
