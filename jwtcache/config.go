package jwtcache

import (
	"fmt"
	"path/filepath"
	"time"

	"go.uber.org/zap"

	"github.com/edgegate/gateway/edge/config"
	"github.com/edgegate/gateway/internal/redisconn"
)

// Options gathers the options of every verifier the auth section
// configures; a nil field is a kind the configuration leaves out.
type Options struct {
	JWT           *JWTOptions
	APIKeys       *APIKeyOptions
	Introspection *IntrospectionOptions
}

// FromConfig turns the auth section of a validated configuration into
// verifier options. Relative file names (secret_file, pem_file, jwks.file,
// api_keys.file) are resolved against baseDir, the directory of the config
// file; secrets named by env var are read through getenv (os.Getenv in the
// gateway), the JWT ones again on every key refresh.
//
// With api_keys.source redis, the returned APIKeys options have no Redis
// connection yet: the caller, who owns the gateway's one connection, hands
// it over with UseRedis before NewVerifiers.
func FromConfig(auth *config.Auth, baseDir string, getenv func(string) string, log *zap.Logger) (Options, error) {
	var o Options
	resolve := func(name string) string {
		if name == "" || filepath.IsAbs(name) {
			return name
		}
		return filepath.Join(baseDir, name)
	}
	if j := auth.JWT; j != nil {
		jo := &JWTOptions{
			Issuer:          j.Issuer,
			Audiences:       j.Audiences,
			Leeway:          j.Leeway.D(),
			Algorithms:      j.Algorithms,
			ClaimsToHeaders: j.ClaimsToHeaders,
			CacheEntries:    j.CacheEntries,
			Getenv:          getenv,
			Log:             log,
		}
		for _, k := range j.Keys {
			jo.Keys = append(jo.Keys, StaticKey{
				Kid:        k.Kid,
				Alg:        k.Alg,
				SecretEnv:  k.SecretEnv,
				SecretFile: resolve(k.SecretFile),
				PEMFile:    resolve(k.PEMFile),
			})
		}
		if w := j.JWKS; w != nil {
			jo.JWKSURL, jo.JWKSFile, jo.Refresh = w.URL, resolve(w.File), w.Refresh.D()
			jo.UnknownKidCooldown = w.UnknownKidCooldown.D()
		}
		o.JWT = jo
	}
	if k := auth.APIKeys; k != nil {
		ko := &APIKeyOptions{Log: log}
		switch k.Source {
		case "redis":
		case "file":
			ko.File = resolve(k.File)
		default:
			return Options{}, fmt.Errorf("jwtcache: auth.api_keys.source %q: want redis or file", k.Source)
		}
		o.APIKeys = ko
	}
	if i := auth.Introspection; i != nil {
		io := &IntrospectionOptions{
			URL:             i.URL,
			ClientID:        i.ClientID,
			NegativeCache:   i.NegativeCache.D(),
			CacheEntries:    i.CacheEntries,
			ClaimsToHeaders: auth.IntrospectionClaims(),
			Log:             log,
		}
		if i.ClientSecretEnv != "" {
			if io.ClientSecret = getenv(i.ClientSecretEnv); io.ClientSecret == "" {
				return Options{}, fmt.Errorf("jwtcache: auth.introspection.client_secret_env: %s is empty or not set", i.ClientSecretEnv)
			}
		}
		o.Introspection = io
	}
	return o, nil
}

// Verifiers are the credential checks of one configuration.
type Verifiers struct {
	JWT          *JWT
	APIKeys      *APIKeys
	Introspector *Introspector
}

// NewVerifiers builds a verifier for every non-nil field of o. On error,
// those already built are closed.
func NewVerifiers(o Options) (*Verifiers, error) {
	v := &Verifiers{}
	var err error
	if o.JWT != nil {
		v.JWT, err = NewJWT(*o.JWT)
	}
	if err == nil && o.APIKeys != nil {
		v.APIKeys, err = NewAPIKeys(*o.APIKeys)
	}
	if err == nil && o.Introspection != nil {
		v.Introspector, err = NewIntrospector(*o.Introspection)
	}
	if err != nil {
		v.Close()
		return nil, err
	}
	return v, nil
}

// Close stops every verifier's background work.
func (v *Verifiers) Close() {
	if v.JWT != nil {
		v.JWT.Close()
	}
	if v.APIKeys != nil {
		v.APIKeys.Close()
	}
	if v.Introspector != nil {
		v.Introspector.Close()
	}
}

// UseRedis gives Redis-backed API keys (api_keys.source redis) the
// gateway's connection and client-side cache TTL (redis.client_cache_ttl).
// It does nothing when API keys are off or read from a file.
func (o *Options) UseRedis(conn *redisconn.Conn, cacheTTL time.Duration) {
	if o.APIKeys != nil && o.APIKeys.File == "" {
		o.APIKeys.Redis, o.APIKeys.CacheTTL = conn, cacheTTL
	}
}
