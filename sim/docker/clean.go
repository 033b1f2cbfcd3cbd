package docker

import (
	"context"
	"errors"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
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
	for i, c := range list.Items {
		ids[i] = c.ID
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
		if _, err := cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
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
