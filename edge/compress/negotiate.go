package compress

import "bytes"

// Encoding is a content coding the gateway can produce.
type Encoding uint8

// The codings Negotiate chooses among.
const (
	// Identity leaves the body as it is.
	Identity Encoding = iota
	// Gzip is RFC 1952 gzip.
	Gzip
	// Zstd is RFC 8878 Zstandard.
	Zstd
)

// String returns the coding's token as written in Content-Encoding, or ""
// for Identity (which is never written).
func (e Encoding) String() string {
	switch e {
	case Gzip:
		return "gzip"
	case Zstd:
		return "zstd"
	default:
		return ""
	}
}

// qUnset marks a coding the header did not name. q-values are kept in
// thousandths, the precision RFC 9110 allows, so 1 is 1000.
const (
	qUnset = -1
	qMax   = 1000
)

// Negotiate chooses the coding for a response from the request's
// Accept-Encoding value, without allocating.
//
// Codings are matched case-insensitively ("x-gzip" counts as gzip); each
// may carry a q-value, and q=0 refuses it. A malformed q-value counts as
// 0. "*" gives its q-value to every coding the header does not name. A
// coding named twice takes the lower weight, so a refusal is never
// overridden. Of zstd and gzip the one with the higher weight wins, zstd on
// a tie (see the package doc); identity wins only when the header names it,
// directly or through "*", with a weight above both. An empty or absent
// header, or one that accepts neither coding, yields Identity: the gateway
// never answers 406 and sends the body unencoded instead.
func Negotiate(acceptEncoding []byte) Encoding {
	qZstd, qGzip, qIdentity, qAny := qUnset, qUnset, qUnset, qUnset
	for rest := acceptEncoding; len(rest) > 0; {
		var elem []byte
		elem, rest, _ = bytes.Cut(rest, []byte{','})
		name, params, _ := bytes.Cut(elem, []byte{';'})
		name = bytes.Trim(name, " \t")
		if len(name) == 0 {
			continue
		}
		q := parseWeight(params)
		switch {
		case equalFold(name, "zstd"):
			qZstd = lower(qZstd, q)
		case equalFold(name, "gzip"), equalFold(name, "x-gzip"):
			qGzip = lower(qGzip, q)
		case equalFold(name, "identity"):
			qIdentity = lower(qIdentity, q)
		case len(name) == 1 && name[0] == '*':
			qAny = lower(qAny, q)
		}
	}
	if qAny != qUnset {
		qZstd, qGzip, qIdentity = orDefault(qZstd, qAny), orDefault(qGzip, qAny), orDefault(qIdentity, qAny)
	}
	best, bestQ := Identity, 0
	switch {
	case qZstd > 0 && qZstd >= qGzip:
		best, bestQ = Zstd, qZstd
	case qGzip > 0:
		best, bestQ = Gzip, qGzip
	}
	if best != Identity && qIdentity > bestQ {
		return Identity
	}
	return best
}

// lower returns the smaller of an existing weight and a new one, treating
// an unset existing weight as absent.
func lower(old, q int) int {
	if old == qUnset || q < old {
		return q
	}
	return old
}

func orDefault(q, def int) int {
	if q == qUnset {
		return def
	}
	return q
}

// parseWeight returns the q parameter among params (";q=0.5;x=y") in
// thousandths: 1000 when there is none, 0 when it is malformed.
func parseWeight(params []byte) int {
	for len(params) > 0 {
		var p []byte
		p, params, _ = bytes.Cut(params, []byte{';'})
		p = bytes.Trim(p, " \t")
		if len(p) < 2 || p[0]|0x20 != 'q' || p[1] != '=' {
			continue
		}
		return parseQValue(bytes.Trim(p[2:], " \t"))
	}
	return qMax
}

// parseQValue parses RFC 9110's qvalue: "0" [ "." 0*3DIGIT ] or
// "1" [ "." 0*3("0") ]. Anything else is 0.
func parseQValue(v []byte) int {
	if len(v) == 0 || len(v) > 5 || (v[0] != '0' && v[0] != '1') {
		return 0
	}
	q := int(v[0]-'0') * qMax
	if len(v) == 1 {
		return q
	}
	if v[1] != '.' {
		return 0
	}
	scale := 100
	for _, c := range v[2:] {
		if c < '0' || c > '9' {
			return 0
		}
		q += int(c-'0') * scale
		scale /= 10
	}
	if q > qMax {
		return 0
	}
	return q
}

// equalFold reports whether s equals the lower-case ASCII token t, ignoring
// the case of s.
func equalFold(s []byte, t string) bool {
	if len(s) != len(t) {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != t[i] {
			return false
		}
	}
	return true
}
