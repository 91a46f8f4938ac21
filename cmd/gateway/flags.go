package main

import (
	"flag"
	"io"
	"os"

	"github.com/edgegate/gateway/edge/config"
)

// settings are the command line: the config file and the overrides that
// flags and env vars impose on it (flag > env > file > default).
type settings struct {
	config    string
	overrides config.Overrides
}

func parseFlags(name string, args []string, stderr io.Writer) (*settings, error) {
	s := &settings{overrides: config.EnvOverrides(os.Getenv)}
	o := &s.overrides
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&s.config, "config", os.Getenv(config.EnvConfig), "configuration file (env GATEWAY_CONFIG)")
	// Each flag's default is the env var's value, so a flag given wins and
	// a flag absent leaves the env var in place.
	fs.StringVar(&o.Listen, "listen", o.Listen, "plain HTTP listen address, overrides server.listen (env GATEWAY_LISTEN)")
	fs.StringVar(&o.Admin, "admin", o.Admin, `admin listen address, or "off"; overrides admin.listen (env GATEWAY_ADMIN)`)
	fs.StringVar(&o.Redis, "redis", o.Redis, "Redis addresses, comma separated; override redis.addrs (env GATEWAY_REDIS)")
	fs.StringVar(&o.LogLevel, "log-level", o.LogLevel, "debug, info, warn or error; overrides logging.level (env GATEWAY_LOG_LEVEL)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if s.config == "" {
		s.config = "gateway.yaml"
	}
	return s, nil
}

// load reads, overrides, defaults and validates the configuration: the
// one way every command gets a config, so that check and serve agree.
func (s *settings) load() (*config.Config, error) {
	return config.LoadWith(s.config, s.overrides)
}
