package jwtcache

import (
	"context"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/edgegate/gateway/internal/redisconn"
	"github.com/edgegate/gateway/internal/redistest"
)

// newRedisClient returns a client configured as the gateway's.
func newRedisClient(t testing.TB, addr string) rueidis.Client {
	t.Helper()
	c, err := rueidis.NewClient(redisconn.ClientOption(redisconn.Options{Addrs: []string{addr}}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// newRedisKeys returns an APIKeys on its own Redis client, with clk.
func newRedisKeys(t testing.TB, addr string, clk *clock) *APIKeys {
	t.Helper()
	a, err := NewAPIKeys(APIKeyOptions{Redis: redisconn.Static(newRedisClient(t, addr)), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

// refusal returns the refusal of a Verify, nil when it passed.
func refusal(a *APIKeys, raw string) *Error {
	_, err := a.Verify([]byte(raw))
	return err
}

// TestRedisStoreRecordLifetime checks that Redis drops the record of an
// expiring key a retention period after its expiry, and keeps one that
// never expires; a rotation moves the old record's end forward to its new
// expiry.
func TestRedisStoreRecordLifetime(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	store := NewRedisStore(newRedisClient(t, srv.Addr))
	now := time.Now()
	expireTime := func(hash string) int64 {
		t.Helper()
		v, err := srv.Do("EXPIRETIME", "apikey:{"+hash+"}")
		if err != nil {
			t.Fatal(err)
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("EXPIRETIME %q", v)
		}
		return n
	}

	_, forever, err := Issue(ctx, store, "acme", "", 0, now)
	if err != nil {
		t.Fatal(err)
	}
	if got := expireTime(forever.Hash); got != -1 {
		t.Fatalf("a key without expiry has its record expire at %d", got)
	}
	raw, rec, err := Issue(ctx, store, "acme", "", 48*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := expireTime(rec.Hash), rec.ExpiresAt.Add(recordRetention).Unix(); got != want {
		t.Fatalf("record expires at %d, want %d (key expiry plus retention)", got, want)
	}
	if _, _, err := Rotate(ctx, store, raw, time.Hour, now); err != nil {
		t.Fatal(err)
	}
	if got, want := expireTime(rec.Hash), now.Add(time.Hour).Truncate(time.Second).Add(recordRetention).Unix(); got != want {
		t.Fatalf("rotated record expires at %d, want %d (grace end plus retention)", got, want)
	}
}

func TestAPIKeysRedis(t *testing.T) {
	srv := redistest.Start(t)
	clk := newClock(testStart)
	ctx := context.Background()
	store := NewRedisStore(newRedisClient(t, srv.Addr))
	a := newRedisKeys(t, srv.Addr, clk)

	raw, rec, err := Issue(ctx, store, "acme", "gold", 0, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(raw, KeyPrefix) || len(raw) != len(KeyPrefix)+43 || rec.Hash != HashKey(raw) {
		t.Fatalf("issued %q with record %+v", raw, rec)
	}
	fields, err := srv.Do("HGETALL", "apikey:{"+rec.Hash+"}")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(fields, raw) {
		t.Fatal("the raw key is stored in Redis")
	}
	for _, want := range []string{"consumer", "acme", "plan", "gold", "expires_at", "revoked"} {
		if !strings.Contains(fields, want) {
			t.Fatalf("record %q lacks %q", fields, want)
		}
	}

	id, verr := a.Verify([]byte(raw))
	if verr != nil {
		t.Fatal(verr)
	}
	if string(id.Subject) != "acme" || string(id.Consumer) != "acme" || !id.Expires.IsZero() {
		t.Fatalf("identity %+v", id)
	}
	if got := strings.Join(headerLines(id), "|"); got != "X-Consumer-ID: acme|X-Plan: gold" {
		t.Fatalf("headers %q", got)
	}
	// The first reply came from Redis, the next from the client-side
	// cache; from then on the parsed record is reused.
	id, _ = a.Verify([]byte(raw))
	if id2, _ := a.Verify([]byte(raw)); id2 != id {
		t.Fatal("a cached record did not return the same identity")
	}

	for _, tc := range []struct {
		name, raw string
		want      *Error
	}{
		{"unknown key", KeyPrefix + strings.Repeat("A", 43), errUnknownKey},
		{"control character", "gw_a\x00b", errMalformedKey},
		{"oversized key", strings.Repeat("k", maxAPIKeyBytes+1), errMalformedKey},
		{"empty", "", ErrNoCredential},
	} {
		if err := refusal(a, tc.raw); err != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}

	// A key with an expiry is refused with 401 from then on.
	short, _, err := Issue(ctx, store, "acme", "", time.Hour, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := refusal(a, short); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Hour)
	if err := refusal(a, short); err != errKeyExpired || err.Status != http.StatusUnauthorized {
		t.Fatalf("expired key: %v, want %v", err, errKeyExpired)
	}
}

func TestAPIKeysRotateWithGrace(t *testing.T) {
	srv := redistest.Start(t)
	clk := newClock(testStart)
	ctx := context.Background()
	store := NewRedisStore(newRedisClient(t, srv.Addr))
	a := newRedisKeys(t, srv.Addr, clk)

	old, _, err := Issue(ctx, store, "acme", "silver", 30*24*time.Hour, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := refusal(a, old); err != nil {
		t.Fatal(err)
	}
	successor, rec, err := Rotate(ctx, store, old, 24*time.Hour, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if rec.Consumer != "acme" || rec.Plan != "silver" || !rec.ExpiresAt.Equal(testStart.Add(30*24*time.Hour)) {
		t.Fatalf("successor record %+v keeps neither consumer, plan nor expiry", rec)
	}
	// The old key's new expiry reaches the warm cache by invalidation.
	eventually(t, time.Second, "old key still working in the grace period", func() bool {
		return refusal(a, old) == nil && refusal(a, successor) == nil
	})
	clk.Add(23 * time.Hour)
	if err := refusal(a, old); err != nil {
		t.Fatalf("old key an hour before the grace period ends: %v", err)
	}
	clk.Add(time.Hour)
	if err := refusal(a, old); err != errKeyExpired {
		t.Fatalf("old key after the grace period: %v, want %v", err, errKeyExpired)
	}
	if err := refusal(a, successor); err != nil {
		t.Fatalf("successor: %v", err)
	}
	if _, _, err := Rotate(ctx, store, old, time.Hour, clk.Now()); err == nil {
		t.Fatal("rotating an expired key succeeded")
	}
	if _, _, err := Rotate(ctx, store, "gw_unknown", time.Hour, clk.Now()); err != ErrKeyNotFound {
		t.Fatalf("rotating an unknown key: %v", err)
	}
}

// TestAPIKeysRevocationReachesOtherInstances: two gateway instances, each
// with its own Redis client and a warm client-side cache; a revocation
// written through a third client is refused by both within a second.
func TestAPIKeysRevocationReachesOtherInstances(t *testing.T) {
	srv := redistest.Start(t)
	clk := newClock(testStart)
	ctx := context.Background()
	store := NewRedisStore(newRedisClient(t, srv.Addr))
	one := newRedisKeys(t, srv.Addr, clk)
	two := newRedisKeys(t, srv.Addr, clk)

	raw, rec, err := Issue(ctx, store, "acme", "gold", 0, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	for range 3 { // warm both caches
		if refusal(one, raw) != nil || refusal(two, raw) != nil {
			t.Fatal("fresh key refused")
		}
	}
	if err := Revoke(ctx, store, rec.Hash); err != nil {
		t.Fatal(err)
	}
	took := eventually(t, time.Second, "revocation seen by both instances", func() bool {
		return refusal(one, raw) == errKeyRevoked && refusal(two, raw) == errKeyRevoked
	})
	t.Logf("revocation seen by both instances after %v", took)
	if errKeyRevoked.Status != http.StatusForbidden {
		t.Fatal("a revoked key must answer 403")
	}
	// Revocation is final: a Put of the old record does not undo it.
	rec.Revoked = false
	if err := store.Put(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := store.Get(ctx, rec.Hash); !got.Revoked {
		t.Fatal("Put cleared a revocation")
	}
	if _, _, err := Rotate(ctx, store, raw, time.Hour, clk.Now()); err == nil {
		t.Fatal("rotating a revoked key succeeded")
	}
}

func TestAPIKeysRedisUnavailable(t *testing.T) {
	srv := redistest.Start(t)
	clk := newClock(testStart)
	a := newRedisKeys(t, srv.Addr, clk)
	raw, _, err := Issue(context.Background(), NewRedisStore(newRedisClient(t, srv.Addr)), "acme", "", 0, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	// An uncached key cannot be checked: 503, not 401.
	if err := refusal(a, raw); err != errKeyStore || err.Status != http.StatusServiceUnavailable {
		t.Fatalf("Redis down: %v, want %v", err, errKeyStore)
	}

	// A gateway that never reached Redis answers 503 as well.
	conn, err := redisconn.Open(redisconn.Options{Addrs: []string{srv.Addr}, DialTimeout: 100 * time.Millisecond, RetryEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	b, err := NewAPIKeys(APIKeyOptions{Redis: conn})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := refusal(b, raw); err != errKeyStore {
		t.Fatalf("never connected: %v, want %v", err, errKeyStore)
	}
}

func TestAPIKeysFile(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/keys.yaml"
	clk := newClock(testStart)
	ctx := context.Background()
	store := NewFileStore(path)
	a, err := NewAPIKeys(APIKeyOptions{File: path, Poll: 10 * time.Millisecond, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()

	raw, rec, err := Issue(ctx, store, "acme", "gold", 48*time.Hour, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "issued key picked up from the file", func() bool { return refusal(a, raw) == nil })
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), raw) || !strings.Contains(string(data), rec.Hash) {
		t.Fatalf("key file holds the raw key or lacks its hash:\n%s", data)
	}
	id, _ := a.Verify([]byte(raw))
	if got := strings.Join(headerLines(id), "|"); got != "X-Consumer-ID: acme|X-Plan: gold" || !id.Expires.Equal(testStart.Add(48*time.Hour)) {
		t.Fatalf("identity %q, expires %v", got, id.Expires)
	}

	successor, _, err := Rotate(ctx, store, raw, time.Hour, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "rotation picked up", func() bool {
		id, _ := a.Verify([]byte(raw))
		return refusal(a, successor) == nil && id != nil && id.Expires.Equal(testStart.Add(time.Hour))
	})
	clk.Add(time.Hour)
	if err := refusal(a, raw); err != errKeyExpired {
		t.Fatalf("old key after the grace period: %v", err)
	}

	if err := Revoke(ctx, store, HashKey(successor)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "revocation picked up", func() bool { return refusal(a, successor) == errKeyRevoked })

	// A broken edit leaves the previous keys in force.
	if err := os.WriteFile(path, []byte("keys: [{hash: zz, consumer: x}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if err := refusal(a, successor); err != errKeyRevoked {
		t.Fatalf("after a broken edit: %v, want the previous state", err)
	}
}

func TestKeyFileIsStrict(t *testing.T) {
	hash := HashKey("gw_x")
	for _, tc := range []struct{ name, content, want string }{
		{"unknown field", "keys:\n  - hash: " + hash + "\n    consumer: a\n    owner: b\n", "owner"},
		{"bad hash", "keys:\n  - hash: ABC\n    consumer: a\n", "keys[0].hash"},
		{"repeated hash", "keys:\n  - {hash: " + hash + ", consumer: a}\n  - {hash: " + hash + ", consumer: b}\n", "listed twice"},
		{"no consumer", "keys:\n  - hash: " + hash + "\n", "keys[0].consumer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "keys.yaml", []byte(tc.content))
			a, err := NewAPIKeys(APIKeyOptions{File: path})
			if err == nil {
				a.Close()
				t.Fatal("NewAPIKeys accepted the file")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q lacks %q", err, tc.want)
			}
		})
	}
	// An empty or missing file holds no keys.
	for _, path := range []string{writeFile(t, t.TempDir(), "empty.yaml", nil), t.TempDir() + "/missing.yaml"} {
		a, err := NewAPIKeys(APIKeyOptions{File: path})
		if err != nil {
			t.Fatal(err)
		}
		if err := refusal(a, "gw_x"); err != errUnknownKey {
			t.Fatalf("%s: %v", path, err)
		}
		a.Close()
	}
}

func TestIssueRefusesBadNames(t *testing.T) {
	store := NewFileStore(t.TempDir() + "/keys.yaml")
	for _, tc := range []struct{ consumer, plan string }{
		{"", "gold"},
		{"acme\r\nX-Admin: 1", ""},
		{"acme", "gold\x00"},
		{strings.Repeat("a", maxNameBytes+1), ""},
	} {
		if _, _, err := Issue(context.Background(), store, tc.consumer, tc.plan, 0, testStart); err == nil {
			t.Errorf("Issue(%q, %q) succeeded", tc.consumer, tc.plan)
		}
	}
	if err := Revoke(context.Background(), store, "nothex"); err == nil {
		t.Error("Revoke of a malformed hash succeeded")
	}
	if err := Revoke(context.Background(), store, HashKey("gw_never")); err != ErrKeyNotFound {
		t.Errorf("Revoke of an unknown key: %v", err)
	}
}

// TestAPIKeysRedisCluster: records spread over a Redis Cluster's slots by
// their hash tag; look-ups and revocations work the same.
func TestAPIKeysRedisCluster(t *testing.T) {
	cluster := redistest.StartCluster(t, 3)
	clk := newClock(testStart)
	ctx := context.Background()
	c, err := rueidis.NewClient(redisconn.ClientOption(redisconn.Options{Addrs: cluster.Addrs()}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	store := NewRedisStore(c)
	a := newRedisKeys(t, cluster.Addrs()[0], clk)
	raws := make([]string, 12)
	for i := range raws {
		if raws[i], _, err = Issue(ctx, store, "acme", "", 0, clk.Now()); err != nil {
			t.Fatal(err)
		}
		if err := refusal(a, raws[i]); err != nil {
			t.Fatalf("key %d: %v", i, err)
		}
	}
	for _, raw := range raws {
		if err := Revoke(ctx, store, HashKey(raw)); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, time.Second, "revocations seen across the cluster", func() bool {
		for _, raw := range raws {
			if refusal(a, raw) != errKeyRevoked {
				return false
			}
		}
		return true
	})
}
