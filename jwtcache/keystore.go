package jwtcache

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/rueidis"
)

// KeyPrefix starts every raw API key the gateway issues, so that a leaked
// key is recognisable (secret scanners match on such prefixes).
const KeyPrefix = "gw_"

// KeyRecord is what the gateway stores about an API key: never the key,
// only its SHA-256. Keys are 32 random bytes, so a plain hash is as good
// as a slow one: there is nothing to guess.
type KeyRecord struct {
	// Hash is the lower-case hex SHA-256 of the raw key, and its id.
	Hash string
	// Consumer is who the key was issued to; it becomes X-Consumer-ID.
	Consumer string
	// Plan becomes X-Plan; may be empty.
	Plan string
	// ExpiresAt is when the key stops working; zero for never.
	ExpiresAt time.Time
	// Revoked keys are refused with 403. Revocation is final: Put never
	// clears it.
	Revoked bool
}

// KeyStore holds API key records: Redis (RedisStore) or a file
// (FileStore).
type KeyStore interface {
	// Get returns the record of the key whose hash is given, and whether
	// there is one.
	Get(ctx context.Context, hash string) (KeyRecord, bool, error)
	// Put creates or replaces a record, except that a revoked record stays
	// revoked whatever rec says, so that a rotation racing a revocation
	// cannot undo it.
	Put(ctx context.Context, rec KeyRecord) error
}

// ErrKeyNotFound is returned by Rotate and Revoke for a key the store does
// not hold.
var ErrKeyNotFound = errors.New("jwtcache: no such API key")

// HashKey returns the id of a raw API key: its SHA-256 in lower-case hex.
func HashKey(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:])
}

// newRawKey returns a fresh key: KeyPrefix and 32 random bytes in
// base64url.
func newRawKey() string {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand documents it)
	return KeyPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// Issue creates a key for consumer on plan, valid for expires from now (0:
// no expiry), stores its record and returns the raw key, which exists
// nowhere else: show it once.
func Issue(ctx context.Context, store KeyStore, consumer, plan string, expires time.Duration, now time.Time) (string, KeyRecord, error) {
	if err := checkName("consumer", consumer, true); err != nil {
		return "", KeyRecord{}, err
	}
	if err := checkName("plan", plan, false); err != nil {
		return "", KeyRecord{}, err
	}
	if expires < 0 {
		return "", KeyRecord{}, fmt.Errorf("jwtcache: negative expiry %v", expires)
	}
	raw := newRawKey()
	rec := KeyRecord{Hash: HashKey(raw), Consumer: consumer, Plan: plan}
	if expires > 0 {
		rec.ExpiresAt = now.Add(expires).Truncate(time.Second)
	}
	if err := store.Put(ctx, rec); err != nil {
		return "", KeyRecord{}, err
	}
	return raw, rec, nil
}

// Rotate issues a successor to the key oldRaw, for the same consumer and
// plan and with the same expiry (a rotation does not extend a key's life),
// and makes the old key expire grace from now, or at its own expiry if
// that comes first. The successor is stored first, so there is no moment
// when neither key works. A revoked or expired key cannot be rotated.
func Rotate(ctx context.Context, store KeyStore, oldRaw string, grace time.Duration, now time.Time) (string, KeyRecord, error) {
	if grace < 0 {
		return "", KeyRecord{}, fmt.Errorf("jwtcache: negative grace period %v", grace)
	}
	old, ok, err := store.Get(ctx, HashKey(oldRaw))
	switch {
	case err != nil:
		return "", KeyRecord{}, err
	case !ok:
		return "", KeyRecord{}, ErrKeyNotFound
	case old.Revoked:
		return "", KeyRecord{}, errors.New("jwtcache: the key is revoked; issue a new one instead")
	case !old.ExpiresAt.IsZero() && !now.Before(old.ExpiresAt):
		return "", KeyRecord{}, errors.New("jwtcache: the key has expired; issue a new one instead")
	}
	raw := newRawKey()
	rec := KeyRecord{Hash: HashKey(raw), Consumer: old.Consumer, Plan: old.Plan, ExpiresAt: old.ExpiresAt}
	if err := store.Put(ctx, rec); err != nil {
		return "", KeyRecord{}, err
	}
	end := now.Add(grace).Truncate(time.Second)
	if old.ExpiresAt.IsZero() || end.Before(old.ExpiresAt) {
		old.ExpiresAt = end
	}
	if err := store.Put(ctx, old); err != nil {
		return "", KeyRecord{}, fmt.Errorf("jwtcache: successor stored, but the old key's expiry was not: %w", err)
	}
	return raw, rec, nil
}

// Revoke marks the key whose hash is given as revoked. Every gateway
// instance refuses it within a second: Redis pushes the change to every
// client-side cache, and the key file is polled every second.
func Revoke(ctx context.Context, store KeyStore, hash string) error {
	if !validHash(hash) {
		return fmt.Errorf("jwtcache: %q is not a SHA-256 hex digest", hash)
	}
	rec, ok, err := store.Get(ctx, hash)
	switch {
	case err != nil:
		return err
	case !ok:
		return ErrKeyNotFound
	}
	rec.Revoked = true
	return store.Put(ctx, rec)
}

