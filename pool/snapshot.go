package pool

import "go.uber.org/zap"

// snapshot is a service's membership at one moment: every instance, the
// healthy ones, and the balancer built over those. It is immutable: a
// change of membership (discovery) or health (checks) builds a new snapshot
// and swaps the service's pointer, so that Do reads one atomic pointer and
// never takes a lock, and a pick never sees a half-applied change.
// Requests that loaded the old snapshot finish with it.
type snapshot struct {
	// members are all instances, healthy or not, static ones in
	// configuration order and discovered ones by address.
	members []*Instance
	// healthy are the members in rotation, in the same order.
	healthy []*Instance
	bal     balancer
}

// publishLocked builds the snapshot for members from their health as it
// stands and makes it current. members must not change afterwards. s.mu must
// be held, so that concurrent health changes publish in turn and the last
// snapshot reflects them all.
func (s *Service) publishLocked(members []*Instance) *snapshot {
	healthy := make([]*Instance, 0, len(members))
	for _, in := range members {
		if in.up.Load() {
			healthy = append(healthy, in)
		}
	}
	snap := &snapshot{members: members, healthy: healthy, bal: newBalancer(s.balancer, healthy)}
	s.snap.Store(snap)
	return snap
}

// setUp takes in out of rotation or puts it back, and publishes the change.
// It reports whether anything changed: nothing does when in is already in
// that state, has left the service, or the service is closed (a closed
// service keeps serving its last snapshot, without health checks to undo a
// change).
func (s *Service) setUp(in *Instance, up bool, reason string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || in.retired.Load() || in.up.Load() == up {
		return false
	}
	in.up.Store(up)
	snap := s.publishLocked(s.snap.Load().members)
	fields := [...]zap.Field{
		zap.String("service", s.name),
		zap.String("instance", in.addr),
		zap.String("reason", reason),
		zap.Int("healthy", len(snap.healthy)),
		zap.Int("instances", len(snap.members)),
	}
	if up {
		s.log.Info("instance back in rotation", fields[:]...)
	} else {
		s.log.Warn("instance out of rotation", fields[:]...)
	}
	return true
}
