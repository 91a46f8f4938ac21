package jwtcache

import (
	"fmt"
	"strings"
)

// keyKind is the kind of key an algorithm verifies with. A key is bound to
// its kind for good: an RSA public key is never an HMAC secret, which is
// what defeats the classic key-confusion attack (a token signed with HS256
// using the public key's bytes as the secret).
type keyKind uint8

const (
	kindHMAC keyKind = iota + 1
	kindRSA
	kindP256
	kindP384
	kindP521
	kindEd25519
)

func (k keyKind) String() string {
	switch k {
	case kindHMAC:
		return "an HMAC secret"
	case kindRSA:
		return "an RSA public key"
	case kindP256:
		return "an ECDSA P-256 public key"
	case kindP384:
		return "an ECDSA P-384 public key"
	case kindP521:
		return "an ECDSA P-521 public key"
	case kindEd25519:
		return "an Ed25519 public key"
	}
	return "an unknown key"
}

// algorithms are the JWS algorithms the gateway verifies, each with the
// kind of key it needs. "none" is absent on purpose.
var algorithms = [...]struct {
	name string
	kind keyKind
}{
	{"HS256", kindHMAC}, {"HS384", kindHMAC}, {"HS512", kindHMAC},
	{"RS256", kindRSA}, {"RS384", kindRSA}, {"RS512", kindRSA},
	{"PS256", kindRSA}, {"PS384", kindRSA}, {"PS512", kindRSA},
	{"ES256", kindP256}, {"ES384", kindP384}, {"ES512", kindP521},
	{"EdDSA", kindEd25519},
}

// alg is an index into algorithms.
type alg uint8

// hs256 is the first HMAC algorithm; HS384 and HS512 follow it.
const hs256 alg = 0

// algSet is a set of algorithms, one bit per index.
type algSet uint16

func (s algSet) has(a alg) bool { return s&(1<<a) != 0 }

// algByName returns the algorithm called name (case-sensitive, as RFC 7518
// registers the names).
func algByName(name string) (alg, bool) {
	for i, a := range algorithms {
		if a.name == name {
			return alg(i), true
		}
	}
	return 0, false
}

// kindAlgs returns the algorithms that verify with a key of kind k.
func kindAlgs(k keyKind) algSet {
	var s algSet
	for i, a := range algorithms {
		if a.kind == k {
			s |= 1 << i
		}
	}
	return s
}

// parseAlgorithms turns an allow-list into a set, refusing "none" in any
// spelling and names it does not know.
func parseAlgorithms(names []string) (algSet, error) {
	var s algSet
	for _, n := range names {
		if strings.EqualFold(n, "none") {
			return 0, fmt.Errorf(`jwtcache: algorithm "none" is never allowed: it would accept unsigned tokens`)
		}
		a, ok := algByName(n)
		if !ok {
			return 0, fmt.Errorf("jwtcache: unknown algorithm %q", n)
		}
		s |= 1 << a
	}
	if s == 0 {
		return 0, fmt.Errorf("jwtcache: no algorithm allowed; list at least one, such as RS256")
	}
	return s, nil
}
