package limiter

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/edgegate/gateway/internal/redisconn"
)

// syncChunk bounds the commands of one pipelined batch, so that a sync of
// many keys does not build one enormous request.
const syncChunk = 1024

// hybrid is the hybrid mode: local counters answer every request, and
// every SyncInterval one round reports each active key's local admissions
// to Redis and takes back the global figure.
//
// Between results, an instance admits at most its budget for the key:
// min(quantum, global remaining), where quantum is the policy's rate over
// one interval, ceil(limit * interval / window). See doc.go for the bound
// this gives on over-admission.
type hybrid struct {
	l           *Limiter
	health      *health // l.remote.health, one pointer closer
	t           *table[hybridState]
	limit       int
	quantum     int32
	interval    int64 // nanoseconds
	window      int64 // nanoseconds
	perToken    int64 // window / limit, nanoseconds
	stale       int64 // a result older than this no longer describes the key
	bucket      bool  // token bucket, else sliding window
	syncTimeout time.Duration

	// next is the local time of the loop's next round, 0 before its first.
	next atomic.Int64

	mu    sync.Mutex // one round at a time
	batch []syncItem

	quit, done chan struct{}
	stopOnce   sync.Once
}

// hybridState is one key's local view.
type hybridState struct {
	key string // the Redis key, built once
	// remaining is the global remaining of the last result, less the
	// admissions since; resetAt and retryAt come from the same result.
	remaining                int64
	resetAt, retryAt, synced int64
	// pending counts admissions not yet reported; budget, admissions left
	// until the next result.
	pending, budget int32
	// seen marks a key asked since the last round began.
	seen bool
}

// syncItem is one key's report in a round.
type syncItem struct {
	h     uint64
	key   string
	delta int32
}

func newHybrid(l *Limiter, o *Options) *hybrid {
	p := &l.policy
	window, interval := int64(p.Window), int64(p.SyncInterval)
	q := (int64(p.Limit)*interval + window - 1) / window
	stale := window + 2*interval
	return &hybrid{
		l:           l,
		health:      &l.remote.health,
		t:           newTable[hybridState](o.MaxKeys, stale),
		limit:       p.Limit,
		quantum:     int32(min(max(q, 1), int64(p.Limit))),
		interval:    interval,
		window:      window,
		perToken:    window / int64(p.Limit),
		stale:       stale,
		bucket:      p.Algorithm == TokenBucket,
		syncTimeout: max(o.Timeout, p.SyncInterval),
		quit:        make(chan struct{}),
		done:        make(chan struct{}),
	}
}

// allow is Allow in hybrid mode. It never waits on Redis.
func (hy *hybrid) allow(key []byte, h uint64, now int64) Decision {
	if hy.health.down() {
		return hy.l.degrade(h, now)
	}
	sh := hy.t.shard(h)
	sh.mu.Lock()
	s, fresh := sh.get(h, now)
	if fresh {
		r := hy.l.remote
		s.key = b2s(r.key(make([]byte, 0, len(r.prefix)+len(key)+1), key))
		hy.forget(s)
	} else if s.synced != 0 && now-s.synced > hy.stale {
		hy.forget(s)
	}
	if !s.seen {
		hy.mark(sh, h, s)
	}
	d := Decision{Limit: hy.limit}
	if s.budget > 0 {
		s.budget--
		s.pending++
		s.remaining--
		if hy.bucket {
			s.resetAt = max(s.resetAt, now) + hy.perToken
		} else {
			s.resetAt = max(s.resetAt, now+hy.window)
		}
		d.Allowed = true
		d.Remaining = int(max(s.remaining, 0))
		d.Reset = time.Duration(s.resetAt - now)
		sh.admitted++
		sh.mu.Unlock()
		return d
	}
	d.Reset = time.Duration(max(s.resetAt-now, 0))
	from := now
	if s.remaining <= 0 {
		// Globally out: Redis said when there is room again.
		from = max(s.retryAt, now)
	}
	// Room reaches this instance with the first result after that.
	d.RetryAfter = time.Duration(max(hy.roundAfter(from)-now, 1))
	sh.limited++
	sh.mu.Unlock()
	return d
}

