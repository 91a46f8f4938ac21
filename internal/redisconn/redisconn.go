// Package redisconn opens the gateway's one Redis client and keeps trying
// when Redis is not there yet.
//
// rueidis refuses to build a client when no address answers, but a gateway
// must start (and serve, degraded as configured) while Redis is down, and
// pick Redis up once it comes. Conn holds the client behind an atomic
// pointer that a background loop fills as soon as a dial succeeds; users
// ask for the client per operation and treat "none yet" like a Redis error.
// Once built, the rueidis client reconnects by itself.
package redisconn

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
	"go.uber.org/zap"
)

// ErrNotConnected is returned for operations attempted before the first
// successful connection to Redis.
var ErrNotConnected = errors.New("redis: not connected")

// Options configures a Conn.
type Options struct {
	// Addrs: one address, or several nodes of a Redis Cluster (a single
	// address of a cluster node works as well: rueidis detects the mode).
	Addrs []string
	// Password, if Redis asks for one.
	Password string
	// CacheTTL is not used by the connection itself; it is carried here so
	// that users of client-side caching read one setting.
	CacheTTL time.Duration
	// DialTimeout bounds one connection attempt. Default 1s.
	DialTimeout time.Duration
	// RetryEvery is the pause between attempts while Redis is unreachable
	// at start. Default 1s.
	RetryEvery time.Duration
	// Log receives connection events; nil logs nothing.
	Log *zap.Logger
}

// Conn is a Redis client that may not exist yet.
type Conn struct {
	client   atomic.Pointer[rueidis.Client]
	opts     Options
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// Open returns a Conn for o. It tries to connect once, synchronously, so
// that a reachable Redis is usable as soon as Open returns; if that fails
// it keeps trying in the background until Close.
func Open(o Options) (*Conn, error) {
	if len(o.Addrs) == 0 {
		return nil, errors.New("redis: no address")
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = time.Second
	}
	if o.RetryEvery <= 0 {
		o.RetryEvery = time.Second
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	c := &Conn{opts: o, stop: make(chan struct{}), done: make(chan struct{})}
	if err := c.dial(); err != nil {
		o.Log.Warn("redis unreachable; retrying in the background",
			zap.Strings("addrs", o.Addrs), zap.Error(err))
		go c.retry()
	} else {
		close(c.done)
	}
	return c, nil
}

// Static wraps an existing client, for tests and tools that build their own.
func Static(client rueidis.Client) *Conn {
	c := &Conn{stop: make(chan struct{}), done: make(chan struct{})}
	c.client.Store(&client)
	close(c.done)
	return c
}

// Client returns the client, or nil and false while Redis has never been
// reached.
func (c *Conn) Client() (rueidis.Client, bool) {
	p := c.client.Load()
	if p == nil {
		return nil, false
	}
	return *p, true
}

// Ping reports whether Redis answers within timeout.
func (c *Conn) Ping(timeout time.Duration) error {
	client, ok := c.Client()
	if !ok {
		return ErrNotConnected
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return client.Do(ctx, client.B().Ping().Build()).Error()
}

// Close stops the background dialling and closes the client.
func (c *Conn) Close() {
	c.stopOnce.Do(func() { close(c.stop) })
	<-c.done
	if client, ok := c.Client(); ok {
		client.Close()
	}
}

func (c *Conn) dial() error {
	client, err := rueidis.NewClient(ClientOption(c.opts))
	if err != nil {
		return err
	}
	c.client.Store(&client)
	c.opts.Log.Info("redis connected", zap.Strings("addrs", c.opts.Addrs))
	return nil
}

func (c *Conn) retry() {
	defer close(c.done)
	t := time.NewTicker(c.opts.RetryEvery)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			if c.dial() == nil {
				return
			}
		}
	}
}

// Auto-pipelining settings of ClientOption.
const (
	// flushDelay is how long a connection's writer waits after a flush,
	// while more than one command is in flight, so that the next write
	// carries a batch. On loopback one write costs several microseconds
	// of system time in the gateway and as much again in Redis: a
	// rate-limit call per request flushed one by one spent more CPU in
	// write(2) than in everything else, and with Redis on the same cores
	// that halved its throughput. 50µs is a fraction of a round trip
	// under load; a lone command is never delayed.
	flushDelay = 50 * time.Microsecond
	// pipelineMultiplex -1 gives one pipelined connection per Redis node
	// (rueidis's default for a single node is 2^log2(GOMAXPROCS), up to
	// four): Redis runs commands one at a time anyway, and one connection
	// gathers the largest batches.
	pipelineMultiplex = -1
)

// ClientOption is the rueidis configuration the gateway uses: RESP3 with
// client-side caching (the server tracks the keys each connection read and
// pushes invalidations, which is how a revoked API key reaches every
// instance at once), short dials, a modest cache per connection, and
// writes batched for throughput (see flushDelay).
func ClientOption(o Options) rueidis.ClientOption {
	timeout := o.DialTimeout
	if timeout <= 0 {
		timeout = time.Second
	}
	return rueidis.ClientOption{
		InitAddress:       o.Addrs,
		Password:          o.Password,
		ClientName:        "gateway",
		Dialer:            net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second},
		ConnWriteTimeout:  timeout,
		CacheSizeEachConn: 16 << 20,
		MaxFlushDelay:     flushDelay,
		PipelineMultiplex: pipelineMultiplex,
		// Fail fast: the gateway degrades per on_error instead of waiting
		// on retries inside the client.
		DisableRetry: true,
	}
}

// SplitAddrs parses the comma-separated form of -redis / GATEWAY_REDIS.
func SplitAddrs(s string) []string {
	var addrs []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	return addrs
}
