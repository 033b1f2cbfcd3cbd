package inproc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Commands is a Starter that runs a container as a local process (for
// contract.CommandImage): the
// user's own software in the embedded runtime, with no image and no
// Docker. The process is the container's entry point followed by its
// command, as docker run builds it; it runs in its own process group,
// which Stop sends SIGTERM and Kill sends SIGKILL, as ECS stops a task.
//
// The process gets the container's environment, with the task's network
// made local: a value that is an address of the task itself ("0.0.0.0",
// "localhost", "127.0.0.1", alone, with a port, or as the host of a URL)
// names the task's own loopback address instead, for all tasks share this
// machine's network while each has its own address. An application binds
// the task's address by reading it from its environment (for example
// HOST=0.0.0.0 becomes HOST=127.0.1.7). Besides the container's variables
// it inherits PATH, HOME, TMPDIR, USER and LANG from meshsim, so that
// interpreters and toolchains are found.
//
// With LogDir set, the process's standard output and error are kept in
// LogDir/TASKID/CONTAINER.stdout and .stderr, and how it exited in
// .exit (JSON, see Exit).
type Commands struct {
	// LogDir is the directory of the tasks' output files; empty discards
	// the output.
	LogDir string
	// Dir is the working directory of a container that names none; empty
	// is meshsim's own.
	Dir string
}

// Exit is how a container's process exited, as written to its .exit file.
type Exit struct {
	// Code is the exit code; a process ended by a signal has 128 plus the
	// signal's number, as a shell (and ECS) reports it.
	Code int `json:"exitCode"`
	// Signal names the signal that ended the process, if one did.
	Signal string `json:"signal,omitempty"`
	// Reason says in words why the process ended.
	Reason string `json:"reason"`
	// Started and Ended bound the process's life.
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended"`
}

// inheritedEnv are the variables of meshsim's environment a process gets.
var inheritedEnv = []string{"PATH", "HOME", "TMPDIR", "USER", "LANG"}

// Start starts c's process and returns once it runs.
func (s Commands) Start(ctx context.Context, c Container) (Process, error) {
	argv := append(append([]string(nil), c.EntryPoint...), c.Command...)
	if len(argv) == 0 {
		return nil, fmt.Errorf("container %s names no entryPoint or command to run as a local process", c.Name)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if c.User != "" {
		return nil, fmt.Errorf("container %s: user %q: a local process runs as meshsim's own user", c.Name, c.User)
	}
	dir := s.Dir
	if c.WorkingDirectory != "" {
		dir = c.WorkingDirectory
	}
	path, err := program(argv[0], dir)
	if err != nil {
		return nil, fmt.Errorf("container %s: command %q: %w", c.Name, argv[0], err)
	}

	life, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(life, path, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Dir = dir
	cmd.Env = processEnv(c)
	setProcessGroup(cmd)

	p := &process{cmd: cmd, cancel: cancel, done: make(chan struct{})}
	var files []*os.File
	if s.LogDir != "" {
		dir := filepath.Join(s.LogDir, c.TaskID)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			cancel()
			return nil, fmt.Errorf("container %s: %w", c.Name, err)
		}
		p.exitFile = filepath.Join(dir, c.Name+".exit")
		for _, name := range []string{c.Name + ".stdout", c.Name + ".stderr"} {
			f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
			if err != nil {
				closeAll(files)
				cancel()
				return nil, fmt.Errorf("container %s: %w", c.Name, err)
			}
			files = append(files, f)
		}
		cmd.Stdout, cmd.Stderr = files[0], files[1]
	} else {
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	}
	// The process group is SIGKILLed when the process's life ends (Kill,
	// or the runtime giving up on it).
	cmd.Cancel = p.killGroup
	// Output copied through pipes (io.Discard) must not hold Wait once the
	// process has exited and a child of it still writes.
	cmd.WaitDelay = time.Second
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		closeAll(files)
		cancel()
		return nil, fmt.Errorf("container %s: starting %q: %w", c.Name, argv[0], err)
	}
	go func() {
		err := cmd.Wait()
		closeAll(files)
		p.exited(err)
		cancel()
	}()
	return p, nil
}

// program finds the program name runs: a name without a slash is looked
// up in PATH, a relative path is taken from dir (the working directory).
func program(name, dir string) (string, error) {
	if !strings.ContainsRune(name, filepath.Separator) && !strings.ContainsRune(name, '/') {
		return exec.LookPath(name)
	}
	path := name
	if !filepath.IsAbs(path) && dir != "" {
		path = filepath.Join(dir, path)
	}
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return "", err
	case fi.IsDir() || fi.Mode()&0o111 == 0:
		return "", fmt.Errorf("%s is not an executable file", path)
	}
	return path, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		_ = f.Close()
	}
}

