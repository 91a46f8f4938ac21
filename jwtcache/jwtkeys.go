package jwtcache

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/pascaldekloe/jwt"

	"github.com/edgegate/gateway/edge/config"
)

// verifyKey is one key a token may be verified with, bound to its kind and
// to the algorithms it may verify.
type verifyKey struct {
	kid  string
	kind keyKind
	// algs are the algorithms of the key's kind that the allow-list and
	// the key's own "alg" (config or JWK) both permit; never empty.
	algs  algSet
	hmacs [3]*jwt.HMAC // by algorithm from hs256; nil for algorithms not in algs
	rsa   *rsa.PublicKey
	ec    *ecdsa.PublicKey
	ed    ed25519.PublicKey
	// id identifies the key's kid and material, to notice when a refresh
	// removes or replaces a key.
	id string
}

// newVerifyKey binds key material (a []byte HMAC secret or a public key)
// to the algorithms it may verify: those of its kind, within allowed, and
// only algName when that is given.
func newVerifyKey(kid string, material any, algName string, allowed algSet) (*verifyKey, error) {
	k := &verifyKey{kid: kid}
	var der []byte
	switch m := material.(type) {
	case []byte:
		if len(m) == 0 {
			return nil, errors.New("empty HMAC secret")
		}
		k.kind, der = kindHMAC, m
	case *rsa.PublicKey:
		k.kind, k.rsa = kindRSA, m
	case *ecdsa.PublicKey:
		switch m.Curve.Params().Name {
		case "P-256":
			k.kind = kindP256
		case "P-384":
			k.kind = kindP384
		case "P-521":
			k.kind = kindP521
		default:
			return nil, fmt.Errorf("ECDSA curve %s is not supported", m.Curve.Params().Name)
		}
		k.ec = m
	case ed25519.PublicKey:
		if len(m) != ed25519.PublicKeySize {
			return nil, errors.New("malformed Ed25519 public key")
		}
		k.kind, k.ed = kindEd25519, m
	default:
		return nil, fmt.Errorf("unsupported %T key", material)
	}
	if k.kind != kindHMAC {
		var err error
		if der, err = x509.MarshalPKIXPublicKey(material); err != nil {
			return nil, err
		}
	}
	k.algs = kindAlgs(k.kind) & allowed
	if algName != "" {
		a, ok := algByName(algName)
		if !ok {
			return nil, fmt.Errorf("unknown algorithm %q", algName)
		}
		if algorithms[a].kind != k.kind {
			return nil, fmt.Errorf("%s needs %s, but the key is %s", algName, algorithms[a].kind, k.kind)
		}
		k.algs &= 1 << a
	}
	if k.algs == 0 {
		return nil, fmt.Errorf("no allowed algorithm can use %s", k.kind)
	}
	for i := range k.hmacs {
		if a := hs256 + alg(i); k.algs.has(a) {
			h, err := jwt.NewHMAC(algorithms[a].name, der)
			if err != nil {
				return nil, err
			}
			k.hmacs[i] = h
		}
	}
	sum := sha256.Sum256(append([]byte{byte(k.kind)}, der...))
	k.id = kid + "\x00" + hex.EncodeToString(sum[:])
	return k, nil
}

// verify checks the signature of token, whose header names algorithm a
// and whose signature decodes to sigLen bytes. The key must permit a.
func (k *verifyKey) verify(token []byte, a alg, sigLen int) bool {
	var err error
	switch k.kind {
	case kindHMAC:
		// HMAC.Check also insists that the token's alg is its own.
		_, err = k.hmacs[a-hs256].Check(token)
	case kindRSA:
		_, err = jwt.RSACheck(token, k.rsa)
	case kindP256, kindP384, kindP521:
		// The library splits any signature in halves; a JWS ECDSA
		// signature is exactly r||s of the curve's size (RFC 7518 §3.4).
		if sigLen != 2*((k.ec.Curve.Params().BitSize+7)/8) {
			return false
		}
		_, err = jwt.ECDSACheck(token, k.ec)
	case kindEd25519:
		_, err = jwt.EdDSACheck(token, k.ed)
	default:
		return false
	}
	return err == nil
}

// keySet is the immutable set of keys in force. A refresh builds a new one
// and swaps a pointer.
type keySet struct {
	byKid map[string][]*verifyKey
	all   []*verifyKey
	// gen changes when a refresh removes or replaces a key, which
	// invalidates every cached token verified before.
	gen uint64
}

func newKeySet(keys []*verifyKey, prev *keySet) *keySet {
	s := &keySet{byKid: make(map[string][]*verifyKey, len(keys)), all: keys}
	ids := make(map[string]bool, len(keys))
	for _, k := range keys {
		if k.kid != "" {
			s.byKid[k.kid] = append(s.byKid[k.kid], k)
		}
		ids[k.id] = true
	}
	if prev != nil {
		s.gen = prev.gen
		for _, k := range prev.all {
			if !ids[k.id] {
				s.gen++
				break
			}
		}
	}
	return s
}

