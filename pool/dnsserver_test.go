package pool

import (
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// dnsServer is a real DNS server on a free UDP port of 127.0.0.1 whose
// answers the test changes while it runs.
type dnsServer struct {
	addr string

	mu   sync.Mutex
	srv  map[string][]*dns.SRV   // by lower-case FQDN
	ips  map[string][]netip.Addr // A and AAAA records by lower-case FQDN
	fail bool                    // answer SERVFAIL to everything
}

// srvRecord is an SRV record as the test writes it.
type srvRecord struct {
	target   string
	port     uint16
	priority uint16
	weight   uint16
}

// startDNS serves on UDP and TCP, one port for both, so that resolvers
// configured for TCP (or retrying a truncated answer over it) are served
// too.
func startDNS(tb testing.TB) *dnsServer {
	tb.Helper()
	pc, ln := listenUDPAndTCP(tb)
	d := &dnsServer{addr: pc.LocalAddr().String(), srv: map[string][]*dns.SRV{}, ips: map[string][]netip.Addr{}}
	for _, server := range []*dns.Server{{PacketConn: pc, Handler: d}, {Listener: ln, Handler: d}} {
		started := make(chan struct{})
		server.NotifyStartedFunc = func() { close(started) }
		served := make(chan struct{})
		go func() {
			defer close(served)
			_ = server.ActivateAndServe()
		}()
		<-started
		tb.Cleanup(func() {
			_ = server.Shutdown()
			<-served
		})
	}
	return d
}

// listenUDPAndTCP listens on a loopback port free for both UDP and TCP.
func listenUDPAndTCP(tb testing.TB) (net.PacketConn, net.Listener) {
	tb.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln
		}
		_ = pc.Close()
	}
	tb.Fatal("no loopback port free for both UDP and TCP")
	return nil, nil
}

// setSRV replaces the SRV records of name.
func (d *dnsServer) setSRV(name string, records ...srvRecord) {
	rrs := make([]*dns.SRV, len(records))
	for i, r := range records {
		rrs[i] = &dns.SRV{
			Hdr:      dns.RR_Header{Name: dns.Fqdn(name), Rrtype: dns.TypeSRV, Class: dns.ClassINET},
			Priority: r.priority, Weight: r.weight, Port: r.port, Target: dns.Fqdn(r.target),
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.srv[strings.ToLower(dns.Fqdn(name))] = rrs
}

// setIPs replaces the A and AAAA records of name.
func (d *dnsServer) setIPs(name string, ips ...string) {
	addrs := make([]netip.Addr, len(ips))
	for i, ip := range ips {
		addrs[i] = netip.MustParseAddr(ip)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ips[strings.ToLower(dns.Fqdn(name))] = addrs
}

// setFailing makes the server answer SERVFAIL, or stop doing so.
func (d *dnsServer) setFailing(fail bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.fail = fail
}

// ServeDNS answers from the records the test set: NXDOMAIN for a name
// with none of any type, an empty answer for a name without records of the
// type asked.
func (d *dnsServer) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail || len(r.Question) != 1 {
		m.Rcode = dns.RcodeServerFailure
		_ = w.WriteMsg(m)
		return
	}
	q := r.Question[0]
	name := strings.ToLower(q.Name)
	srvs, hasSRV := d.srv[name]
	ips, hasIPs := d.ips[name]
	if !hasSRV && !hasIPs {
		m.Rcode = dns.RcodeNameError
	}
	switch q.Qtype {
	case dns.TypeSRV:
		for _, rr := range srvs {
			m.Answer = append(m.Answer, rr)
		}
	case dns.TypeA, dns.TypeAAAA:
		for _, ip := range ips {
			hdr := dns.RR_Header{Name: q.Name, Rrtype: q.Qtype, Class: dns.ClassINET}
			switch {
			case ip.Is4() && q.Qtype == dns.TypeA:
				m.Answer = append(m.Answer, &dns.A{Hdr: hdr, A: ip.AsSlice()})
			case ip.Is6() && q.Qtype == dns.TypeAAAA:
				m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr, AAAA: ip.AsSlice()})
			}
		}
	}
	_ = w.WriteMsg(m)
}
