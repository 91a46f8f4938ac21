package config

import (
	"bytes"
	"net/http"
	"slices"
	"strconv"
)

func (v *validator) auth() {
	if j := v.c.Auth.JWT; j != nil {
		v.jwt(j)
	}
	if k := v.c.Auth.APIKeys; k != nil {
		v.apiKeys(k)
	}
	if i := v.c.Auth.Introspection; i != nil {
		v.httpURL("auth.introspection.url", i.URL)
		if i.ClientID == "" {
			v.add("auth.introspection.client_id", "required")
		}
		if i.ClientSecretEnv != "" {
			v.env("auth.introspection.client_secret_env", i.ClientSecretEnv)
		}
		v.positive("auth.introspection.negative_cache", i.NegativeCache)
		v.positiveInt("auth.introspection.cache_entries", i.CacheEntries)
		v.claimsToHeaders("auth.introspection.claims_to_headers", i.ClaimsToHeaders)
		if j := v.c.Auth.JWT; j != nil {
			for _, claim := range sortedKeys(i.ClaimsToHeaders) {
				if h, ok := j.ClaimsToHeaders[claim]; ok && http.CanonicalHeaderKey(h) != http.CanonicalHeaderKey(i.ClaimsToHeaders[claim]) {
					v.add(keyPath("auth.introspection.claims_to_headers", claim), "claim %q goes to %s here but to %s in auth.jwt.claims_to_headers; a claim has one header", claim, i.ClaimsToHeaders[claim], h)
				}
			}
		}
	}
}

func (v *validator) jwt(j *JWT) {
	const p = "auth.jwt"
	if len(j.Algorithms) == 0 {
		v.add(p+".algorithms", "at least one algorithm is required, such as [RS256]")
	}
	allowed := make(map[string]bool, len(j.Algorithms))
	for i, alg := range j.Algorithms {
		if v.algorithm(indexPath(p+".algorithms", i), alg) {
			allowed[alg] = true
		}
	}
	for i, aud := range j.Audiences {
		if aud == "" {
			v.add(indexPath(p+".audiences", i), "must not be empty")
		}
	}
	if len(j.Keys) == 0 && j.JWKS == nil {
		v.add(p, "needs keys or jwks to verify tokens with")
	}
	kids := make(map[string]int, len(j.Keys))
	for i := range j.Keys {
		kp := indexPath(p+".keys", i)
		k := &j.Keys[i]
		if k.Kid != "" {
			if first, dup := kids[k.Kid]; dup {
				v.add(kp+".kid", "duplicate kid %q (first at %s)", k.Kid, indexPath(p+".keys", first))
			} else {
				kids[k.Kid] = i
			}
		}
		v.jwtKey(kp, k, allowed)
	}
	if w := j.JWKS; w != nil {
		switch {
		case w.URL != "" && w.File != "":
			v.add(p+".jwks", "set either url or file, not both")
		case w.URL != "":
			v.httpURL(p+".jwks.url", w.URL)
		case w.File != "":
			v.readable(p+".jwks.file", w.File)
		default:
			v.add(p+".jwks", "needs url or file")
		}
		v.positive(p+".jwks.refresh", w.Refresh)
		v.positive(p+".jwks.unknown_kid_cooldown", w.UnknownKidCooldown)
	}
	v.claimsToHeaders(p+".claims_to_headers", j.ClaimsToHeaders)
	v.positiveInt(p+".cache_entries", j.CacheEntries)
}

// claimsToHeaders checks a claim-to-header mapping: valid header names,
// each set from one claim only.
func (v *validator) claimsToHeaders(path string, m map[string]string) {
	headers := make(map[string]string, len(m))
	for _, claim := range sortedKeys(m) {
		cp := keyPath(path, claim)
		h := m[claim]
		if claim == "" {
			v.add(cp, "claim name must not be empty")
		}
		if !validToken(h) {
			v.header(cp, h)
			continue
		}
		canon := http.CanonicalHeaderKey(h)
		if other, dup := headers[canon]; dup {
			v.add(cp, "header %s is also set from claim %q", h, other)
			continue
		}
		headers[canon] = claim
	}
}

// jwtKey checks one verification key: where it comes from, that it can be
// read, and that its kind fits its algorithm (an HMAC algorithm with an
// RSA public key is the classic key-confusion attack).
func (v *validator) jwtKey(path string, k *JWTKey, allowed map[string]bool) {
	sources := 0
	for _, s := range []string{k.SecretEnv, k.SecretFile, k.PEMFile} {
		if s != "" {
			sources++
		}
	}
	if sources != 1 {
		v.add(path, "set exactly one of secret_env, secret_file or pem_file")
	}
	algOK := false
	if k.Alg != "" && v.algorithm(path+".alg", k.Alg) {
		algOK = true
		if !allowed[k.Alg] {
			v.add(path+".alg", "%s is not in auth.jwt.algorithms", k.Alg)
			algOK = false
		}
	}
	if sources != 1 {
		return
	}
	var kinds []keyKind
	switch {
	case k.SecretEnv != "":
		v.env(path+".secret_env", k.SecretEnv)
		kinds = []keyKind{kindHMAC}
	case k.SecretFile != "":
		data, ok := v.readFile(path+".secret_file", k.SecretFile)
		if ok && len(bytes.TrimSpace(data)) == 0 {
			v.add(path+".secret_file", "%q is empty", k.SecretFile)
		}
		kinds = []keyKind{kindHMAC}
	default:
		data, ok := v.readFile(path+".pem_file", k.PEMFile)
		if !ok {
			return
		}
		var err error
		if kinds, err = publicKeyKinds(data); err != nil {
			v.add(path+".pem_file", "%s %v", strconv.Quote(k.PEMFile), err)
			return
		}
	}
	if algOK {
		want, _ := algorithmKind(k.Alg)
		for _, kind := range kinds {
			if kind != want {
				v.add(path+".alg", "%s needs %s, but the key is %s", k.Alg, want, kind)
				return
			}
		}
		return
	}
	if k.Alg == "" && len(allowed) > 0 {
		for alg := range allowed {
			kind, _ := algorithmKind(alg)
			if slices.Contains(kinds, kind) {
				return
			}
		}
		v.add(path, "no algorithm in auth.jwt.algorithms can use this key (%s)", kinds[0])
	}
}

func (v *validator) apiKeys(k *APIKeys) {
	const p = "auth.api_keys"
	v.header(p+".header", k.Header)
	v.enum(p+".source", k.Source, "redis", "file")
	switch k.Source {
	case "file":
		if k.File == "" {
			v.add(p+".file", "required when source is file")
		} else {
			v.readable(p+".file", k.File)
		}
	case "redis":
		if !v.redisConfigured() {
			v.add(p+".source", "redis needs redis.addrs")
		}
	}
}
