package jwtcache

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"
)

// loop refreshes the keys every Refresh until Close.
func (j *JWT) loop() {
	defer close(j.done)
	t := time.NewTicker(j.opts.Refresh)
	defer t.Stop()
	for {
		select {
		case <-j.ctx.Done():
			return
		case <-t.C:
			if err := j.Refresh(); err != nil && j.ctx.Err() == nil {
				j.opts.Log.Warn("JWT key refresh failed; previous keys stay in force", zap.Error(err))
			}
		}
	}
}

// Refresh re-reads the configured keys and the JWKS and puts the result in
// force: a new kid works from then on, a removed one stops, and tokens
// verified with a removed or replaced key are verified again. A source that
// fails keeps its previous keys; the error names every failure. The
// background loop calls it every Refresh.
func (j *JWT) Refresh() error {
	j.loadMu.Lock()
	defer j.loadMu.Unlock()
	var errs []error
	for i := range j.opts.Keys {
		keys, err := j.opts.Keys[i].load(j.allowed, j.opts.Getenv)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", j.opts.Keys[i].name(), err))
			continue
		}
		j.static[i] = keys
	}
	if err := j.loadJWKSLocked(); err != nil {
		errs = append(errs, err)
	}
	j.publishLocked()
	return errors.Join(errs...)
}

// loadJWKS re-reads the JWKS, if there is one, keeping the previous keys
// on failure.
func (j *JWT) loadJWKS() error {
	j.loadMu.Lock()
	defer j.loadMu.Unlock()
	return j.loadJWKSLocked()
}

func (j *JWT) loadJWKSLocked() error {
	if j.opts.JWKSURL == "" && j.opts.JWKSFile == "" {
		return nil
	}
	data, err := j.fetchJWKS(j.ctx)
	if err != nil {
		return fmt.Errorf("JWKS %s: %w", j.jwksName(), err)
	}
	keys, skipped, err := parseJWKS(data, j.allowed)
	if err != nil {
		return fmt.Errorf("JWKS %s: %w", j.jwksName(), err)
	}
	j.jwks = keys
	if s := strings.Join(skipped, "; "); s != j.lastSkipped {
		j.lastSkipped = s
		if s != "" {
			j.opts.Log.Warn("JWKS keys skipped", zap.String("jwks", j.jwksName()), zap.Strings("skipped", skipped))
		}
	}
	return nil
}

func (j *JWT) jwksName() string {
	if j.opts.JWKSFile != "" {
		return j.opts.JWKSFile
	}
	return j.opts.JWKSURL
}

func (j *JWT) publish() {
	j.loadMu.Lock()
	defer j.loadMu.Unlock()
	j.publishLocked()
}

func (j *JWT) publishLocked() {
	var keys []*verifyKey
	for _, ks := range j.static {
		keys = append(keys, ks...)
	}
	keys = append(keys, j.jwks...)
	prev := j.keys.Load()
	next := newKeySet(keys, prev)
	j.keys.Store(next)
	if prev != nil && next.gen != prev.gen {
		j.opts.Log.Info("JWT keys removed or replaced; cached tokens will be verified again", zap.Int("keys", len(keys)))
	}
}

// awaitKid is called when a token names a kid that set does not know. An
// issuer that rotates keys publishes the new kid in its JWKS before using
// it, so the JWKS is read once more before the token is refused. Requests
// that arrive while that read is in flight wait for it instead of starting
// their own, and for UnknownKidCooldown after it started, unknown kids are
// refused without a read: a flood of made-up kids costs the issuer one
// request per cooldown. awaitKid returns the key set to check again, or
// nil when there is nothing new to check against.
func (j *JWT) awaitKid(set *keySet) *keySet {
	if j.opts.JWKSURL == "" && j.opts.JWKSFile == "" {
		return nil
	}
	j.fetchMu.Lock()
	if cur := j.keys.Load(); cur != set {
		// Keys changed since the caller looked: check against those.
		j.fetchMu.Unlock()
		return cur
	}
	if wait := j.fetching; wait != nil {
		j.fetchMu.Unlock()
		<-wait
		return j.keys.Load()
	}
	now := j.opts.Now()
	if !j.lastFetch.IsZero() && now.Sub(j.lastFetch) < j.opts.UnknownKidCooldown {
		j.fetchMu.Unlock()
		return nil
	}
	done := make(chan struct{})
	j.fetching, j.lastFetch = done, now
	j.fetchMu.Unlock()

	j.loadMu.Lock()
	err := j.loadJWKSLocked()
	j.publishLocked()
	j.loadMu.Unlock()
	if err != nil && j.ctx.Err() == nil {
		j.opts.Log.Warn("JWKS re-read for an unknown kid failed", zap.Error(err))
	}

	j.fetchMu.Lock()
	j.fetching = nil
	j.fetchMu.Unlock()
	close(done)
	return j.keys.Load()
}