// processEnv is the environment of c's process (see Commands).
func processEnv(c Container) []string {
	env := make([]string, 0, len(inheritedEnv)+len(c.Env))
	for _, k := range inheritedEnv {
		if v, ok := os.LookupEnv(k); ok {
			if _, set := c.Env[k]; !set {
				env = append(env, k+"="+v)
			}
		}
	}
	for k, v := range c.Env {
		env = append(env, k+"="+TaskLocal(v, c.TaskIP))
	}
	return env
}

// TaskLocal rewrites value when it names the task itself: "0.0.0.0",
// "localhost" or "127.0.0.1", alone, as host:port, or as the host of a URL,
// becomes the same with taskIP. Other values are returned unchanged.
func TaskLocal(value, taskIP string) string {
	if local(value) {
		return taskIP
	}
	if host, port, err := net.SplitHostPort(value); err == nil && local(host) {
		return net.JoinHostPort(taskIP, port)
	}
	if !strings.Contains(value, "://") {
		return value
	}
	u, err := url.Parse(value)
	if err != nil || !local(u.Hostname()) {
		return value
	}
	if port := u.Port(); port != "" {
		u.Host = net.JoinHostPort(taskIP, port)
	} else {
		u.Host = taskIP
	}
	return u.String()
}

func local(host string) bool {
	return host == "0.0.0.0" || host == "localhost" || host == "127.0.0.1"
}

// process is a running local process.
type process struct {
	cmd      *exec.Cmd
	cancel   context.CancelFunc
	started  time.Time
	exitFile string

	terminated atomic.Bool // Stop sent SIGTERM
	killed     atomic.Bool // Kill sent SIGKILL
	once       sync.Once
	done       chan struct{}
	exit       Exit
	err        error
}

// Stop sends SIGTERM to the process group.
func (p *process) Stop(context.Context) error {
	p.terminated.Store(true)
	if err := signalGroup(p.cmd.Process.Pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("SIGTERM: %w", err)
	}
	return nil
}

// Kill SIGKILLs the process group.
func (p *process) Kill() error {
	p.killed.Store(true)
	p.cancel()
	return nil
}

func (p *process) killGroup() error {
	if err := signalGroup(p.cmd.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return os.ErrProcessDone // tells exec.Cmd the process is dealt with
}

func (p *process) Done() <-chan struct{} { return p.done }

// Err is nil when the process exited with code 0, or after Stop or Kill;
// otherwise it says how the process ended.
func (p *process) Err() error {
	<-p.done
	return p.err
}

// ExitCode implements ExitCoder.
func (p *process) ExitCode() (int, string) {
	<-p.done
	return p.exit.Code, p.exit.Reason
}

// exited records how the process ended and writes its .exit file.
func (p *process) exited(waitErr error) {
	e := Exit{Started: p.started, Ended: time.Now()}
	st := p.cmd.ProcessState
	switch {
	case st == nil:
		e.Code, e.Reason = 1, waitErr.Error()
	case exitSignal(st) != "":
		sig, num := exitSignal(st), exitSignalNumber(st)
		e.Code, e.Signal = 128+num, sig
		e.Reason = "ended by signal " + sig
	default:
		e.Code = st.ExitCode()
		e.Reason = fmt.Sprintf("exited with code %d", e.Code)
	}
	if p.terminated.Load() && e.Signal == "" {
		e.Reason += " after SIGTERM"
	}
	var err error
	if e.Code != 0 && !p.terminated.Load() && !p.killed.Load() {
		err = errors.New(e.Reason)
	}
	if p.exitFile != "" {
		if b, jerr := json.MarshalIndent(e, "", "  "); jerr == nil {
			_ = os.WriteFile(p.exitFile, append(b, '\n'), 0o644)
		}
	}
	p.once.Do(func() {
		p.exit, p.err = e, err
		close(p.done)
	})
}
