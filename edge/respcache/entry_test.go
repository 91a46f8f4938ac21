package respcache

import (
	"bytes"
	"testing"
	"time"
)

func TestEncodeDecode(t *testing.T) {
	clock := newTestClock()
	now := clock.Now()
	var block []byte
	block = appendHeader(block, false, []byte("Content-Type"), []byte("application/json"))
	block = appendHeader(block, false, []byte("Link"), []byte("</a>; rel=next"))
	block = appendHeader(block, true, []byte("Link"), []byte("</b>; rel=prev"))
	block = appendHeader(block, false, []byte("X-Empty"), nil)
	e := encode([]byte("k\x00ey"), 203, now, now.Add(time.Minute), flagNoStale, block, []byte(`{"a":1}`), clock.Now)

	d, err := decode(e.raw, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != 203 || d.key != "k\x00ey" || !bytes.Equal(d.Body, []byte(`{"a":1}`)) ||
		!d.Stored.Equal(now) || !d.Expires.Equal(now.Add(time.Minute)) || d.flags != flagNoStale ||
		!bytes.Equal(d.header, block) {
		t.Errorf("decoded %+v, want the encoded entry %+v", d, e)
	}
	resp := written(t, d)
	if got := header(resp, "Link"); got != "</a>; rel=next | </b>; rel=prev" {
		t.Errorf("Link = %q", got)
	}
	if got := resp.Header.Peek("X-Empty"); got == nil || len(got) != 0 {
		t.Errorf("X-Empty = %q, want present and empty", got)
	}
}

func TestDecodeRejects(t *testing.T) {
	clock := newTestClock()
	now := clock.Now()
	block := appendHeader(nil, false, []byte("A"), []byte("b"))
	good := encode([]byte("key"), 200, now, now.Add(time.Second), 0, block, []byte("body"), clock.Now).raw

	// Every truncation that cuts into the fixed part or the header block
	// must fail; cutting into the body just shortens the body.
	bodyAt := len(good) - len("body")
	for n := range bodyAt {
		if _, err := decode(good[:n], clock.Now); err == nil {
			t.Errorf("truncated to %d of %d bytes: decoded", n, len(good))
		}
	}
	for name, raw := range map[string][]byte{
		"version 2":      append([]byte{2}, good[1:]...),
		"status 99":      encode([]byte("key"), 99, now, now, 0, nil, nil, clock.Now).raw,
		"huge key":       append(append([]byte(nil), good[:len(good)-len("body")-len(block)-5]...), 0xff, 0xff, 0xff, 0x7f),
		"bad header op":  encode([]byte("k"), 200, now, now, 0, []byte{7, 1, 'A', 0}, nil, clock.Now).raw,
		"empty name":     encode([]byte("k"), 200, now, now, 0, []byte{0, 0, 0}, nil, clock.Now).raw,
		"header too big": encode([]byte("k"), 200, now, now, 0, []byte{0, 1, 'A', 9, 'x'}, nil, clock.Now).raw,
	} {
		if _, err := decode(raw, clock.Now); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

// FuzzDecode checks that no bytes from Redis make decode panic or return
// an entry whose header block WriteTo could not walk.
func FuzzDecode(f *testing.F) {
	clock := newTestClock()
	now := clock.Now()
	block := appendHeader(appendHeader(nil, false, []byte("A"), []byte("b")), true, []byte("A"), []byte("c"))
	f.Add(encode([]byte("key"), 200, now, now.Add(time.Second), 0, block, []byte("body"), clock.Now).raw)
	f.Add([]byte{entryVersion})
	f.Add([]byte{entryVersion, 0xc8, 0x01, 0, 0, 0, 0x80})
	f.Fuzz(func(t *testing.T, raw []byte) {
		e, err := decode(raw, clock.Now)
		if err != nil {
			return
		}
		if !validHeaderBlock(e.header) {
			t.Fatalf("decoded an invalid header block %q", e.header)
		}
		written(t, e)
	})
}
