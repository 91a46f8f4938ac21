package respcache

import (
	"encoding/binary"
	"errors"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
)

// Entry is one stored response. Its exported fields and its body are never
// modified once the entry is built, so an Entry returned by Get stays valid
// and consistent for as long as the caller holds it, even after the cache
// has evicted or replaced it.
type Entry struct {
	// Status is the response status code.
	Status int
	// Body is the response body. It is shared by every reader and must
	// not be modified.
	Body []byte
	// Stored is when the response was stored, Expires when it stops being
	// fresh; both are read from the cache's clock of the instance that
	// stored it.
	Stored, Expires time.Time

	// header is the encoded header block, key the cache key, raw the
	// encoded entry that both live in; see encode.
	header []byte
	key    string
	raw    []byte
	flags  uint8
	// now is the clock of the cache that holds the entry, for Age.
	now func() time.Time

	// prev and next link the entry into its shard's recency list; they
	// belong to the shard and are guarded by its lock.
	prev, next *Entry
}

// Entry flags.
const (
	// flagNoStale marks a response whose Cache-Control says it must not be
	// served once stale (must-revalidate, proxy-revalidate).
	flagNoStale uint8 = 1 << iota
)

// X-Cache values. HIT is a fresh stored response, STALE an expired one
// served because the backend could not answer, MISS a response that came
// from the backend for this request or for one it was collapsed with.
var (
	strXCache      = []byte("X-Cache")
	strAge         = []byte(fasthttp.HeaderAge)
	xCacheHit      = []byte("HIT")
	xCacheMiss     = []byte("MISS")
	xCacheStale    = []byte("STALE")
	errEntryFormat = errors.New("respcache: malformed entry")
)

// WriteTo writes the entry into resp: the status, the stored headers
// (replacing all values of each name already on resp, leaving other
// headers such as a trace id alone), the body (copied, so resp may be changed freely
// afterwards), an Age header in whole seconds since the entry was stored,
// and X-Cache: HIT, or X-Cache: STALE once the entry has expired.
//
// WriteTo does not reset resp, so that flags the server set on it (such as
// SkipBody for HEAD) survive. A resp holding the remains of a failed
// exchange should have its headers reset first. WriteTo allocates nothing
// once resp's buffers have grown to the entry's size.
func (e *Entry) WriteTo(resp *fasthttp.Response) {
	now := e.now()
	label := xCacheHit
	if !now.Before(e.Expires) {
		label = xCacheStale
	}
	e.writeTo(resp, now, label)
}

func (e *Entry) writeTo(resp *fasthttp.Response, now time.Time, label []byte) {
	resp.SetStatusCode(e.Status)
	h := &resp.Header
	for b := e.header; len(b) > 0; {
		var (
			add         bool
			name, value []byte
		)
		// The block was validated when the entry was built or decoded.
		add, name, value, b, _ = nextHeader(b)
		if !add {
			// The first value of a name replaces every value resp had.
			h.DelBytes(name)
		}
		h.AddBytesKV(name, value)
	}
	age := max(now.Sub(e.Stored)/time.Second, 0)
	var buf [20]byte
	h.SetBytesKV(strAge, strconv.AppendInt(buf[:0], int64(age), 10))
	h.SetBytesKV(strXCache, label)
	resp.SetBody(e.Body)
}

// Size is the number of bytes the entry counts against Options.MaxBytes:
// its encoded form plus a fixed allowance for the Entry and its map slot.
func (e *Entry) Size() int64 { return int64(len(e.raw)) + entryOverhead }

// entryOverhead approximates the memory an entry takes beyond its encoded
// bytes: the Entry struct (about 170 bytes on 64-bit platforms) and its
// slot in the shard's map.
const entryOverhead = 256

// The encoded entry, stored locally as the entry's one buffer and in Redis
// as the value, so that moving an entry between the tiers copies nothing:
//
//	byte     format version (entryVersion)
//	uvarint  status
//	varint   stored, Unix nanoseconds
//	varint   expires, Unix nanoseconds
//	byte     flags
//	uvarint  key length, key
//	uvarint  header block length, header block
//	         body: the rest
//
// The header block is a sequence of
//
//	byte     0 to set the header, 1 to add another value of a name
//	uvarint  name length, name
//	uvarint  value length, value
//
// A reader that meets another version treats the entry as absent, so a
// format change only costs the entries written before it.
const entryVersion = 1

