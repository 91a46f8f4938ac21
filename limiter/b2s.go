package limiter

import "unsafe"

// b2s returns the bytes of b as a string without copying.
//
// The string shares b's memory: it is valid only while b is neither
// modified nor reused. The package uses it for Redis command arguments
// built in a pooled buffer, which is reused only once the command has been
// answered (see redisCall).
func b2s(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}
