package inproc

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
)

// Container is one container of a task, as a Starter sees it.
type Container struct {
	// TaskID is the ECS task id; TaskIP the task's own loopback address,
	// on which the container listens (all containers of a task share it,
	// as under awsvpc).
	TaskID string
	TaskIP string
	// Name is the container's name in the task definition; Image the image
	// it names, tag included (for example "meshsim/sample-http:v2").
	Name  string
	Image string
	// EntryPoint, Command, WorkingDirectory and User are the task
	// definition's (see ecs.ContainerSpec); empty means the image's own.
	EntryPoint       []string
	Command          []string
	WorkingDirectory string
	User             string
	Env              map[string]string
	// Ports are the container ports of the task definition's portMappings.
	Ports []uint32
	// TaskDefinition names the task's task definition as FAMILY:REVISION.
	TaskDefinition string
}

// Process is a running container.
type Process interface {
	// Stop asks the process to exit gracefully, as SIGTERM does. It may
	// return before the process has exited, and returns at the latest when
	// ctx is done.
	Stop(ctx context.Context) error
	// Kill ends the process at once, as SIGKILL does.
	Kill() error
	// Done is closed once the process has exited.
	Done() <-chan struct{}
	// Err is why the process exited: nil after Stop or Kill or a clean
	// exit. It is valid once Done is closed.
	Err() error
}

// ExitCoder is implemented by a Process that knows its exit code, as a
// local process does; the runtime reports 0 (or 1 with an error, 137 when
// killed) for those that do not.
type ExitCoder interface {
	// ExitCode returns the exit code and why the process exited, once Done
	// is closed.
	ExitCode() (code int, reason string)
}

// Starter starts the containers of one image.
type Starter interface {
	// Start starts c and returns once it is running. ctx bounds the start
	// only: the process runs until it is stopped or exits.
	Start(ctx context.Context, c Container) (Process, error)
}

// StarterFunc adapts a function to a Starter.
type StarterFunc func(ctx context.Context, c Container) (Process, error)

// Start calls fn(ctx, c).
func (fn StarterFunc) Start(ctx context.Context, c Container) (Process, error) { return fn(ctx, c) }

// HTTPServer serves srv on ln and returns it as a Process: Stop shuts the
// server down gracefully (it stops accepting and waits for requests in
// flight), Kill closes it and all its connections. The process has exited
// once the shutdown is complete.
func HTTPServer(ln net.Listener, srv *http.Server) Process {
	p := &httpProcess{srv: srv, done: make(chan struct{})}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			p.exit(err)
		}
	}()
	return p
}

type httpProcess struct {
	srv  *http.Server
	once sync.Once
	done chan struct{}
	err  error
}

func (p *httpProcess) Stop(ctx context.Context) error {
	err := p.srv.Shutdown(ctx)
	if err != nil {
		// Out of time: what is still open is cut, as when killed.
		_ = p.srv.Close()
	}
	p.exit(nil)
	return err
}

func (p *httpProcess) Kill() error {
	err := p.srv.Close()
	p.exit(nil)
	return err
}

func (p *httpProcess) Done() <-chan struct{} { return p.done }

func (p *httpProcess) Err() error {
	<-p.done
	return p.err
}

// exit records that the process exited with err.
func (p *httpProcess) exit(err error) {
	p.once.Do(func() {
		p.err = err
		close(p.done)
	})
}
