package inproc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/meshsim/meshsim/sim/ecs"
)

// probe is a container health check command understood as what it does:
// an HTTP GET, optionally piped through grep.
type probe struct {
	// url is the URL to GET, with a loopback host replaced by the task IP.
	url string
	// failOnError makes HTTP statuses of 400 and above fail the check, as
	// curl -f and wget do.
	failOnError bool
	// greps filter the response body's lines in turn; the check passes if
	// a line is left.
	greps []grep
}

type grep struct {
	re     *regexp.Regexp
	invert bool
}

// errUnsupported explains which health check commands the runtime runs.
var errUnsupported = errors.New(`meshsim runs container health checks that are curl or wget HTTP GETs, ` +
	`optionally piped into grep (for example ["CMD-SHELL", "curl -f http://localhost:8080/health || exit 1"])`)

// parseHealthCheck interprets a Docker health check command (["CMD-SHELL",
// "..."] or ["CMD", args...]) of the curl/wget form as a probe against
// taskIP.
func parseHealthCheck(command []string, taskIP string) (*probe, error) {
	if len(command) < 2 {
		return nil, fmt.Errorf("health check command %q: %w", command, errUnsupported)
	}
	var stages [][]string
	switch command[0] {
	case "CMD":
		stages = [][]string{command[1:]}
	case "CMD-SHELL":
		var err error
		if stages, err = pipeline(strings.Join(command[1:], " ")); err != nil {
			return nil, fmt.Errorf("health check command %q: %w", command, err)
		}
	default:
		return nil, fmt.Errorf("health check command %q: it must start with CMD or CMD-SHELL", command)
	}
	p, err := parseGet(stages[0], taskIP)
	if err != nil {
		return nil, fmt.Errorf("health check command %q: %w", command, err)
	}
	for _, stage := range stages[1:] {
		g, err := parseGrep(stage)
		if err != nil {
			return nil, fmt.Errorf("health check command %q: %w", command, err)
		}
		p.greps = append(p.greps, g)
	}
	return p, nil
}

// parseGet parses a curl or wget command line.
func parseGet(args []string, taskIP string) (*probe, error) {
	if len(args) == 0 {
		return nil, errUnsupported
	}
	p := &probe{}
	switch path.Base(args[0]) {
	case "curl":
		for _, a := range args[1:] {
			if a == "--fail" || a == "--fail-with-body" ||
				(strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && strings.ContainsRune(a[1:], 'f')) {
				p.failOnError = true
			}
		}
	case "wget":
		p.failOnError = true
	default:
		return nil, errUnsupported
	}
	for _, a := range args[1:] {
		if strings.HasPrefix(a, "-") {
			continue
		}
		raw := a
		if !strings.Contains(raw, "://") {
			if !strings.HasPrefix(raw, "localhost") && !strings.HasPrefix(raw, "127.") {
				continue
			}
			raw = "http://" + raw
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			continue
		}
		switch u.Hostname() {
		case "localhost", "127.0.0.1", "0.0.0.0", "::1":
			if port := u.Port(); port != "" {
				u.Host = net.JoinHostPort(taskIP, port)
			} else {
				u.Host = taskIP
			}
		}
		p.url = u.String()
		return p, nil
	}
	return nil, fmt.Errorf("no http:// URL in %q: %w", args, errUnsupported)
}

// parseGrep parses a grep command line: flags -q, -s, -i, -v, -E, -F and
// one pattern, read as a fixed string unless -E.
func parseGrep(args []string) (grep, error) {
	if len(args) == 0 || path.Base(args[0]) != "grep" {
		return grep{}, fmt.Errorf("only grep may follow the HTTP GET in a pipeline: %w", errUnsupported)
	}
	var g grep
	var pattern []string
	extended, ignoreCase := false, false
	for _, a := range args[1:] {
		if len(pattern) == 0 && strings.HasPrefix(a, "-") && len(a) > 1 {
			for _, flag := range a[1:] {
				switch flag {
				case 'q', 's', 'F':
				case 'i':
					ignoreCase = true
				case 'v':
					g.invert = true
				case 'E':
					extended = true
				default:
					return grep{}, fmt.Errorf("grep flag -%c is not supported: %w", flag, errUnsupported)
				}
			}
			continue
		}
		pattern = append(pattern, a)
	}
	if len(pattern) != 1 {
		return grep{}, fmt.Errorf("grep needs exactly one pattern and no files, got %q: %w", pattern, errUnsupported)
	}
	expr := regexp.QuoteMeta(pattern[0])
	if extended {
		expr = pattern[0]
	}
	if ignoreCase {
		expr = "(?i)" + expr
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return grep{}, fmt.Errorf("grep pattern %q: %v", pattern[0], err)
	}
	g.re = re
	return g, nil
}

