package edge

import "math/rand/v2"

// maxTraceIDLen bounds a client-supplied X-Trace-ID.
const maxTraceIDLen = 128

// saneTraceID reports whether id is a token the gateway passes on
// unchanged: [A-Za-z0-9._-]{1,128}. Anything else (empty, too long, a
// header-injection attempt, a log-forging newline) is replaced.
func saneTraceID(id []byte) bool {
	if len(id) == 0 || len(id) > maxTraceIDLen {
		return false
	}
	for _, c := range id {
		if !traceIDChar[c] {
			return false
		}
	}
	return true
}

var traceIDChar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	t['.'], t['_'], t['-'] = true, true, true
	return t
}()

const hexDigits = "0123456789abcdef"

// appendNewTraceID appends 32 random hex digits (128 bits, the size of a
// W3C trace-id). math/rand/v2's global source is a per-thread ChaCha8: it
// is safe for concurrent use, does not allocate and needs no lock.
func appendNewTraceID(dst []byte) []byte {
	for range 2 {
		v := rand.Uint64()
		for range 16 {
			dst = append(dst, hexDigits[v&0xf])
			v >>= 4
		}
	}
	return dst
}