// check verifies token's signature with the key it names.
//
// A token with a kid is verified with that kid's keys only: the library
// would try every key of the family, which turns a removed or unknown kid
// into a silent match with some other key. A token without a kid is
// accepted only when exactly one key in the whole set can verify its
// algorithm; with several, there is nothing to choose by but trial, so it
// is refused.
func (s *keySet) check(token []byte, kid string, a alg, sigLen int) *Error {
	if kid != "" {
		keys := s.byKid[kid]
		if len(keys) == 0 {
			return errUnknownKid
		}
		matched := false
		for _, k := range keys {
			if k.algs.has(a) {
				matched = true
				if k.verify(token, a, sigLen) {
					return nil
				}
			}
		}
		if !matched {
			return errKeyAlg
		}
		return errSignature
	}
	var only *verifyKey
	for _, k := range s.all {
		if k.algs.has(a) {
			if only != nil {
				return errNoKid
			}
			only = k
		}
	}
	if only == nil {
		return errAlgorithm
	}
	if only.verify(token, a, sigLen) {
		return nil
	}
	return errSignature
}

// StaticKey is a verification key of the configuration: an HMAC secret or
// a PEM file of public keys. Exactly one of Secret, SecretEnv, SecretFile,
// PEM and PEMFile is set. The environment variable and the files are read
// again on every refresh, so a replaced secret or certificate takes effect
// without a restart.
type StaticKey struct {
	// Kid is the key id tokens name in their header; empty for a key that
	// only tokens without a kid use.
	Kid string
	// Alg restricts the key to one algorithm; empty allows every allowed
	// algorithm of the key's kind.
	Alg string
	// Secret is an HMAC secret given directly.
	Secret []byte
	// SecretEnv names an environment variable holding an HMAC secret.
	SecretEnv string
	// SecretFile is a file holding an HMAC secret; surrounding white space
	// is ignored.
	SecretFile string
	// PEM holds PEM public keys or certificates given directly.
	PEM []byte
	// PEMFile is a file of PEM blocks: PUBLIC KEY, RSA PUBLIC KEY or
	// CERTIFICATE. Private keys are refused: the gateway never signs.
	PEMFile string
}

// maxKeyFileBytes bounds key, secret and JWKS files and responses.
const maxKeyFileBytes = 1 << 20

// load reads the key material and binds it to its algorithms. Every PEM
// block becomes a key with the same kid.
func (sk *StaticKey) load(allowed algSet, getenv func(string) string) ([]*verifyKey, error) {
	sources := 0
	for _, set := range []bool{sk.Secret != nil, sk.SecretEnv != "", sk.SecretFile != "", sk.PEM != nil, sk.PEMFile != ""} {
		if set {
			sources++
		}
	}
	if sources != 1 {
		return nil, errors.New("set exactly one of Secret, SecretEnv, SecretFile, PEM and PEMFile")
	}
	var secret, pemData []byte
	switch {
	case sk.Secret != nil:
		secret = sk.Secret
	case sk.SecretEnv != "":
		if secret = []byte(getenv(sk.SecretEnv)); len(secret) == 0 {
			return nil, fmt.Errorf("environment variable %s is empty or not set", sk.SecretEnv)
		}
	case sk.SecretFile != "":
		data, err := readSmallFile(sk.SecretFile)
		if err != nil {
			return nil, err
		}
		if secret = bytes.TrimSpace(data); len(secret) == 0 {
			return nil, fmt.Errorf("%s is empty", sk.SecretFile)
		}
	case sk.PEM != nil:
		pemData = sk.PEM
	case sk.PEMFile != "":
		data, err := readSmallFile(sk.PEMFile)
		if err != nil {
			return nil, err
		}
		pemData = data
	}
	if secret != nil {
		k, err := newVerifyKey(sk.Kid, secret, sk.Alg, allowed)
		if err != nil {
			return nil, err
		}
		return []*verifyKey{k}, nil
	}
	pubs, err := config.ParsePublicKeys(pemData)
	if err != nil {
		return nil, err
	}
	keys := make([]*verifyKey, 0, len(pubs))
	for _, pub := range pubs {
		k, err := newVerifyKey(sk.Kid, pub, sk.Alg, allowed)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// name describes the key in log lines and errors.
func (sk *StaticKey) name() string {
	src := "inline key"
	switch {
	case sk.SecretEnv != "":
		src = "$" + sk.SecretEnv
	case sk.SecretFile != "":
		src = sk.SecretFile
	case sk.PEMFile != "":
		src = sk.PEMFile
	}
	if sk.Kid != "" {
		return fmt.Sprintf("key %q (%s)", sk.Kid, src)
	}
	return "key " + src
}

// readSmallFile reads a file of at most maxKeyFileBytes.
func readSmallFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxKeyFileBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, maxKeyFileBytes)
	}
	return data, nil
}
