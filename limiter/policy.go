package limiter

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/edgegate/gateway/edge/config"
)

// Algorithm is how a policy counts.
type Algorithm uint8

const (
	// TokenBucket admits bursts of up to Limit requests and refills at
	// Limit per Window.
	TokenBucket Algorithm = iota
	// SlidingWindow admits at most Limit requests in any Window-long span:
	// exactly in redis mode (a log of admitted requests), approximately in
	// local and hybrid modes (two weighted fixed-window counters).
	SlidingWindow
)

// String returns the configuration spelling of a.
func (a Algorithm) String() string {
	switch a {
	case TokenBucket:
		return "token_bucket"
	case SlidingWindow:
		return "sliding_window"
	}
	return fmt.Sprintf("Algorithm(%d)", uint8(a))
}

// ParseAlgorithm reads the configuration spelling; "" is TokenBucket.
func ParseAlgorithm(s string) (Algorithm, error) {
	switch s {
	case "", "token_bucket":
		return TokenBucket, nil
	case "sliding_window":
		return SlidingWindow, nil
	}
	return 0, fmt.Errorf("%w: algorithm %q: want token_bucket or sliding_window", ErrInvalidPolicy, s)
}

// Mode is where a policy's counts live.
type Mode uint8

const (
	// Local counts in process memory: each gateway instance limits on its
	// own.
	Local Mode = iota
	// Redis counts in Redis, one script call per decision: instances share
	// the limit exactly.
	Redis
	// Hybrid answers from process memory and reconciles with Redis every
	// SyncInterval: instances share the limit within a documented bound.
	Hybrid
)

// String returns the configuration spelling of m.
func (m Mode) String() string {
	switch m {
	case Local:
		return "local"
	case Redis:
		return "redis"
	case Hybrid:
		return "hybrid"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// ParseMode reads the configuration spelling; "" is Local.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "", "local":
		return Local, nil
	case "redis":
		return Redis, nil
	case "hybrid":
		return Hybrid, nil
	}
	return 0, fmt.Errorf("%w: mode %q: want local, redis or hybrid", ErrInvalidPolicy, s)
}

// DefaultSyncInterval is the hybrid sync period when a Policy leaves it 0.
const DefaultSyncInterval = 100 * time.Millisecond

// Policy is one named rate limit.
type Policy struct {
	// Name is the policy's name in the configuration. It is part of every
	// Redis key (rl:{<name>:<key>}) and must not contain '{' or '}'.
	Name      string
	Algorithm Algorithm
	// Limit is the number of requests per Window; for TokenBucket also the
	// bucket size, that is the largest burst.
	Limit  int
	Window time.Duration
	Mode   Mode
	// SyncInterval is the hybrid reconciliation period. Default 100ms.
	SyncInterval time.Duration
	// FailClosed, from redis.on_error: fail_closed, answers Unavailable
	// (the gateway's 503) while Redis cannot be reached. Otherwise the
	// limiter falls back to local buckets at the same limits.
	FailClosed bool
}

// ErrInvalidPolicy is wrapped by the errors of New and the parsers; the
// message names the field to fix.
var ErrInvalidPolicy = errors.New("limiter: invalid policy")

// FromConfig builds the Policy of the configuration's rate_limits.<name>,
// with on_error from the redis section. The configuration is expected to
// have passed config validation; FromConfig still rejects what New would.
func FromConfig(name string, rl *config.RateLimit, redis config.Redis) (Policy, error) {
	if rl == nil {
		return Policy{}, fmt.Errorf("%w: rate_limits.%s is empty", ErrInvalidPolicy, name)
	}
	alg, err := ParseAlgorithm(rl.Algorithm)
	if err != nil {
		return Policy{}, err
	}
	mode, err := ParseMode(rl.Mode)
	if err != nil {
		return Policy{}, err
	}
	p := Policy{
		Name:         name,
		Algorithm:    alg,
		Limit:        rl.Limit,
		Window:       rl.Window.D(),
		Mode:         mode,
		SyncInterval: rl.SyncInterval.D(),
		FailClosed:   redis.OnError == "fail_closed",
	}
	return p, p.validate()
}

// validate reports the first thing New cannot work with.
func (p *Policy) validate() error {
	switch {
	case p.Algorithm > SlidingWindow:
		return fmt.Errorf("%w: unknown algorithm %d", ErrInvalidPolicy, p.Algorithm)
	case p.Mode > Hybrid:
		return fmt.Errorf("%w: unknown mode %d", ErrInvalidPolicy, p.Mode)
	case p.Limit < 1:
		return fmt.Errorf("%w: limit %d: want at least 1", ErrInvalidPolicy, p.Limit)
	case p.Limit > 1<<31-1:
		return fmt.Errorf("%w: limit %d: want at most %d", ErrInvalidPolicy, p.Limit, 1<<31-1)
	case p.Window <= 0:
		return fmt.Errorf("%w: window %v: want a positive duration", ErrInvalidPolicy, p.Window)
	case p.Window/time.Duration(p.Limit) < time.Nanosecond:
		return fmt.Errorf("%w: limit %d per %v is more than one per nanosecond", ErrInvalidPolicy, p.Limit, p.Window)
	case p.SyncInterval < 0:
		return fmt.Errorf("%w: sync_interval %v is negative", ErrInvalidPolicy, p.SyncInterval)
	}
	if p.Mode != Local {
		switch {
		case p.Name == "":
			return fmt.Errorf("%w: %s mode needs a name for the Redis keys", ErrInvalidPolicy, p.Mode)
		case strings.ContainsAny(p.Name, "{}"):
			return fmt.Errorf("%w: name %q: braces would break the key's hash tag", ErrInvalidPolicy, p.Name)
		case p.Window < time.Millisecond:
			// Redis expiries are in milliseconds, its clock in microseconds.
			return fmt.Errorf("%w: window %v: %s mode needs at least 1ms", ErrInvalidPolicy, p.Window, p.Mode)
		case p.Window/time.Duration(p.Limit) < time.Microsecond:
			return fmt.Errorf("%w: limit %d per %v is more than one per microsecond, the resolution of Redis time", ErrInvalidPolicy, p.Limit, p.Window)
		}
	}
	return nil
}
