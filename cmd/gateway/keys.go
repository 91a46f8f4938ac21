package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/redis/rueidis"
	"gopkg.in/yaml.v3"

	"github.com/edgegate/gateway/edge/config"
	"github.com/edgegate/gateway/internal/redisconn"
	"github.com/edgegate/gateway/jwtcache"
)

const keysUsage = `usage:
  gateway keys issue  -consumer NAME [-plan PLAN] [-expires 720h]
  gateway keys rotate -key RAW [-grace 24h]
  gateway keys revoke -key RAW | -hash HEX

A key expires after -expires (default 720h; 0 for never). -key - reads
the raw key from the first line of standard input, which keeps it out of
the process list and the shell history.

Each also takes -config FILE (env GATEWAY_CONFIG) and -redis ADDRS (env
GATEWAY_REDIS). Keys are written where the gateway reads them: Redis when
auth.api_keys.source is redis (the default when Redis is configured), else
auth.api_keys.file. Only the SHA-256 of a key is stored; issue and rotate
print the raw key once.
`

// defaultKeyLifetime is how long an issued key works unless -expires says
// otherwise: a key nobody rotates should not work forever.
const defaultKeyLifetime = 720 * time.Hour

// keysTimeout bounds a whole keys command: Redis round trips or file
// rewrites take milliseconds, and a tool must not hang on a dead Redis.
const keysTimeout = 10 * time.Second

// runKeys manages API keys: issue, rotate, revoke.
func runKeys(args []string) int {
	return keysCommand(args, os.Stdin, os.Stdout, os.Stderr)
}

func keysCommand(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, keysUsage)
		return 2
	}
	sub := args[0]
	s := &settings{config: os.Getenv(config.EnvConfig), overrides: config.Overrides{Redis: os.Getenv(config.EnvRedis)}}
	fs := flag.NewFlagSet("gateway keys "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&s.config, "config", s.config, "configuration file (env GATEWAY_CONFIG)")
	fs.StringVar(&s.overrides.Redis, "redis", s.overrides.Redis, "Redis addresses, comma separated; override redis.addrs (env GATEWAY_REDIS)")
	var consumer, plan, raw, hash string
	var expires, grace time.Duration
	switch sub {
	case "issue":
		fs.StringVar(&consumer, "consumer", "", "who the key is for, sent upstream as X-Consumer-ID (required)")
		fs.StringVar(&plan, "plan", "", "the consumer's plan, sent upstream as X-Plan")
		fs.DurationVar(&expires, "expires", defaultKeyLifetime, "how long the key works; 0 for no expiry")
	case "rotate":
		fs.StringVar(&raw, "key", "", "the key to replace, or - to read it from standard input (required)")
		fs.DurationVar(&grace, "grace", 24*time.Hour, "how long the old key keeps working")
	case "revoke":
		fs.StringVar(&raw, "key", "", "the key to revoke, or - to read it from standard input")
		fs.StringVar(&hash, "hash", "", "or its SHA-256, as issue printed it")
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, keysUsage)
		return 0
	default:
		fmt.Fprintf(stderr, "gateway keys: unknown command %q\n\n%s", sub, keysUsage)
		return 2
	}
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	usageErr := func(msg string) int {
		fmt.Fprintf(stderr, "gateway keys %s: %s\n", sub, msg)
		return 2
	}
	switch {
	case fs.NArg() > 0:
		return usageErr("unexpected arguments " + strings.Join(fs.Args(), " "))
	case sub == "issue" && consumer == "":
		return usageErr("-consumer is required")
	case sub == "rotate" && raw == "":
		return usageErr("-key is required")
	case sub == "revoke" && (raw == "") == (hash == ""):
		return usageErr("give -key or -hash")
	case expires < 0:
		return usageErr("-expires must not be negative")
	}
	if raw == "-" {
		var err error
		if raw, err = readKey(stdin); err != nil {
			return usageErr(err.Error())
		}
	}
	if s.config == "" {
		s.config = "gateway.yaml"
	}

	store, where, closeStore, err := openKeyStore(s, sub == "issue", stderr)
	if err != nil {
		printProblems(stderr, s.config, err)
		return 1
	}
	defer closeStore()
	ctx, cancel := context.WithTimeout(context.Background(), keysTimeout)
	defer cancel()
	now := time.Now()

	switch sub {
	case "issue":
		raw, rec, err := jwtcache.Issue(ctx, store, consumer, plan, expires, now)
		if err != nil {
			return keysFailed(stderr, sub, err)
		}
		printKey(stdout, raw, rec, where)
		fmt.Fprintln(stdout, keepNote)
	case "rotate":
		successor, rec, err := jwtcache.Rotate(ctx, store, raw, grace, now)
		if err != nil {
			return keysFailed(stderr, sub, err)
		}
		printKey(stdout, successor, rec, where)
		if old, ok, err := store.Get(ctx, jwtcache.HashKey(raw)); err == nil && ok {
			fmt.Fprintf(stdout, "replaces: %s, which works until %s\n", old.Hash, old.ExpiresAt.UTC().Format(time.RFC3339))
		}
		fmt.Fprintln(stdout, keepNote)
	case "revoke":
		if raw != "" {
			hash = jwtcache.HashKey(raw)
		}
		if err := jwtcache.Revoke(ctx, store, hash); err != nil {
			return keysFailed(stderr, sub, err)
		}
		fmt.Fprintf(stdout, "revoked %s in %s\n", hash, where)
	}
	return 0
}