// encode builds an Entry with its single buffer from the parts.
func encode(key []byte, status int, stored, expires time.Time, flags uint8, header, body []byte, now func() time.Time) *Entry {
	n := 1 + 3*binary.MaxVarintLen64 + 1 + 2*binary.MaxVarintLen64 + len(key) + len(header) + len(body)
	raw := make([]byte, 0, n)
	raw = append(raw, entryVersion)
	raw = binary.AppendUvarint(raw, uint64(status))
	raw = binary.AppendVarint(raw, stored.UnixNano())
	raw = binary.AppendVarint(raw, expires.UnixNano())
	raw = append(raw, flags)
	raw = binary.AppendUvarint(raw, uint64(len(key)))
	keyAt := len(raw)
	raw = append(raw, key...)
	raw = binary.AppendUvarint(raw, uint64(len(header)))
	headerAt := len(raw)
	raw = append(raw, header...)
	bodyAt := len(raw)
	raw = append(raw, body...)
	return &Entry{
		Status:  status,
		Body:    raw[bodyAt:len(raw):len(raw)],
		Stored:  stored,
		Expires: expires,
		header:  raw[headerAt:bodyAt:bodyAt],
		key:     b2s(raw[keyAt : keyAt+len(key)]),
		raw:     raw,
		flags:   flags,
		now:     now,
	}
}

// decode parses an encoded entry, taking ownership of raw, which must not
// be modified afterwards. It checks every length, so that bytes read from
// Redis (written by another version, or by anyone with access to Redis)
// can never make the gateway read out of bounds.
func decode(raw []byte, now func() time.Time) (*Entry, error) {
	if len(raw) == 0 || raw[0] != entryVersion {
		return nil, errEntryFormat
	}
	b := raw[1:]
	status, b, ok := uvarint(b)
	if !ok || status < 100 || status > 999 {
		return nil, errEntryFormat
	}
	stored, b, ok := varint(b)
	if !ok {
		return nil, errEntryFormat
	}
	expires, b, ok := varint(b)
	if !ok || len(b) == 0 {
		return nil, errEntryFormat
	}
	flags, b := b[0], b[1:]
	key, b, ok := field(b)
	if !ok {
		return nil, errEntryFormat
	}
	header, body, ok := field(b)
	if !ok || !validHeaderBlock(header) {
		return nil, errEntryFormat
	}
	return &Entry{
		Status:  int(status),
		Body:    body[:len(body):len(body)],
		Stored:  time.Unix(0, stored),
		Expires: time.Unix(0, expires),
		header:  header[:len(header):len(header)],
		key:     b2s(key),
		raw:     raw,
		flags:   flags,
		now:     now,
	}, nil
}

// appendHeader appends one header to an encoded header block.
func appendHeader(dst []byte, add bool, name, value []byte) []byte {
	op := byte(0)
	if add {
		op = 1
	}
	dst = append(dst, op)
	dst = appendField(dst, name)
	return appendField(dst, value)
}

// nextHeader reads the first header of an encoded block and returns it with
// the rest of the block; ok is false when the block is malformed.
func nextHeader(b []byte) (add bool, name, value, rest []byte, ok bool) {
	if len(b) == 0 || b[0] > 1 {
		return false, nil, nil, nil, false
	}
	add = b[0] == 1
	if name, b, ok = field(b[1:]); !ok || len(name) == 0 {
		return false, nil, nil, nil, false
	}
	if value, b, ok = field(b); !ok {
		return false, nil, nil, nil, false
	}
	return add, name, value, b, true
}

func validHeaderBlock(b []byte) bool {
	for len(b) > 0 {
		var ok bool
		if _, _, _, b, ok = nextHeader(b); !ok {
			return false
		}
	}
	return true
}

// field reads a length-prefixed field.
func field(b []byte) (f, rest []byte, ok bool) {
	n, b, ok := uvarint(b)
	if !ok || n > uint64(len(b)) {
		return nil, nil, false
	}
	return b[:n], b[n:], true
}

func uvarint(b []byte) (uint64, []byte, bool) {
	v, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, nil, false
	}
	return v, b[n:], true
}

func varint(b []byte) (int64, []byte, bool) {
	v, n := binary.Varint(b)
	if n <= 0 {
		return 0, nil, false
	}
	return v, b[n:], true
}
