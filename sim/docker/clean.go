package docker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"github.com/meshsim/meshsim/sim/poll"
)

// Removed counts what Clean removed.
type Removed struct {
	Containers, Networks, Images int
}

// Clean removes every container and network of the run runID, or of every
// meshsim run when runID is "" (runs in progress included), whatever
// state they are in: what a crashed or interrupted run left behind.
func Clean(ctx context.Context, cli *testcontainers.DockerClient, runID string) (Removed, error) {
	var rm Removed
	list, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: runFilter(runID)})
	if err != nil {
		return rm, fmt.Errorf("listing meshsim containers: %w", err)
	}
	ids := make([]string, len(list.Items))
	var names []string
	for i, c := range list.Items {
		ids[i] = c.ID
		for _, n := range c.Names {
			names = append(names, strings.TrimPrefix(n, "/"))
		}
	}
	var errs []error
	if err := remove(ctx, cli, ids); err != nil {
		errs = append(errs, err)
	}
	rm.Containers = len(ids)

	nets, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: runFilter(runID)})
	if err != nil {
		return rm, errors.Join(append(errs, fmt.Errorf("listing meshsim networks: %w", err))...)
	}
	for _, n := range nets.Items {
		if err := removeNetwork(ctx, cli, n.ID, names); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("removing network %s: %w", n.Name, err))
			continue
		}
		rm.Networks++
	}
	return rm, errors.Join(errs...)
}

// CleanImages removes meshsim's images (ImageRepository, every tag); the
// next run builds its own again.
func CleanImages(ctx context.Context, cli *testcontainers.DockerClient) (int, error) {
	list, err := cli.ImageList(ctx, client.ImageListOptions{Filters: make(client.Filters).Add("reference", ImageRepository)})
	if err != nil {
		return 0, fmt.Errorf("listing meshsim images: %w", err)
	}
	n := 0
	var errs []error
	for _, img := range list.Items {
		if _, err := cli.ImageRemove(ctx, img.ID, client.ImageRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("removing image %s: %w", short(img.ID), err))
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// networkRemoveTimeout bounds waiting for the engine to release a removed
// container's endpoint on a network.
const networkRemoveTimeout = 10 * time.Second

// removeNetwork removes a network. The engine may still hold endpoints of
// containers just removed ("has active endpoints"; Docker 20.10 leaks the
// endpoint of a container whose start failed): those it lists, and those
// named for the removed containers (names), are disconnected by force,
// and the removal is tried again for a few seconds.
func removeNetwork(ctx context.Context, cli *testcontainers.DockerClient, id string, names []string) error {
	_, err := cli.NetworkRemove(ctx, id, client.NetworkRemoveOptions{})
	if err == nil || !strings.Contains(err.Error(), "active endpoints") {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, networkRemoveTimeout)
	defer cancel()
	last := err
	err = poll.Until(ctx, 250*time.Millisecond, func(ctx context.Context) (bool, error) {
		in, err := cli.NetworkInspect(ctx, id, client.NetworkInspectOptions{})
		if err != nil {
			return false, err
		}
		targets := slices.Clone(names)
		for cid, ep := range in.Network.Containers {
			targets = append(targets, cmp.Or(ep.Name, cid))
		}
		for _, target := range targets {
			cli.NetworkDisconnect(ctx, id, client.NetworkDisconnectOptions{Container: target, Force: true})
		}
		if _, last = cli.NetworkRemove(ctx, id, client.NetworkRemoveOptions{}); last == nil {
			return true, nil
		}
		return false, nil
	})
	if err != nil && last != nil {
		return last
	}
	return err
}
