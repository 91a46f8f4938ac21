package pool

import (
	"cmp"
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Discovery re-resolves a DNS name every Refresh and makes the answer the
// service's membership:
//
//   - An SRV name ("_users._tcp.example.internal") gives targets, ports
//     and weights. Only the records of the lowest priority are used. Each
//     target is resolved to its A and AAAA records by the same resolver,
//     since a Consul or CoreDNS resolver knows names the system's does not,
//     and each address is an instance, weighted by its record (weight 0,
//     "no preference" in RFC 2782, counts as 1).
//   - "host:port" gives one instance of weight 1 per A or AAAA record.
//
// Instances are identified by "ip:port". One that stays keeps its
// connections, counters and health; a new one joins healthy; one that went
// leaves the next snapshot at once, its requests in flight finish, and its
// connections are closed as they become idle. A failed resolution keeps the
// last good membership (a DNS outage must not empty a working service), and
// so does an answer with no usable record, since a deregistered name and a
// broken DNS server look alike from here. A target that does not exist any
// more is skipped; any other error fails the whole resolution.

// errNoRecords is a resolution that succeeded with nothing usable.
var errNoRecords = errors.New("no usable records")

// discoverer resolves a Discovery's name.
type discoverer struct {
	name     string
	srv      bool
	host     string // for host:port
	port     uint16
	refresh  time.Duration
	resolver *net.Resolver
}

// target is one instance a resolution found.
type target struct {
	addr   string
	weight int
}

// newDiscoverer returns the discoverer for a validated Discovery.
func newDiscoverer(d *Discovery) *discoverer {
	r := &net.Resolver{PreferGo: true}
	if d.Resolver != "" {
		server := d.Resolver
		r.Dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
			var dialer net.Dialer
			return dialer.DialContext(ctx, network, server)
		}
	}
	dd := &discoverer{name: d.Name, refresh: d.Refresh, resolver: r}
	if strings.HasPrefix(d.Name, "_") {
		dd.srv = true
	} else {
		host, port, _ := net.SplitHostPort(d.Name) // validated
		p, _ := strconv.ParseUint(port, 10, 16)
		dd.host, dd.port = host, uint16(p)
	}
	return dd
}

// resolve returns the targets the name resolves to now, sorted by address
// and without duplicates.
func (d *discoverer) resolve(ctx context.Context) ([]target, error) {
	var targets []target
	if d.srv {
		_, records, err := d.resolver.LookupSRV(ctx, "", "", d.name)
		if err != nil {
			return nil, err
		}
		// LookupSRV sorts by priority: the first record has the lowest.
		for _, rec := range records {
			if rec.Priority != records[0].Priority {
				break
			}
			ips, err := d.lookupHost(ctx, rec.Target)
			if isNotFound(err) {
				continue
			}
			if err != nil {
				return nil, err
			}
			for _, ip := range ips {
				targets = append(targets, target{
					addr:   netip.AddrPortFrom(ip, rec.Port).String(),
					weight: max(int(rec.Weight), 1),
				})
			}
		}
	} else {
		ips, err := d.lookupHost(ctx, d.host)
		if err != nil {
			return nil, err
		}
		for _, ip := range ips {
			targets = append(targets, target{addr: netip.AddrPortFrom(ip, d.port).String(), weight: 1})
		}
	}
	if len(targets) == 0 {
		return nil, errNoRecords
	}
	slices.SortFunc(targets, func(a, b target) int { return cmp.Compare(a.addr, b.addr) })
	return slices.CompactFunc(targets, func(a, b target) bool { return a.addr == b.addr }), nil
}

// lookupHost returns host's addresses, or host itself if it is one.
func (d *discoverer) lookupHost(ctx context.Context, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(strings.TrimSuffix(host, ".")); err == nil {
		return []netip.Addr{ip.Unmap()}, nil
	}
	ips, err := d.resolver.LookupNetIP(ctx, "ip", host)
	for i, ip := range ips {
		ips[i] = ip.Unmap()
	}
	return ips, err
}

func isNotFound(err error) bool {
	dnsErr, ok := errors.AsType[*net.DNSError](err)
	return ok && dnsErr.IsNotFound
}

// refresh resolves the service's name once, within DefaultResolveTimeout,
// and applies the answer. On failure it keeps the membership and returns
// the error. It is one round of discoverLoop, which tests call instead of
// waiting for Refresh.
func (s *Service) refresh() error {
	ctx, cancel := context.WithTimeout(s.ctx, DefaultResolveTimeout)
	defer cancel()
	targets, err := s.discovery.resolve(ctx)
	if err != nil {
		if s.ctx.Err() == nil && !s.resolveFailing.Swap(true) {
			s.log.Warn("discovery failed; keeping the last instances until it recovers",
				zap.String("service", s.name),
				zap.String("name", s.discovery.name),
				zap.Int("instances", len(s.snap.Load().members)),
				zap.Error(err))
		}
		return err
	}
	if s.resolveFailing.Swap(false) {
		s.log.Info("discovery recovered", zap.String("service", s.name), zap.String("name", s.discovery.name))
	}
	s.setMembers(targets)
	return nil
}

// discoverLoop runs refresh every Refresh until the service closes.
func (s *Service) discoverLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.discovery.refresh)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			_ = s.refresh()
		}
	}
}

// setMembers makes targets, sorted by address, the service's membership,
// keeping the instances of addresses that stay.
func (s *Service) setMembers(targets []target) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	old := s.snap.Load().members
	current := make(map[string]*Instance, len(old))
	for _, in := range old {
		current[in.addr] = in
	}
	members := make([]*Instance, 0, len(targets))
	var added, removed []string
	reweighted := false
	for _, t := range targets {
		if in, ok := current[t.addr]; ok {
			delete(current, t.addr)
			if in.Weight() != t.weight {
				in.weight.Store(int32(t.weight))
				reweighted = true
			}
			members = append(members, in)
			continue
		}
		in := newInstance(t.addr, t.weight, &s.opts)
		members = append(members, in)
		s.startCheckLocked(in)
		added = append(added, t.addr)
	}
	for _, in := range old {
		if _, gone := current[in.addr]; gone {
			in.retired.Store(true)
			if in.stopCheck != nil {
				close(in.stopCheck)
			}
			in.closeIdle()
			removed = append(removed, in.addr)
		}
	}
	if len(added) == 0 && len(removed) == 0 && !reweighted {
		return
	}
	snap := s.publishLocked(members)
	s.log.Info("discovery changed the instances",
		zap.String("service", s.name),
		zap.Strings("added", added),
		zap.Strings("removed", removed),
		zap.Int("instances", len(snap.members)),
		zap.Int("healthy", len(snap.healthy)))
}
