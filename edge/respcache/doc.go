// Package respcache is the gateway's response cache for routes with a
// `cache:` section: a sharded, byte-bounded LRU in each instance's memory,
// optionally backed by Redis shared between instances, with concurrent
// misses collapsed into one backend fetch.
//
// # How a request passes through
//
// At configuration load, NewRule compiles a route's ttl and vary list. Per
// GET request, Rule.AppendKey builds the key into a reused buffer: route
// name, raw path, raw query, Host, the user's subject when the route varies
// by user, and the values of the varied headers, each length-prefixed so
// that no value can be crafted to collide with another request's key.
// Cache.Do then answers from local memory when a fresh entry is there
// (no allocation, no lock held while writing the response), else from
// Redis, else by calling the caller's fill function, which forwards to the
// backend. Callers that miss on a key whose fetch is already running wait
// for it and get a copy, so a popular entry expiring costs the backend one
// request, not one per waiting client.
//
// # What is stored
//
// The backend decides within the route's rules: Set-Cookie, no-store,
// no-cache, private (unless the key holds the user), a Vary on request
// headers the key does not hold, and statuses outside 200, 203, 204, 300,
// 301, 308, 404 and 410 are not stored; s-maxage or max-age shorten the
// route's ttl. Responses that are personal (Set-Cookie, no-store, private,
// uncovered Vary) are not even shared between collapsed callers. Request
// directives are ignored: a client cannot force the gateway to go to the
// backend. Only headers that describe the resource are kept; framing,
// hop-by-hop, Date, and the headers the gateway adds per request are not.
//
// # Freshness, staleness, and the X-Cache header
//
// An entry is fresh for its ttl, then stale. Stale entries stay in memory
// until the LRU evicts them (or Options.MaxStale passes), so that when the
// backend fails or its circuit is open the gateway can call Get and serve
// the stale copy rather than an error; responses marked must-revalidate,
// proxy-revalidate or s-maxage are never served stale. Responses written
// by the cache carry X-Cache: HIT (fresh entry), STALE (expired entry) or
// MISS (from the backend, possibly through a collapsed fetch), and Age.
//
// # Memory
//
// Each entry is one immutable byte slice in the encoding of entry.go
// (key, status, times, headers, body), counted against its shard's budget
// of MaxBytes/Shards together with a fixed overhead; a shard evicts from
// the tail of its recency list until a new entry fits, so the cache as a
// whole never holds more than MaxBytes. Because entries are immutable, a
// reader keeps a valid entry even if it is evicted meanwhile, and the
// shard lock is held only to look up and relink, never while copying a
// body.
//
// # The Redis tier
//
// With Options.Redis, a local miss asks Redis (GET cache:{<hash>}) before
// filling, and a stored fill is written there (SET with PX of the
// remaining freshness) by the filling caller after its waiters have been
// released. The value is the same versioned encoding as in memory, so
// another instance decodes it without conversion; an unknown version or a
// foreign key reads as a miss. Each call is bounded by RedisTimeout, and
// errors are counted (Stats.RedisErrors) and logged once per outage,
// never returned: without Redis the cache is simply local.
//
// Everything in the package is safe for concurrent use. A Cache runs no
// goroutines; a configuration reload may build a new one and drop the old.
package respcache
