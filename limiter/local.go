package limiter

// local is a limiter that answers from process memory alone. bucket and
// window implement it; the Limiter uses one as the whole limiter in local
// mode and as the fail_open fallback in redis and hybrid modes.
type local interface {
	// allow decides one request of the key whose hash is h at time now
	// (nanoseconds on the Limiter's clock) and records it if admitted.
	allow(h uint64, now int64) Decision
	// counts adds the table's counters to s.
	counts(s *Stats)
}
