package edge

import (
	"math/bits"
	"math/rand/v2"
	"net"

	"github.com/valyala/fasthttp"

	"github.com/edgegate/gateway/pool"
)

// split is a route's canary: each arm takes its weight in percent of the
// route's traffic, the route's own service the rest. Without a hash_on key
// every request draws its side at random; with one, a client's key decides,
// so the same client stays on the same side across requests and across
// gateway instances (the key's hash is the same everywhere).
type split struct {
	main *pool.Service
	arms []splitArm
	// hashOn, when set, makes the choice sticky.
	hashOn pool.HashOn
	sticky bool
}

// splitArm is one canary service and the cumulative weight up to which a
// draw in [0, 100) lands on it.
type splitArm struct {
	service *pool.Service
	upTo    uint64
}

// pick returns the service for one request.
func (s *split) pick(req *fasthttp.Request, ip net.IP) *pool.Service {
	var n uint64
	if k, ok := s.stickyKey(req, ip); ok {
		// The key's hash is remixed first: the same key may also place the
		// request on a consistent-hash ring, and the canary side must not
		// correlate with the ring position.
		n, _ = bits.Mul64(mix64(k), 100)
	} else {
		n = rand.Uint64N(100)
	}
	for _, a := range s.arms {
		if n < a.upTo {
			return a.service
		}
	}
	return s.main
}

func (s *split) stickyKey(req *fasthttp.Request, ip net.IP) (uint64, bool) {
	if !s.sticky {
		return 0, false
	}
	return s.hashOn.Key(req, ip)
}

// mix64 is the finalizer of SplitMix64: every input bit affects every
// output bit.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
