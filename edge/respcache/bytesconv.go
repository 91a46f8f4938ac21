package respcache

import "unsafe"

// b2s converts a byte slice to a string without copying.
//
// The string aliases b: it is valid only while b is not modified. The
// package uses it for map look-ups, which do not keep the string, and for
// keys carved out of an entry's buffer, which is never modified after the
// entry is built.
func b2s(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// s2bKey converts an entry's key back to bytes without copying, for
// hashing. The result must never be written to.
func s2bKey(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
