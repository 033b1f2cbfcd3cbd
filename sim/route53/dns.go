package route53

import (
	"errors"
	"fmt"
	"net"

	"github.com/miekg/dns"
)

// DNSServer answers DNS queries over UDP and TCP from a Fake's hosted
// zones, as Route 53's name servers do. Close it to stop.
type DNSServer struct {
	// Addr is the host:port both transports listen on.
	Addr     string
	udp, tcp *dns.Server
	done     chan error
}

// ServeDNS starts a DNS server for f's hosted zones on addr (for example
// "127.0.0.1:0"), UDP and TCP on the same port.
func (f *Fake) ServeDNS(addr string) (*DNSServer, error) {
	var (
		pc  net.PacketConn
		ln  net.Listener
		err error
	)
	// A free UDP port may be taken for TCP; try a few.
	for range 5 {
		if pc, err = net.ListenPacket("udp", addr); err != nil {
			return nil, fmt.Errorf("route53 DNS: listening on udp %s: %w", addr, err)
		}
		if ln, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			break
		}
		pc.Close()
		if _, port, _ := net.SplitHostPort(addr); port != "0" {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("route53 DNS: listening on tcp %s: %w", addr, err)
	}
	h := dns.HandlerFunc(f.serveDNS)
	s := &DNSServer{
		Addr: pc.LocalAddr().String(),
		udp:  &dns.Server{PacketConn: pc, Handler: h},
		tcp:  &dns.Server{Listener: ln, Handler: h},
		done: make(chan error, 2),
	}
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go func() { s.done <- srv.ActivateAndServe() }()
		<-started
	}
	return s, nil
}

// Close stops both transports and waits for them.
func (s *DNSServer) Close() error {
	err := errors.Join(s.udp.Shutdown(), s.tcp.Shutdown())
	<-s.done
	<-s.done
	return err
}

// serveDNS answers one query.
func (f *Fake) serveDNS(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	m.RecursionAvailable = false
	switch {
	case req.Opcode != dns.OpcodeQuery:
		m.Rcode = dns.RcodeNotImplemented
	case len(req.Question) != 1:
		m.Rcode = dns.RcodeFormatError
	case req.Question[0].Qclass != dns.ClassINET:
		m.Rcode = dns.RcodeRefused
	default:
		a := f.Resolve(req.Question[0].Name, req.Question[0].Qtype)
		m.Rcode, m.Answer, m.Ns = a.Rcode, a.Records, a.Authority
		m.Authoritative = a.Rcode != dns.RcodeRefused
	}
	size := dns.MinMsgSize
	if opt := req.IsEdns0(); opt != nil {
		size = max(int(opt.UDPSize()), dns.MinMsgSize)
		m.SetEdns0(uint16(min(size, 4096)), false)
	}
	if _, tcp := w.RemoteAddr().(*net.TCPAddr); tcp {
		size = dns.MaxMsgSize
	}
	m.Truncate(size)
	_ = w.WriteMsg(m)
}