// pipeline splits a shell command into the stages of its first pipeline
// (what runs before ||, && or ;), each split into words with shell
// quoting.
func pipeline(cmd string) ([][]string, error) {
	type token struct {
		text string
		op   bool
	}
	var tokens []token
	var word strings.Builder
	inWord := false
	var quote rune
	flush := func() {
		if inWord {
			tokens = append(tokens, token{text: word.String()})
			word.Reset()
			inWord = false
		}
	}
	rs := []rune(cmd)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case quote != 0:
			switch {
			case r == quote:
				quote = 0
			case r == '\\' && quote == '"' && i+1 < len(rs):
				i++
				word.WriteRune(rs[i])
			default:
				word.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == '\\' && i+1 < len(rs):
			i++
			word.WriteRune(rs[i])
			inWord = true
		case r == ' ' || r == '\t' || r == '\n':
			flush()
		case r == '|' || r == '&' || r == ';':
			flush()
			op := string(r)
			if r != ';' && i+1 < len(rs) && rs[i+1] == r {
				op += string(r)
				i++
			}
			tokens = append(tokens, token{text: op, op: true})
		default:
			word.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, errors.New("unterminated quote")
	}
	flush()

	stages := [][]string{nil}
	for _, t := range tokens {
		if !t.op {
			stages[len(stages)-1] = append(stages[len(stages)-1], t.text)
			continue
		}
		if t.text != "|" {
			break
		}
		stages = append(stages, nil)
	}
	for _, s := range stages {
		if len(s) == 0 {
			return nil, errors.New("empty command in pipeline")
		}
	}
	return stages, nil
}

// check runs the probe once.
func (p *probe) check(ctx context.Context, client *http.Client) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if p.failOnError && resp.StatusCode >= 400 {
		return fmt.Errorf("GET %s: %s", p.url, resp.Status)
	}
	if len(p.greps) == 0 {
		return nil
	}
	lines := strings.Split(string(body), "\n")
	for _, g := range p.greps {
		var kept []string
		for _, l := range lines {
			if g.re.MatchString(l) != g.invert {
				kept = append(kept, l)
			}
		}
		lines = kept
	}
	if len(lines) == 0 {
		return fmt.Errorf("GET %s: no line of the response passes grep", p.url)
	}
	return nil
}

// runHealthCheck checks a container's health as Docker does until ctx is
// done: every interval, one probe of at most timeout; after retries
// consecutive failures the container is UNHEALTHY, after a success
// HEALTHY; failures during the start period do not count until the first
// success. Each change is reported.
func runHealthCheck(ctx context.Context, p *probe, hc ecs.HealthCheck, report func(ecs.HealthStatus)) {
	interval, timeout, retries := hc.Interval, hc.Timeout, hc.Retries
	if interval <= 0 {
		interval = 30 * time.Second
	}
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	if retries <= 0 {
		retries = 3
	}
	transport := &http.Transport{DisableKeepAlives: true}
	defer transport.CloseIdleConnections()
	client := &http.Client{
		Transport:     transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	begun := time.Now()
	var status ecs.HealthStatus
	failures, succeeded := 0, false
	// Setup fast-forwarded: Docker probes first after one interval; here,
	// until that first probe would have run, the container is probed at
	// start and every startProbe until it succeeds, and those failures do
	// not count (Docker would not have probed yet). A container so turns
	// HEALTHY as soon as it is, never UNHEALTHY sooner than under Docker.
	early := func() bool { return !succeeded && time.Since(begun) < interval }
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		wasEarly := early()
		pctx, cancel := context.WithTimeout(ctx, timeout)
		err := p.check(pctx, client)
		cancel()
		if ctx.Err() != nil {
			return
		}
		next := status
		switch {
		case err == nil:
			failures, succeeded = 0, true
			next = ecs.HealthHealthy
		case wasEarly, !succeeded && time.Since(begun) < hc.StartPeriod:
			// Still starting: the failure does not count.
		default:
			failures++
			if failures >= retries {
				next = ecs.HealthUnhealthy
			}
		}
		if next != status {
			status = next
			report(status)
		}
		switch {
		case early():
			timer.Reset(startProbe)
		case wasEarly:
			timer.Reset(max(interval-time.Since(begun), 0)) // the first regular probe
		default:
			timer.Reset(interval)
		}
	}
}

// startProbe is how often a container is probed before its first regular
// health check (see runHealthCheck).
const startProbe = 50 * time.Millisecond