// forget resets a key's view to what an instance may assume alone: a
// quantum of budget and the whole limit remaining. Unreported admissions
// stay pending.
func (hy *hybrid) forget(s *hybridState) {
	s.budget = hy.quantum
	s.remaining = int64(hy.limit) - int64(s.pending)
	s.resetAt, s.retryAt, s.synced = 0, 0, 0
}

// roundAfter returns the local time of the first scheduled round at or
// after t.
func (hy *hybrid) roundAfter(t int64) int64 {
	next := hy.next.Load()
	if next == 0 {
		return t + hy.interval
	}
	if t <= next {
		return next
	}
	return next + (t-next+hy.interval-1)/hy.interval*hy.interval
}

// run is the sync loop.
func (hy *hybrid) run() {
	defer close(hy.done)
	t := time.NewTicker(time.Duration(hy.interval))
	defer t.Stop()
	for {
		select {
		case <-hy.quit:
			return
		case <-t.C:
			hy.next.Store(hy.l.clock() + hy.interval)
			_ = hy.round()
		}
	}
}

// stop ends the loop and reports what is still pending, so that a
// configuration reload, which closes the old limiters, loses no counts.
func (hy *hybrid) stop() {
	hy.stopOnce.Do(func() {
		close(hy.quit)
		<-hy.done
		_ = hy.round()
	})
}

// round reports the admissions of every key asked since the previous
// round, in pipelined batches, and applies the answers. Keys whose report
// fails keep their admissions pending for the next round. With nothing
// to report while Redis is down, it pings, so that recovery is noticed.
func (hy *hybrid) round() error {
	hy.mu.Lock()
	defer hy.mu.Unlock()
	r := hy.l.remote
	batch := hy.snapshot()
	defer func() {
		// Keep the slice for the next round, not the keys it names.
		clear(batch)
		hy.batch = batch[:0]
	}()
	client, ok := r.conn.Client()
	if !ok {
		hy.restore(batch, hy.l.clock())
		r.health.failed(redisconn.ErrNotConnected)
		return redisconn.ErrNotConnected
	}
	ctx, cancel := context.WithTimeout(context.Background(), hy.syncTimeout)
	defer cancel()
	if len(batch) == 0 {
		if !r.health.down() {
			return nil
		}
		err := client.Do(ctx, client.B().Ping().Build()).Error()
		if stale(err) {
			err = client.Do(ctx, client.B().Ping().Build()).Error()
		}
		if err != nil {
			r.health.failed(err)
			return err
		}
		r.health.succeeded()
		return nil
	}
	var failure error
	for start := 0; start < len(batch); start += syncChunk {
		chunk := batch[start:min(start+syncChunk, len(batch))]
		results := hy.exec(ctx, client, chunk)
		now := hy.l.clock()
		for i, res := range results {
			vals, err := res.ToArray()
			if err == nil {
				err = hy.apply(&chunk[i], vals, now)
			}
			if err != nil {
				hy.restore(chunk[i:i+1], now)
				if failure == nil {
					failure = err
				}
			}
		}
	}
	if failure != nil {
		r.health.failed(failure)
		return failure
	}
	r.health.succeeded()
	return nil
}

// mark flags the key h, whose state is s, as asked since the last
// round, and lists it in its shard for the next snapshot.
//
// A key is listed when its flag goes up, and the snapshot takes the flags
// down, so a list holds each live key at most once, plus keys evicted
// since they were listed. A flood of new keys between two rounds could
// grow it without bound; when it reaches twice the shard's capacity it
// is compacted to the keys still held and flagged, which is at most the
// capacity, so its cost stays constant per key.
func (hy *hybrid) mark(sh *shard[hybridState], h uint64, s *hybridState) {
	s.seen = true
	if len(sh.marked) >= 2*int(sh.capacity) {
		live := sh.marked[:0]
		for _, m := range sh.marked {
			// Lowering the flag of a kept key drops its duplicates.
			if ms := sh.peek(m); ms != nil && ms.seen && ms != s {
				ms.seen = false
				live = append(live, m)
			}
		}
		for _, m := range live {
			sh.peek(m).seen = true
		}
		clear(sh.marked[len(live):])
		sh.marked = live
	}
	sh.mark(h)
}

