package jwtcache

import (
	"encoding/base64"
	"strings"
)

// splitToken returns the positions of the two dots of a JWS compact
// serialization. It refuses any byte outside the base64url alphabet, empty
// parts (an empty signature is an unsigned token), and any other number of
// parts: the library would ignore a fourth.
func splitToken(token []byte) (d1, d2 int, ok bool) {
	d1, d2 = -1, -1
	for i, c := range token {
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		case c == '.' && d1 < 0:
			d1 = i
		case c == '.' && d2 < 0:
			d2 = i
		default:
			return 0, 0, false
		}
	}
	return d1, d2, d1 > 0 && d2 > d1+1 && d2 < len(token)-1
}

// strictBase64 refuses the non-canonical encodings (stray bits in the last
// character) that would let one signed token take many spellings.
var strictBase64 = base64.RawURLEncoding.Strict()

func decodeSegment(dst, seg []byte) ([]byte, bool) {
	n, err := strictBase64.Decode(dst, seg)
	return dst[:n], err == nil
}

// maxHeaderMembers bounds the JOSE header, which holds a handful of
// members in practice.
const maxHeaderMembers = 16

// parseHeader reads the JOSE header: alg (required, allowed), kid
// (optional). Member names are compared case-insensitively for
// duplicates, because the jwt library, which checks the signature, reads
// the header into a struct and so matches names case-insensitively: two
// spellings of "alg" could otherwise mean one algorithm here and another
// there. A "crit" header is refused: no extension is supported.
func (j *JWT) parseHeader(data []byte) (alg, string, *Error) {
	var names [maxHeaderMembers]string
	n := 0
	var algName, kid string
	var hasAlg bool
	err := eachMember(data, func(name string, value []byte) error {
		if n == len(names) {
			return errMalformed
		}
		for _, seen := range names[:n] {
			if strings.EqualFold(seen, name) {
				return errDuplicate
			}
		}
		names[n] = name
		n++
		var err error
		switch name {
		case "alg":
			algName, err = jsonString(value)
			hasAlg = true
		case "kid":
			kid, err = jsonString(value)
		case "crit":
			return errCrit
		}
		if err != nil {
			return errMalformed
		}
		return nil
	})
	if err != nil {
		if e, ok := err.(*Error); ok {
			return 0, "", e
		}
		return 0, "", errMalformed
	}
	if !hasAlg {
		return 0, "", errMalformed
	}
	a, ok := algByName(algName)
	if !ok || !j.allowed.has(a) {
		return 0, "", errAlgorithm
	}
	return a, kid, nil
}

// parseClaims reads the payload's claims by name, as raw JSON values,
// refusing a payload that names a claim twice.
func parseClaims(data []byte) (map[string][]byte, *Error) {
	claims := make(map[string][]byte, 8)
	err := eachMember(data, func(name string, value []byte) error {
		if _, dup := claims[name]; dup {
			return errDuplicate
		}
		claims[name] = value
		return nil
	})
	if err != nil {
		if e, ok := err.(*Error); ok {
			return nil, e
		}
		return nil, errMalformed
	}
	return claims, nil
}

// checkTime requires a numeric exp in the future and, when present, a
// numeric nbf in the past, both with leeway. It returns exp in Unix
// nanoseconds.
func (j *JWT) checkTime(claims map[string][]byte, now int64) (int64, *Error) {
	raw, ok := claims["exp"]
	if !ok {
		return 0, errNoExpiry
	}
	exp, ok := jsonSeconds(raw)
	if !ok {
		return 0, errMalformed
	}
	if now >= addSat(exp, j.leeway) {
		return 0, errExpired
	}
	if raw, ok := claims["nbf"]; ok {
		nbf, ok := jsonSeconds(raw)
		if !ok {
			return 0, errMalformed
		}
		if nbf > addSat(now, j.leeway) {
			return 0, errNotYetValid
		}
	}
	return exp, nil
}

func (j *JWT) checkIssuer(claims map[string][]byte) *Error {
	if j.opts.Issuer == "" {
		return nil
	}
	raw, ok := claims["iss"]
	if !ok {
		return errIssuer
	}
	if iss, err := jsonString(raw); err != nil || iss != j.opts.Issuer {
		return errIssuer
	}
	return nil
}

// audience reads aud, a string or an array of strings, when audiences are
// configured.
func (j *JWT) audience(claims map[string][]byte) ([]string, *Error) {
	if len(j.audiences) == 0 {
		return nil, nil
	}
	raw, ok := claims["aud"]
	if !ok {
		return nil, errNoAudience
	}
	if s, err := jsonString(raw); err == nil {
		return []string{s}, nil
	}
	list, ok := jsonStrings(raw)
	if !ok {
		return nil, errMalformed
	}
	return list, nil
}

func (j *JWT) audienceMatches(aud []string) bool {
	if len(j.audiences) == 0 {
		return true
	}
	for _, a := range aud {
		for _, want := range j.audiences {
			if a == want {
				return true
			}
		}
	}
	return false
}
