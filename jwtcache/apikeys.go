package jwtcache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
	"go.uber.org/zap"

	"github.com/edgegate/gateway/internal/redisconn"
)

// Defaults of APIKeyOptions.
const (
	DefaultKeyCacheTTL  = 30 * time.Second
	DefaultKeyFilePoll  = time.Second
	DefaultLocalEntries = 1 << 16
	// maxAPIKeyBytes bounds a raw key; the gateway's own are 46 bytes.
	maxAPIKeyBytes = 256
)

// APIKeyOptions configures an APIKeys verifier: Redis when Redis is set,
// else the key file.
type APIKeyOptions struct {
	// Redis is the gateway's Redis connection. Records are read with
	// client-side caching, so a hot key costs no round trip, and Redis
	// pushes every change of a record to every instance that read it.
	Redis *redisconn.Conn
	// CacheTTL bounds how long a record stays in the client-side cache
	// without a change from Redis. Default 30s.
	CacheTTL time.Duration
	// File is the key file of embedded mode (see FileStore), used when
	// Redis is nil. It may be missing at start: no key works until it
	// appears.
	File string
	// Poll is how often the key file is checked for changes. Default 1s.
	Poll time.Duration
	// LocalEntries bounds the parsed records kept per key (Redis mode).
	// Default 65536.
	LocalEntries int
	// Now is the clock for expiry. Default time.Now.
	Now func() time.Time
	// Log receives key file problems. Default: nothing is logged.
	Log *zap.Logger
}

// APIKeys verifies API keys against Redis or a key file. It is safe for
// concurrent use; Close stops the file poller.
type APIKeys struct {
	opts APIKeyOptions

	// Redis mode.
	memos *memoTable

	// File mode: the records in force and the file they came from.
	file      atomic.Pointer[map[[sha256.Size]byte]*keyState]
	fileInfo  os.FileInfo
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// keyState is a record as the request path uses it: parsed once, with its
// identity built, and compared (in Redis mode) by the reply it came from.
type keyState struct {
	reply rueidis.RedisMessage
	found bool
	rec   KeyRecord
	id    *Identity
}

// NewAPIKeys returns a verifier on opts.Redis or, without one, on
// opts.File, which it reads now (a malformed file is an error) and then
// polls.
func NewAPIKeys(o APIKeyOptions) (*APIKeys, error) {
	setDefault(&o.CacheTTL, DefaultKeyCacheTTL)
	setDefault(&o.Poll, DefaultKeyFilePoll)
	setDefault(&o.LocalEntries, DefaultLocalEntries)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	a := &APIKeys{opts: o, stop: make(chan struct{}), done: make(chan struct{})}
	switch {
	case o.Redis != nil:
		a.memos = newMemoTable(o.LocalEntries)
		close(a.done)
	case o.File != "":
		if err := a.reloadFile(); err != nil {
			return nil, err
		}
		if a.fileInfo == nil {
			o.Log.Warn("API key file missing; no key works until it is created", zap.String("file", o.File))
		}
		go a.poll()
	default:
		return nil, errors.New("jwtcache: API keys need a Redis connection or a key file")
	}
	return a, nil
}

// Close stops polling the key file. The Redis connection is the caller's.
func (a *APIKeys) Close() {
	a.closeOnce.Do(func() { close(a.stop) })
	<-a.done
}

// Verify checks a raw API key and returns the identity of its consumer:
// Subject and Consumer are the consumer, Headers X-Consumer-ID and (when
// the key has a plan) X-Plan. Refusals: 401 for a malformed, unknown or
// expired key, 403 for a revoked one, 503 when Redis cannot be asked. A
// key whose record is in the client-side cache (or in the key file) is
// answered without a round trip and without allocating.
func (a *APIKeys) Verify(raw []byte) (*Identity, *Error) {
	if len(raw) == 0 {
		return nil, ErrNoCredential
	}
	if len(raw) > maxAPIKeyBytes || !printable(raw) {
		return nil, errMalformedKey
	}
	sum := sha256.Sum256(raw)
	var st *keyState
	if a.memos == nil {
		st = (*a.file.Load())[sum]
	} else {
		var err *Error
		if st, err = a.lookup(sum); err != nil {
			return nil, err
		}
	}
	if st == nil || !st.found {
		return nil, errUnknownKey
	}
	if st.rec.Revoked {
		return nil, errKeyRevoked
	}
	if !st.rec.ExpiresAt.IsZero() && !a.opts.Now().Before(st.rec.ExpiresAt) {
		return nil, errKeyExpired
	}
	return st.id, nil
}

// lookup reads a key's record through the client-side cache.
//
// A cache hit returns the very reply the cache holds, so comparing it with
// the reply the key's state was parsed from tells whether that state still
// describes the record, without reading the fields again: the comparison
// is of the reply's pointers into the cache's immutable storage and of its
// expiry. Holding the old reply keeps its storage alive, so a new reply can
// never compare equal to it; any difference just means parsing again.
func (a *APIKeys) lookup(sum [sha256.Size]byte) (*keyState, *Error) {
	client, ok := a.opts.Redis.Client()
	if !ok {
		return nil, errKeyStore
	}
	m := a.memos.get(sum)
	// A hit needs no deadline; a miss is bounded by the client's
	// ConnWriteTimeout, which closes a connection Redis stops answering.
	reply, err := client.DoCache(context.Background(), client.B().Hgetall().Key(m.key).Cache(), a.opts.CacheTTL).ToMessage()
	if err != nil {
		return nil, errKeyStore
	}
	st := m.state.Load()
	if st == nil || st.reply != reply {
		st = newKeyState(reply)
		m.state.Store(st)
	}
	return st, nil
}

func newKeyState(reply rueidis.RedisMessage) *keyState {
	st := &keyState{reply: reply}
	fields, err := reply.AsStrMap()
	if err != nil {
		return st
	}
	rec, found, err := recordFromFields("", fields)
	if err != nil || !found || checkName("consumer", rec.Consumer, true) != nil || checkName("plan", rec.Plan, false) != nil {
		return st // unusable records are unknown keys
	}
	st.found, st.rec, st.id = true, rec, keyIdentity(rec)
	return st
}

var (
	headerConsumerID = []byte("X-Consumer-ID")
	headerPlan       = []byte("X-Plan")
)

func keyIdentity(rec KeyRecord) *Identity {
	consumer := []byte(rec.Consumer)
	id := &Identity{
		Subject:  consumer,
		Consumer: consumer,
		Headers:  []Header{{Name: headerConsumerID, Value: consumer}},
		Expires:  rec.ExpiresAt,
	}
	if rec.Plan != "" {
		id.Headers = append(id.Headers, Header{Name: headerPlan, Value: []byte(rec.Plan)})
	}
	return id
}

// printable reports whether b is visible ASCII only.
func printable(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

func (a *APIKeys) poll() {
	defer close(a.done)
	t := time.NewTicker(a.opts.Poll)
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			return
		case <-t.C:
			if err := a.reloadFile(); err != nil {
				a.opts.Log.Error("API key file unreadable; the previous keys stay in force",
					zap.String("file", a.opts.File), zap.Error(err))
			}
		}
	}
}