// readKey reads a raw key from the first line of r.
func readKey(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("reading the key from standard input: %w", err)
	}
	if line = strings.TrimSpace(line); line == "" {
		return "", errors.New("-key -: no key on standard input")
	}
	return line, nil
}

func keysFailed(stderr io.Writer, sub string, err error) int {
	fmt.Fprintf(stderr, "gateway keys %s: %s\n", sub, strings.TrimPrefix(err.Error(), "jwtcache: "))
	return 1
}

// printKey prints a key: the raw key alone on the first line, for
// scripts, then what was stored.
func printKey(w io.Writer, raw string, rec jwtcache.KeyRecord, where string) {
	expires := "never"
	if !rec.ExpiresAt.IsZero() {
		expires = rec.ExpiresAt.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(w, "%s\nhash:     %s\nconsumer: %s\nplan:     %s\nexpires:  %s\nstored:   %s\n",
		raw, rec.Hash, rec.Consumer, rec.Plan, expires, where)
}

const keepNote = "Only the hash is stored: keep the key now, it cannot be shown again."

// openKeyStore loads the configuration as serve does and opens the store
// the gateway reads keys from, described for messages. With create, a key
// file that does not exist yet is created empty, since validation would
// otherwise refuse a configuration whose only fault is that no key was
// ever issued.
func openKeyStore(s *settings, create bool, stderr io.Writer) (jwtcache.KeyStore, string, func(), error) {
	cfg, err := s.load()
	if err != nil && create {
		if path, ok := missingKeyFile(s.config, err); ok {
			if f, cerr := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644); cerr == nil {
				f.Close()
				fmt.Fprintf(stderr, "created the key file %s\n", path)
				cfg, err = s.load()
			}
		}
	}
	if err != nil {
		return nil, "", nil, err
	}
	source := ""
	if k := cfg.Auth.APIKeys; k != nil {
		source = k.Source
	} else if len(cfg.Redis.Addrs) > 0 {
		source = "redis"
	}
	switch source {
	case "redis":
		o := redisconn.Options{Addrs: cfg.Redis.Addrs}
		if cfg.Redis.PasswordEnv != "" {
			o.Password = os.Getenv(cfg.Redis.PasswordEnv)
		}
		opt := redisconn.ClientOption(o)
		opt.DisableCache = true // a tool reads each record once
		client, err := rueidis.NewClient(opt)
		if err != nil {
			return nil, "", nil, fmt.Errorf("cannot reach Redis at %s: %w", strings.Join(cfg.Redis.Addrs, ","), err)
		}
		return jwtcache.NewRedisStore(client), "Redis " + strings.Join(cfg.Redis.Addrs, ","), client.Close, nil
	case "file":
		path := cfg.Resolve(cfg.Auth.APIKeys.File)
		return jwtcache.NewFileStore(path), path, func() {}, nil
	}
	return nil, "", nil, errors.New("no key store: configure auth.api_keys (source file, with file) or redis.addrs")
}

// missingKeyFile reports whether the only problems of a configuration are
// that its api_keys.file does not exist, and returns that file.
func missingKeyFile(configPath string, err error) (string, bool) {
	var errs config.Errors
	if !errors.As(err, &errs) || len(errs) == 0 {
		return "", false
	}
	for _, e := range errs {
		if e.Path != "auth.api_keys.file" {
			return "", false
		}
	}
	data, rerr := os.ReadFile(configPath)
	if rerr != nil {
		return "", false
	}
	var doc struct {
		Auth struct {
			APIKeys struct {
				File string `yaml:"file"`
			} `yaml:"api_keys"`
		} `yaml:"auth"`
	}
	if yaml.Unmarshal(data, &doc) != nil || doc.Auth.APIKeys.File == "" {
		return "", false
	}
	path := (&config.Config{Path: configPath}).Resolve(doc.Auth.APIKeys.File)
	if _, serr := os.Stat(path); !errors.Is(serr, os.ErrNotExist) {
		return "", false
	}
	if fi, serr := os.Stat(filepath.Dir(path)); serr != nil || !fi.IsDir() {
		return "", false
	}
	return path, true
}