// maxNameBytes bounds consumer and plan names, which travel in headers.
const maxNameBytes = 128

// checkName refuses consumer and plan names that could not be sent as
// header values.
func checkName(what, s string, required bool) error {
	switch {
	case s == "" && required:
		return fmt.Errorf("jwtcache: %s is required", what)
	case len(s) > maxNameBytes:
		return fmt.Errorf("jwtcache: %s is longer than %d bytes", what, maxNameBytes)
	case !headerSafe(s):
		return fmt.Errorf("jwtcache: %s contains control characters", what)
	}
	return nil
}

// validHash reports whether s is a lower-case hex SHA-256.
func validHash(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// RedisStore keeps key records in Redis hashes, one per key, at
// apikey:{<hash>} with the fields consumer, plan, expires_at (Unix
// seconds, 0 for never) and revoked ("0" or "1"). The hash tag keeps each
// record whole on one Redis Cluster slot.
type RedisStore struct {
	client rueidis.CommandClient
}

var _ KeyStore = (*RedisStore)(nil)

// NewRedisStore returns a store on client.
func NewRedisStore(client rueidis.CommandClient) *RedisStore {
	return &RedisStore{client: client}
}

// redisKey returns the Redis key of a record.
func redisKey(hash string) string { return "apikey:{" + hash + "}" }

// Redis hash fields of a record.
const (
	fieldConsumer  = "consumer"
	fieldPlan      = "plan"
	fieldExpiresAt = "expires_at"
	fieldRevoked   = "revoked"
)

// Get reads a record with a plain round trip: tools want the stored state,
// not a cached copy.
func (s *RedisStore) Get(ctx context.Context, hash string) (KeyRecord, bool, error) {
	m, err := s.client.Do(ctx, s.client.B().Hgetall().Key(redisKey(hash)).Build()).AsStrMap()
	if err != nil {
		return KeyRecord{}, false, err
	}
	rec, ok, err := recordFromFields(hash, m)
	return rec, ok, err
}

// recordRetention is how long Redis keeps a record after its key expired:
// long enough that the tools still tell an expired key from an unknown
// one and that a gateway's clock running ahead of Redis's never loses a
// live key, short enough that issued and rotated keys do not pile up
// forever.
const recordRetention = 7 * 24 * time.Hour

// Put writes every field but revoked with HSET, and revoked with HSET when
// the record is revoked, else with HSETNX, which never clears it. A record
// whose key expires is dropped by Redis recordRetention later; one that
// does not, never.
func (s *RedisStore) Put(ctx context.Context, rec KeyRecord) error {
	key := redisKey(rec.Hash)
	var expires int64
	if !rec.ExpiresAt.IsZero() {
		expires = rec.ExpiresAt.Unix()
	}
	set := s.client.B().Hset().Key(key).FieldValue().
		FieldValue(fieldConsumer, rec.Consumer).
		FieldValue(fieldPlan, rec.Plan).
		FieldValue(fieldExpiresAt, strconv.FormatInt(expires, 10))
	var revoked rueidis.Completed
	if rec.Revoked {
		revoked = s.client.B().Hset().Key(key).FieldValue().FieldValue(fieldRevoked, "1").Build()
	} else {
		revoked = s.client.B().Hsetnx().Key(key).Field(fieldRevoked).Value("0").Build()
	}
	var lifetime rueidis.Completed
	if expires == 0 {
		lifetime = s.client.B().Persist().Key(key).Build()
	} else {
		lifetime = s.client.B().Expireat().Key(key).Timestamp(rec.ExpiresAt.Add(recordRetention).Unix()).Build()
	}
	for _, r := range s.client.DoMulti(ctx, set.Build(), revoked, lifetime) {
		if err := r.Error(); err != nil {
			return err
		}
	}
	return nil
}

// recordFromFields reads a record from its Redis hash fields; no fields
// means no record. A record without a consumer or with an unreadable
// expiry is an error: a hand-edited record the gateway cannot trust.
func recordFromFields(hash string, m map[string]string) (KeyRecord, bool, error) {
	if len(m) == 0 {
		return KeyRecord{}, false, nil
	}
	rec := KeyRecord{Hash: hash, Consumer: m[fieldConsumer], Plan: m[fieldPlan], Revoked: m[fieldRevoked] == "1"}
	if rec.Consumer == "" {
		return KeyRecord{}, false, fmt.Errorf("jwtcache: record %s has no consumer", redisKey(hash))
	}
	if v := m[fieldExpiresAt]; v != "" && v != "0" {
		sec, err := strconv.ParseInt(v, 10, 64)
		if err != nil || sec < 0 {
			return KeyRecord{}, false, fmt.Errorf("jwtcache: record %s has an invalid expires_at %q", redisKey(hash), v)
		}
		rec.ExpiresAt = time.Unix(sec, 0)
	}
	return rec, true, nil
}