// reloadFile reads the key file when it differs from the one last read
// (another inode, as after the atomic rename of FileStore.Put, or another
// size or modification time). A malformed file is reported once per change
// and leaves the previous records in force. Only the poller calls it after
// NewAPIKeys.
func (a *APIKeys) reloadFile() error {
	fi, err := os.Stat(a.opts.File)
	if errors.Is(err, os.ErrNotExist) {
		if a.fileInfo != nil || a.file.Load() == nil {
			empty := map[[sha256.Size]byte]*keyState{}
			a.file.Store(&empty)
			a.fileInfo = nil
		}
		return nil
	}
	if err != nil {
		return err
	}
	if prev := a.fileInfo; prev != nil && os.SameFile(prev, fi) && prev.ModTime().Equal(fi.ModTime()) && prev.Size() == fi.Size() {
		return nil
	}
	if fi.Size() == 0 && a.file.Load() != nil {
		// An editor that truncates and rewrites in place shows an empty
		// file for a moment; the file `gateway keys` writes always has at
		// least its header comment, so an empty one that replaces keys is
		// a write in progress, not "no keys". A failed read below keeps
		// the previous keys too, and fileInfo stays, so the next poll
		// reads again.
		return nil
	}
	recs, err := readKeyFile(a.opts.File)
	if err != nil {
		return err
	}
	a.fileInfo = fi
	m := make(map[[sha256.Size]byte]*keyState, len(recs))
	for _, r := range recs {
		var sum [sha256.Size]byte
		hex.Decode(sum[:], []byte(r.Hash)) // validated by readKeyFile
		m[sum] = &keyState{found: true, rec: r, id: keyIdentity(r)}
	}
	a.file.Store(&m)
	return nil
}

// memoTable holds a keyMemo per key hash, in shards, bounded: a full shard
// forgets an arbitrary entry, which only costs that key a re-parse.
type memoTable struct {
	shards [maxShards]memoShard
	limit  int
}

type memoShard struct {
	mu sync.RWMutex
	m  map[[sha256.Size]byte]*keyMemo
	_  [64]byte
}

// keyMemo is what the request path keeps per key: its Redis key, built
// once so that look-ups allocate nothing, and its last parsed state.
type keyMemo struct {
	key   string
	state atomic.Pointer[keyState]
}

func newMemoTable(entries int) *memoTable {
	t := &memoTable{limit: max(1, entries/maxShards)}
	for i := range t.shards {
		t.shards[i].m = make(map[[sha256.Size]byte]*keyMemo)
	}
	return t
}

func (t *memoTable) get(sum [sha256.Size]byte) *keyMemo {
	s := &t.shards[sum[0]%maxShards]
	s.mu.RLock()
	m := s.m[sum]
	s.mu.RUnlock()
	if m != nil {
		return m
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if m = s.m[sum]; m != nil {
		return m
	}
	if len(s.m) >= t.limit {
		for k := range s.m { // map order is random: an arbitrary victim
			delete(s.m, k)
			break
		}
	}
	m = &keyMemo{key: redisKey(hex.EncodeToString(sum[:]))}
	s.m[sum] = m
	return m
}
