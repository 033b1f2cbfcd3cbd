package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// waitExit returns a channel that receives the container's exit code once
// it is not running, or an error if the engine cannot say.
func waitExit(ctx context.Context, cli *testcontainers.DockerClient, id string) <-chan exitResult {
	out := make(chan exitResult, 1)
	res := cli.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	go func() {
		select {
		case r := <-res.Result:
			out <- exitResult{code: int(r.StatusCode)}
		case err := <-res.Error:
			out <- exitResult{err: err}
		}
	}()
	return out
}

type exitResult struct {
	code int
	err  error
}

// terminate stops containers as ECS stops a task: it sends each SIGTERM,
// waits up to its grace (graces[i] for ids[i]) for it to exit, then sends
// SIGKILL to what still runs, calling onKill(i) first. A paused container
// is unpaused first, since a frozen process cannot handle a signal. It
// returns once every container has exited, or when ctx is done.
func terminate(ctx context.Context, cli *testcontainers.DockerClient, ids []string, graces []time.Duration, onKill func(i int)) error {
	waits := make([]<-chan exitResult, len(ids))
	for i, id := range ids {
		waits[i] = waitExit(ctx, cli, id)
	}
	var errs []error
	for _, id := range ids {
		if err := unpause(ctx, cli, id); err != nil {
			errs = append(errs, err)
		}
		if err := signal(ctx, cli, id, "SIGTERM"); err != nil {
			errs = append(errs, err)
		}
	}
	begun := time.Now()
	// The shortest grace ends first.
	order := make([]int, len(ids))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return graces[order[a]] < graces[order[b]] })
	for _, i := range order {
		timer := time.NewTimer(time.Until(begun.Add(graces[i])))
		select {
		case <-waits[i]:
			timer.Stop()
			continue
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("stopping containers: %w", ctx.Err())
		}
		select {
		case <-waits[i]:
			continue
		default:
		}
		if onKill != nil {
			onKill(i)
		}
		if err := signal(ctx, cli, ids[i], "SIGKILL"); err != nil {
			errs = append(errs, err)
		}
		select {
		case <-waits[i]:
		case <-ctx.Done():
			return fmt.Errorf("container %s did not exit: %w", short(ids[i]), ctx.Err())
		}
	}
	return errors.Join(errs...)
}

// graces returns n times d, the graces of containers stopped alike.
func graces(n int, d time.Duration) []time.Duration {
	g := make([]time.Duration, n)
	for i := range g {
		g[i] = d
	}
	return g
}

// signal sends sig to the container's main process; a container that is
// no longer running is not an error.
func signal(ctx context.Context, cli *testcontainers.DockerClient, id, sig string) error {
	_, err := cli.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: sig})
	if err != nil && !notRunning(err) {
		return fmt.Errorf("sending %s to container %s: %w", sig, short(id), err)
	}
	return nil
}

// unpause unpauses the container if it is paused.
func unpause(ctx context.Context, cli *testcontainers.DockerClient, id string) error {
	in, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("inspecting container %s: %w", short(id), err)
	}
	if in.Container.State == nil || !in.Container.State.Paused {
		return nil
	}
	if _, err := cli.ContainerUnpause(ctx, id, client.ContainerUnpauseOptions{}); err != nil && !notRunning(err) {
		return fmt.Errorf("unpausing container %s: %w", short(id), err)
	}
	return nil
}

// notRunning reports whether err says the container is gone or not running.
func notRunning(err error) bool {
	return cerrdefs.IsNotFound(err) || cerrdefs.IsConflict(err) ||
		strings.Contains(err.Error(), "is not running") || strings.Contains(err.Error(), "is not paused")
}

// remove force-removes containers (and their anonymous volumes), in
// parallel; one already gone is not an error.
func remove(ctx context.Context, cli *testcontainers.DockerClient, ids []string) error {
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			_, err := cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
			if err != nil && !cerrdefs.IsNotFound(err) && !strings.Contains(err.Error(), "already in progress") {
				errs[i] = fmt.Errorf("removing container %s: %w", short(id), err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// lastLogLine returns the last line the container wrote, to explain why it
// exited; "" when there is none.
func lastLogLine(ctx context.Context, cli *testcontainers.DockerClient, id string) string {
	rc, err := cli.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: "5"})
	if err != nil {
		return ""
	}
	defer rc.Close()
	var out bytes.Buffer
	_, _ = stdcopy.StdCopy(&out, &out, rc)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// short abbreviates a container id as docker ps does.
func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
