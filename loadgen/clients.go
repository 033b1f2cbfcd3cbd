package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// CacheMode is how a client caches the addresses it resolves.
type CacheMode string

// The cache modes.
const (
	// CacheTTL keeps an answer for its TTL, as a stub resolver or a
	// browser does (the default).
	CacheTTL CacheMode = "ttl"
	// CacheForever keeps the first answer for the client's life, as the
	// JVM does by default under a security manager
	// (networkaddress.cache.ttl=-1).
	CacheForever CacheMode = "forever"
	// CacheNone resolves again for every new connection.
	CacheNone CacheMode = "none"
)

// CacheModes are the cache modes.
var CacheModes = []CacheMode{CacheTTL, CacheForever, CacheNone}

// Clients is a population of HTTP clients that resolve the target's host
// name themselves through a DNS server, as real clients do: each client
// has its own DNS cache and its own kept-alive connection (one at a time),
// so a client keeps sending to the address it connected to until the
// connection closes, and resolves again only when its cached answer has expired.
// Under DNS-weighted routing the split the servers see then lags the
// weights by about the TTL, and by the connections' lifetime.
type Clients struct {
	// Count is the number of clients; each request goes to one of them at
	// random (default 100).
	Count int
	// DNSServer is the host:port of the name server asked (UDP, TCP on
	// truncation).
	DNSServer string
	// Cache is how long a client keeps an answer (default CacheTTL).
	Cache CacheMode
	// TimeScale shrinks the TTLs: an answer with a TTL of 60 s is kept for
	// 60 s / TimeScale (0 or 1: real time), as the world's AWS time runs.
	TimeScale float64
	// NoKeepAlive makes each request open its own connection (and so
	// resolve through the cache each time).
	NoKeepAlive bool
	// ConnLifetime, when set, is how long a client keeps using a
	// connection (wall time): the first request after it connects again.
	// Zero keeps connections until the server or the idle timeout closes
	// them.
	ConnLifetime time.Duration
	// ResolveTimeout bounds one DNS exchange (default 2 s).
	ResolveTimeout time.Duration
}

// ClientHeader carries the number of the client that sent a request (from
// 0), so the server side can tell the population's members apart.
const ClientHeader = "X-Meshsim-Client"

func (c Clients) normalize() (Clients, error) {
	if c.Count == 0 {
		c.Count = 100
	}
	if c.Cache == "" {
		c.Cache = CacheTTL
	}
	if c.ResolveTimeout == 0 {
		c.ResolveTimeout = 2 * time.Second
	}
	switch {
	case c.Count < 1 || c.Count > 100000:
		return c, fmt.Errorf("loadgen: clients %d: want 1 to 100000", c.Count)
	case c.DNSServer == "":
		return c, errors.New("loadgen: clients: no DNS server to resolve through")
	case c.Cache != CacheTTL && c.Cache != CacheForever && c.Cache != CacheNone:
		return c, fmt.Errorf("loadgen: clients: cache mode %q: want one of %v", c.Cache, CacheModes)
	case c.TimeScale < 0 || c.ConnLifetime < 0:
		return c, errors.New("loadgen: clients: negative time scale or connection lifetime")
	}
	if _, _, err := net.SplitHostPort(c.DNSServer); err != nil {
		return c, fmt.Errorf("loadgen: clients: DNS server %q: %w", c.DNSServer, err)
	}
	return c, nil
}

// population is the clients' transport: it hands each request to the
// client named in its ClientHeader, each client with its own
// http.Transport whose dialer resolves through the client's cache.
type population struct {
	cfg     Clients
	clients []*client
	now     func() time.Time
}

func newPopulation(cfg Clients, base *http.Transport) *population {
	p := &population{cfg: cfg, now: time.Now}
	for i := range cfg.Count {
		c := &client{pop: p, id: i}
		t := base.Clone()
		t.DialContext = c.dial
		t.DisableKeepAlives = cfg.NoKeepAlive
		// One connection at a time, as a simple HTTP/1.1 client keeps:
		// the connection's age is then the client's, and its lifetime
		// holds (a request finding it busy waits for it).
		t.MaxConnsPerHost, t.MaxIdleConnsPerHost = 1, 1
		c.transport = t
		p.clients = append(p.clients, c)
	}
	return p
}

// pick names the client that sends the next request, at random: each
// client then sends at its own irregular pace (Poisson), so the moments
// at which clients connect and their cached answers expire spread out as
// in a real population, instead of marching in step.
func (p *population) pick() int { return rand.IntN(len(p.clients)) }

