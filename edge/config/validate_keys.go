package config

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// certificate checks that a certificate and its key can be read and form a
// pair, as the TLS listener will load them.
func (v *validator) certificate(path string, c *Certificate) {
	certPEM, certOK := v.readFile(path+".cert", c.Cert)
	keyPEM, keyOK := v.readFile(path+".key", c.Key)
	if !certOK || !keyOK {
		return
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		v.add(path, "cert and key are not a valid pair: %v", err)
	}
}

// keyKind is the kind of key a JWT algorithm verifies with; keys and
// algorithms of different kinds cannot be used together.
type keyKind string

const (
	kindHMAC    keyKind = "an HMAC secret"
	kindRSA     keyKind = "an RSA public key"
	kindP256    keyKind = "an ECDSA P-256 public key"
	kindP384    keyKind = "an ECDSA P-384 public key"
	kindP521    keyKind = "an ECDSA P-521 public key"
	kindEd25519 keyKind = "an Ed25519 public key"
)

// jwtAlgorithms are the JWS algorithms the gateway verifies, in the order
// messages list them, with the kind of key each needs. "none" is absent on
// purpose: it would accept unsigned tokens.
var jwtAlgorithms = []struct {
	name string
	kind keyKind
}{
	{"HS256", kindHMAC}, {"HS384", kindHMAC}, {"HS512", kindHMAC},
	{"RS256", kindRSA}, {"RS384", kindRSA}, {"RS512", kindRSA},
	{"PS256", kindRSA}, {"PS384", kindRSA}, {"PS512", kindRSA},
	{"ES256", kindP256}, {"ES384", kindP384}, {"ES512", kindP521},
	{"EdDSA", kindEd25519},
}

// algorithmKind returns the key kind of a known algorithm.
func algorithmKind(alg string) (keyKind, bool) {
	for _, a := range jwtAlgorithms {
		if a.name == alg {
			return a.kind, true
		}
	}
	return "", false
}

func algorithmNames() []string {
	names := make([]string, len(jwtAlgorithms))
	for i, a := range jwtAlgorithms {
		names[i] = a.name
	}
	return names
}

// algorithm checks the name of a JWT algorithm.
func (v *validator) algorithm(path, alg string) bool {
	if strings.EqualFold(alg, "none") {
		v.add(path, `"none" is never allowed: it would accept unsigned tokens`)
		return false
	}
	if _, ok := algorithmKind(alg); !ok {
		v.add(path, "unknown algorithm %q (want %s)", alg, orList(algorithmNames()))
		return false
	}
	return true
}

// ParsePublicKeys reads every PEM block of a verification key file as a
// public key: PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE. Private keys are
// refused: the gateway only verifies tokens, and a signing key has no
// business on the edge. Validation and the token checks share it, so a
// file that passes `gateway check` is one the gateway can load.
func ParsePublicKeys(data []byte) ([]any, error) {
	var keys []any
	for {
		var block *pem.Block
		if block, data = pem.Decode(data); block == nil {
			break
		}
		var pub any
		var err error
		switch {
		case block.Type == "PUBLIC KEY":
			pub, err = x509.ParsePKIXPublicKey(block.Bytes)
		case block.Type == "RSA PUBLIC KEY":
			pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
		case block.Type == "CERTIFICATE":
			var cert *x509.Certificate
			if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
				pub = cert.PublicKey
			}
		case strings.Contains(block.Type, "PRIVATE KEY"):
			return nil, errors.New("holds a private key; give only the public key (the gateway verifies tokens, it never signs them)")
		default:
			return nil, fmt.Errorf("holds a %q PEM block (want PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE)", block.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("holds an invalid %s: %w", strings.ToLower(block.Type), err)
		}
		keys = append(keys, pub)
	}
	if len(keys) == 0 {
		return nil, errors.New("holds no PEM data")
	}
	return keys, nil
}

// publicKeyKinds returns the kinds of the public keys in a PEM file.
func publicKeyKinds(data []byte) ([]keyKind, error) {
	pubs, err := ParsePublicKeys(data)
	if err != nil {
		return nil, err
	}
	kinds := make([]keyKind, 0, len(pubs))
	for _, pub := range pubs {
		kind, err := publicKeyKind(pub)
		if err != nil {
			return nil, err
		}
		kinds = append(kinds, kind)
	}
	return kinds, nil
}

func publicKeyKind(pub any) (keyKind, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return kindRSA, nil
	case *ecdsa.PublicKey:
		switch k.Curve.Params().Name {
		case "P-256":
			return kindP256, nil
		case "P-384":
			return kindP384, nil
		case "P-521":
			return kindP521, nil
		}
		return "", fmt.Errorf("holds an ECDSA key on unsupported curve %s", k.Curve.Params().Name)
	case ed25519.PublicKey:
		return kindEd25519, nil
	}
	return "", fmt.Errorf("holds an unsupported %T key", pub)
}
