package edge

// The gateway routes on, and forwards, one spelling of every path: its
// normal form. Were the router to see one spelling and the backend
// another, "/public/../admin" could match a public route and reach the
// backend's /admin without the admin route's auth. fasthttp normalises too,
// but it decodes every escape, "%2F" included, so "a%2Fb" would silently
// become two segments upstream; the normal form here keeps it one.
//
// The normal form of a path, after RFC 3986 §6.2.2:
//   - percent-escapes of unreserved characters (ALPHA, DIGIT, "-._~") are
//     decoded, so "/%61dmin" is "/admin" and "/%2e%2e/" is a dot-segment;
//   - every other escape stays, with upper-case hex: "%2f" is "%2F" and
//     never splits a segment;
//   - a byte that may not stand bare in a path (space, '"', non-ASCII...)
//     is escaped;
//   - empty segments ("//") and "." are dropped, ".." removes the segment
//     before it and never climbs above the root;
//   - a trailing slash stays, as routes may tell "/a/" from "/a".
//
// Case is kept: routes are case sensitive, and so are most backends.

// normalizePath appends the normal form of raw, a request target's path
// without its query, to dst. It reports false for a '%' not followed by
// two hex digits, which the gateway refuses rather than guess at.
func normalizePath(dst, raw []byte) ([]byte, bool) {
	root := len(dst)
	dst = append(dst, '/')
	i := 0
	if len(raw) > 0 && raw[0] == '/' {
		i = 1
	}
	for i <= len(raw) {
		j := i
		for j < len(raw) && raw[j] != '/' {
			j++
		}
		seg := len(dst) // dst ends in '/'; the segment is appended after it
		var ok bool
		if dst, ok = appendSegment(dst, raw[i:j]); !ok {
			return dst, false
		}
		last := j == len(raw)
		switch string(dst[seg:]) {
		case "", ".":
			dst = dst[:seg]
		case "..":
			dst = dst[:seg]
			if seg-1 > root { // drop the previous segment, keep its leading '/'
				k := seg - 2
				for dst[k] != '/' {
					k--
				}
				dst = dst[:k+1]
			}
		default:
			if !last {
				dst = append(dst, '/')
			}
		}
		i = j + 1
	}
	return dst, true
}

// appendSegment appends one path segment in normal form.
func appendSegment(dst, seg []byte) ([]byte, bool) {
	for k := 0; k < len(seg); k++ {
		c := seg[k]
		switch {
		case c == '%':
			if k+2 >= len(seg) {
				return dst, false
			}
			hi, lo := unhex(seg[k+1]), unhex(seg[k+2])
			if hi < 0 || lo < 0 {
				return dst, false
			}
			if b := byte(hi<<4 | lo); unreserved[b] {
				dst = append(dst, b)
			} else {
				dst = append(dst, '%', upperHex[hi], upperHex[lo])
			}
			k += 2
		case pathSafe[c]:
			dst = append(dst, c)
		default:
			dst = append(dst, '%', upperHex[c>>4], upperHex[c&0xf])
		}
	}
	return dst, true
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}

const upperHex = "0123456789ABCDEF"

// unreserved marks RFC 3986 unreserved characters: an escape of one of
// them means the same as the character itself.
var unreserved = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "-._~" {
		t[c] = true
	}
	return t
}()

// pathSafe marks the bytes a path segment may carry unescaped: unreserved,
// sub-delims, ':' and '@' (RFC 3986 pchar without pct-encoded).
var pathSafe = func() (t [256]bool) {
	t = unreserved
	for _, c := range "!$&'()*+,;=:@" {
		t[c] = true
	}
	return t
}()
