package edge

// appendEscapedPath appends path percent-encoded for a request target.
//
// The path the router matched is decoded; the backend must receive that
// same path, so every byte outside RFC 3986 pchar (and '/') is escaped:
// a decoded '%' goes out as %25, never as the start of a second round of
// decoding, and '?' or '#' cannot end the path early.
func appendEscapedPath(dst, path []byte) []byte {
	for _, c := range path {
		if pathSafe[c] {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%', upperHex[c>>4], upperHex[c&0xf])
	}
	return dst
}

const upperHex = "0123456789ABCDEF"

// pathSafe marks the bytes a path may carry unescaped: unreserved,
// sub-delims, ':', '@' and '/'.
var pathSafe = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "-._~!$&'()*+,;=:@/" {
		t[c] = true
	}
	return t
}()
