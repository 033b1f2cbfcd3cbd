package docker

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"github.com/meshsim/meshsim/sim/ecs"
)

// healthEvents follows the engine's health_status events of a run's
// containers: the health checks the engine runs inside the containers of
// users' images (HEALTHCHECK, as the ECS agent configures it).
type healthEvents struct {
	mu sync.Mutex
	// last is each container's last health status seen, so that a
	// follower that comes after the event still learns it.
	last map[string]ecs.HealthStatus
	// changed is closed and replaced whenever last changes.
	changed chan struct{}
}

// watchHealth subscribes to the health_status events of the run's
// containers until ctx is done, resubscribing from the last event seen
// when the stream breaks.
func watchHealth(ctx context.Context, cli *testcontainers.DockerClient, runID string) *healthEvents {
	h := &healthEvents{last: make(map[string]ecs.HealthStatus), changed: make(chan struct{})}
	since := strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10)
	go func() {
		for ctx.Err() == nil {
			res := cli.Events(ctx, client.EventsListOptions{
				Since:   since,
				Filters: runFilter(runID).Add("type", "container").Add("event", "health_status"),
			})
		stream:
			for {
				select {
				case m := <-res.Messages:
					since = strconv.FormatInt(m.Time, 10)
					_, status, _ := strings.Cut(string(m.Action), ":")
					var hs ecs.HealthStatus
					switch strings.TrimSpace(status) {
					case "healthy":
						hs = ecs.HealthHealthy
					case "unhealthy":
						hs = ecs.HealthUnhealthy
					default:
						continue
					}
					h.set(m.Actor.ID, hs)
				case <-res.Err:
					break stream
				case <-ctx.Done():
					return
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}()
	return h
}

func (h *healthEvents) set(id string, s ecs.HealthStatus) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last[id] = s
	close(h.changed)
	h.changed = make(chan struct{})
}

// follow calls report with each new health status of the container id
// until ctx is done, then forgets the container.
func (h *healthEvents) follow(ctx context.Context, id string, report func(ecs.HealthStatus)) {
	defer func() {
		h.mu.Lock()
		delete(h.last, id)
		h.mu.Unlock()
	}()
	var seen ecs.HealthStatus
	for {
		h.mu.Lock()
		s, changed := h.last[id], h.changed
		h.mu.Unlock()
		if s != "" && s != seen {
			seen = s
			report(s)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return
		}
	}
}
