package limiter

import (
	"errors"
	"testing"
	"time"

	"github.com/edgegate/gateway/edge/config"
	"github.com/edgegate/gateway/internal/redisconn"
)

func TestNewRejectsInvalidPolicies(t *testing.T) {
	conn := &redisconn.Conn{}
	for _, c := range []struct {
		name string
		p    Policy
		o    Options
	}{
		{"zero limit", Policy{Window: time.Second}, Options{}},
		{"zero window", Policy{Limit: 1}, Options{}},
		{"over one per nanosecond", Policy{Limit: 2000, Window: time.Microsecond}, Options{}},
		{"unknown algorithm", Policy{Algorithm: 9, Limit: 1, Window: time.Second}, Options{}},
		{"unknown mode", Policy{Mode: 9, Limit: 1, Window: time.Second}, Options{}},
		{"negative sync interval", Policy{Limit: 1, Window: time.Second, SyncInterval: -1}, Options{}},
		{"redis without a connection", Policy{Name: "p", Mode: Redis, Limit: 1, Window: time.Second}, Options{}},
		{"redis without a name", Policy{Mode: Redis, Limit: 1, Window: time.Second}, Options{Redis: conn}},
		{"brace in the name", Policy{Name: "a}b", Mode: Hybrid, Limit: 1, Window: time.Second}, Options{Redis: conn}},
		{"redis window under 1ms", Policy{Name: "p", Mode: Redis, Limit: 1, Window: time.Microsecond}, Options{Redis: conn}},
		{"redis over one per microsecond", Policy{Name: "p", Mode: Redis, Limit: 2000, Window: time.Millisecond}, Options{Redis: conn}},
	} {
		if _, err := New(c.p, c.o); !errors.Is(err, ErrInvalidPolicy) {
			t.Errorf("%s: New = %v, want ErrInvalidPolicy", c.name, err)
		}
	}
}

func TestFromConfig(t *testing.T) {
	rl := &config.RateLimit{Key: "ip", Algorithm: "sliding_window", Limit: 1000,
		Window: config.Duration(time.Minute), Mode: "hybrid", SyncInterval: config.Duration(50 * time.Millisecond)}
	p, err := FromConfig("per_ip", rl, config.Redis{OnError: "fail_closed"})
	if err != nil {
		t.Fatal(err)
	}
	want := Policy{Name: "per_ip", Algorithm: SlidingWindow, Limit: 1000, Window: time.Minute, Mode: Hybrid,
		SyncInterval: 50 * time.Millisecond, FailClosed: true}
	if p != want {
		t.Fatalf("FromConfig = %+v, want %+v", p, want)
	}

	p, err = FromConfig("per_key", &config.RateLimit{Limit: 5, Window: config.Duration(time.Second)}, config.Redis{OnError: "fail_open"})
	if err != nil || p.Algorithm != TokenBucket || p.Mode != Local || p.FailClosed {
		t.Fatalf("defaults: %+v, %v", p, err)
	}

	for _, bad := range []*config.RateLimit{
		nil,
		{Algorithm: "leaky_bucket", Limit: 1, Window: config.Duration(time.Second)},
		{Mode: "cluster", Limit: 1, Window: config.Duration(time.Second)},
		{Limit: 0, Window: config.Duration(time.Second)},
	} {
		if _, err := FromConfig("x", bad, config.Redis{}); !errors.Is(err, ErrInvalidPolicy) {
			t.Errorf("FromConfig(%+v) = %v, want ErrInvalidPolicy", bad, err)
		}
	}
}

func TestParseRoundTrips(t *testing.T) {
	for _, a := range []Algorithm{TokenBucket, SlidingWindow} {
		if got, err := ParseAlgorithm(a.String()); err != nil || got != a {
			t.Errorf("ParseAlgorithm(%q) = %v, %v", a, got, err)
		}
	}
	for _, m := range []Mode{Local, Redis, Hybrid} {
		if got, err := ParseMode(m.String()); err != nil || got != m {
			t.Errorf("ParseMode(%q) = %v, %v", m, got, err)
		}
	}
}