// snapshot collects the keys asked since the previous round and moves
// their pending admissions into the batch.
func (hy *hybrid) snapshot() []syncItem {
	batch := hy.batch[:0]
	for i := range hy.t.shards {
		sh := &hy.t.shards[i]
		sh.mu.Lock()
		for _, h := range sh.marked {
			if s := sh.peek(h); s != nil && s.seen {
				batch = append(batch, syncItem{h: h, key: s.key, delta: s.pending})
				s.pending, s.seen = 0, false
			}
		}
		sh.marked = sh.marked[:0]
		sh.mu.Unlock()
	}
	return batch
}

// restore puts reports that did not reach Redis back as pending and marks
// their keys asked, where the next snapshot looks.
func (hy *hybrid) restore(items []syncItem, now int64) {
	for i := range items {
		it := &items[i]
		sh := hy.t.shard(it.h)
		sh.mu.Lock()
		if s := sh.peek(it.h); s != nil && s.key == it.key {
			s.pending += it.delta
			if !s.seen {
				hy.mark(sh, it.h, s)
			}
			sh.touch(it.h, now)
		}
		sh.mu.Unlock()
	}
}

// exec sends a chunk's reports in one pipelined batch of EVALSHA, then
// resends as EVAL the reports that did not run: those whose node lacked
// the script, and those that met a dead connection (see stale).
func (hy *hybrid) exec(ctx context.Context, client rueidis.Client, chunk []syncItem) []rueidis.RedisResult {
	r := hy.l.remote
	sc := r.sync
	cmds := make(rueidis.Commands, len(chunk))
	for i := range chunk {
		it := &chunk[i]
		cmds[i] = client.B().Evalsha().Sha1(sc.sha).Numkeys(1).Key(it.key).
			Arg(r.limitArg, r.windowArg, strconv.Itoa(int(it.delta))).Build()
	}
	results := client.DoMulti(ctx, cmds...)
	// A node that lost its script cache (restarted, or new in the
	// cluster) gets EVAL; a connection found dead gets one retry.
	var again []int
	for i := range results {
		err := results[i].Error()
		if e, ok := rueidis.IsRedisErr(err); (ok && e.IsNoScript()) || stale(err) {
			again = append(again, i)
		}
	}
	if len(again) == 0 {
		return results
	}
	cmds = cmds[:0]
	for _, i := range again {
		it := &chunk[i]
		cmds = append(cmds, client.B().Eval().Script(sc.src).Numkeys(1).Key(it.key).
			Arg(r.limitArg, r.windowArg, strconv.Itoa(int(it.delta))).Build())
	}
	for j, res := range client.DoMulti(ctx, cmds...) {
		results[again[j]] = res
	}
	return results
}

// apply takes one key's answer {remaining, reset, retry}: the admissions
// made since the snapshot come off the global remaining, and the budget
// until the next result is at most one quantum.
func (hy *hybrid) apply(it *syncItem, vals []rueidis.RedisMessage, now int64) error {
	var v [3]int64
	if len(vals) != len(v) {
		return errBadReply
	}
	for i := range v {
		x, err := vals[i].AsInt64()
		if err != nil {
			return errBadReply
		}
		v[i] = x
	}
	sh := hy.t.shard(it.h)
	sh.mu.Lock()
	if s := sh.peek(it.h); s != nil && s.key == it.key {
		s.remaining = v[0] - int64(s.pending)
		s.budget = int32(max(min(int64(hy.quantum), s.remaining), 0))
		s.resetAt = now + int64(micros(v[1]))
		s.retryAt = now + int64(micros(v[2]))
		s.synced = now
	}
	sh.mu.Unlock()
	return nil
}
