package edge

import "unsafe"

// b2s converts a byte slice to a string without copying.
//
// The string aliases b: it is valid only while b is not modified, which on
// the request path means until the request context is released. Never keep
// it beyond the request.
func b2s(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// s2b converts a string to a byte slice without copying. The result must
// never be written to.
func s2b(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
