package jwtcache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/pascaldekloe/jwt"
)

// parseJWKS reads a JSON Web Key Set (RFC 7517 §5). A key the gateway
// cannot or must not use (an encryption key, an unsupported curve, an
// algorithm outside the allow-list) is skipped, with the reason, rather
// than failing the set: one exotic key must not take the others down.
// The key material is decoded by the jwt library's LoadJWK; kid, alg and
// use are read here, by their exact names, because the library ignores alg
// and use.
func parseJWKS(data []byte, allowed algSet) (keys []*verifyKey, skipped []string, err error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, nil, fmt.Errorf("not a JWK set: %w", err)
	}
	if set.Keys == nil {
		return nil, nil, errors.New(`not a JWK set: no "keys" member`)
	}
	for i, raw := range set.Keys {
		k, err := parseJWK(raw, allowed)
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("keys[%d]: %v", i, err))
			continue
		}
		keys = append(keys, k)
	}
	return keys, skipped, nil
}

func parseJWK(raw []byte, allowed algSet) (*verifyKey, error) {
	var kid, algName, use string
	err := eachMember(raw, func(name string, value []byte) error {
		var err error
		switch name {
		case "kid":
			kid, err = jsonString(value)
		case "alg":
			algName, err = jsonString(value)
		case "use":
			use, err = jsonString(value)
		}
		if err != nil {
			return fmt.Errorf("%q: %w", name, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if use != "" && use != "sig" {
		return nil, fmt.Errorf("kid %q: use %q is not for signatures", kid, use)
	}
	var reg jwt.KeyRegister
	if _, err := reg.LoadJWK(raw); err != nil {
		return nil, fmt.Errorf("kid %q: %w", kid, err)
	}
	var material any
	switch {
	case len(reg.RSAs) == 1:
		material = reg.RSAs[0]
	case len(reg.ECDSAs) == 1:
		material = reg.ECDSAs[0]
	case len(reg.EdDSAs) == 1:
		material = reg.EdDSAs[0]
	case len(reg.Secrets) == 1:
		material = reg.Secrets[0]
	default:
		return nil, fmt.Errorf("kid %q: no key material", kid)
	}
	k, err := newVerifyKey(kid, material, algName, allowed)
	if err != nil {
		return nil, fmt.Errorf("kid %q: %w", kid, err)
	}
	return k, nil
}

// fetchJWKS reads the key set from the configured file or URL.
func (j *JWT) fetchJWKS(ctx context.Context) ([]byte, error) {
	if j.opts.JWKSFile != "" {
		return readSmallFile(j.opts.JWKSFile)
	}
	ctx, cancel := context.WithTimeout(ctx, j.opts.FetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.opts.JWKSURL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := j.opts.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %s", resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxKeyFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxKeyFileBytes {
		return nil, fmt.Errorf("larger than %d bytes", maxKeyFileBytes)
	}
	return data, nil
}