// RoundTrip implements http.RoundTripper.
func (p *population) RoundTrip(req *http.Request) (*http.Response, error) {
	i, err := strconv.Atoi(req.Header.Get(ClientHeader))
	if err != nil || i < 0 || i >= len(p.clients) {
		return nil, fmt.Errorf("loadgen: request names no client of the population (%s %q)", ClientHeader, req.Header.Get(ClientHeader))
	}
	c := p.clients[i]
	if lt := p.cfg.ConnLifetime; lt > 0 && c.connectedBefore(p.now().Add(-lt)) {
		// The connection has served its time: a pooling client (Apache
		// HttpClient's connection time to live, HikariCP's maxLifetime)
		// discards it when it next takes it from the pool, so this request
		// connects again. A connection still busy with a request is
		// discarded by the next request that finds it idle.
		c.transport.CloseIdleConnections()
	}
	return c.transport.RoundTrip(req)
}

// closeIdle closes every client's idle connections.
func (p *population) closeIdle() {
	for _, c := range p.clients {
		c.transport.CloseIdleConnections()
	}
}

// client is one member of the population.
type client struct {
	pop       *population
	id        int
	transport *http.Transport

	mu        sync.Mutex
	cache     map[string]cached // by host name
	connected time.Time         // when its newest connection was made; zero before the first
}

type cached struct {
	addrs   []string
	expires time.Time // zero: never (CacheForever)
}

// connectedBefore reports whether the client's connection was made
// before t.
func (c *client) connectedBefore(t time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.connected.IsZero() && c.connected.Before(t)
}

// dial connects to addr (host:port), resolving the host through the
// client's cache; it uses the first address of the answer, as Go's and
// most clients' dialers do.
func (c *client) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	ip := host
	if net.ParseIP(host) == nil {
		addrs, err := c.resolve(ctx, host)
		if err != nil {
			return nil, err
		}
		ip = addrs[0]
	}
	conn, err := (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext(ctx, network, net.JoinHostPort(ip, port))
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.connected = c.pop.now()
	c.mu.Unlock()
	return conn, nil
}

// resolve returns host's addresses from the cache, or asks the DNS server
// and caches the answer as the cache mode says.
func (c *client) resolve(ctx context.Context, host string) ([]string, error) {
	now := c.pop.now()
	c.mu.Lock()
	e, ok := c.cache[host]
	c.mu.Unlock()
	if ok && (e.expires.IsZero() || now.Before(e.expires)) {
		return e.addrs, nil
	}
	addrs, ttl, err := lookupA(ctx, c.pop.cfg.DNSServer, host, c.pop.cfg.ResolveTimeout)
	if err != nil {
		return nil, err
	}
	switch c.pop.cfg.Cache {
	case CacheTTL:
		scale := c.pop.cfg.TimeScale
		if scale <= 0 {
			scale = 1
		}
		e = cached{addrs: addrs, expires: now.Add(time.Duration(math.Round(float64(ttl) / scale)))}
	case CacheForever:
		e = cached{addrs: addrs}
	default:
		return addrs, nil
	}
	c.mu.Lock()
	if c.cache == nil {
		c.cache = map[string]cached{}
	}
	c.cache[host] = e
	c.mu.Unlock()
	return addrs, nil
}

// lookupA asks server for host's A records and returns their addresses in
// the order given and the lowest TTL.
func lookupA(ctx context.Context, server, host string, timeout time.Duration) ([]string, time.Duration, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(host), dns.TypeA)
	m.RecursionDesired = true
	c := &dns.Client{Timeout: timeout}
	resp, _, err := c.ExchangeContext(ctx, m, server)
	if err == nil && resp.Truncated {
		c.Net = "tcp"
		resp, _, err = c.ExchangeContext(ctx, m, server)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("lookup %s on %s: %w", host, server, err)
	}
	if resp.Rcode != dns.RcodeSuccess {
		return nil, 0, fmt.Errorf("lookup %s on %s: %s", host, server, dns.RcodeToString[resp.Rcode])
	}
	var (
		addrs []string
		ttl   = uint32(math.MaxUint32)
	)
	for _, rr := range resp.Answer {
		if a, ok := rr.(*dns.A); ok {
			addrs = append(addrs, a.A.String())
		}
		ttl = min(ttl, rr.Header().Ttl)
	}
	if len(addrs) == 0 {
		return nil, 0, fmt.Errorf("lookup %s on %s: no A record", host, server)
	}
	return addrs, time.Duration(ttl) * time.Second, nil
}

// Transport returns a RoundTripper that sends each request from a client
// of the population c describes, and a function that
// closes the clients' idle connections. It is for callers outside RunHTTP
// (a readiness probe that must resolve as the load will).
func (c Clients) Transport() (http.RoundTripper, func(), error) {
	c, err := c.normalize()
	if err != nil {
		return nil, nil, err
	}
	pop := newPopulation(c, &http.Transport{Proxy: nil})
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		r := req.Clone(req.Context())
		r.Header.Set(ClientHeader, strconv.Itoa(pop.pick()))
		return pop.RoundTrip(r)
	}), pop.closeIdle, nil
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
