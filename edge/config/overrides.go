package config

import "strings"

// Environment variables read by EnvOverrides, and GATEWAY_CONFIG naming the
// config file when -config is not given.
const (
	EnvConfig   = "GATEWAY_CONFIG"
	EnvListen   = "GATEWAY_LISTEN"
	EnvAdmin    = "GATEWAY_ADMIN"
	EnvRedis    = "GATEWAY_REDIS"
	EnvLogLevel = "GATEWAY_LOG_LEVEL"
)

// AdminOff, as the admin listen address, disables the admin listener.
const AdminOff = "off"

// Overrides are the settings that flags and environment variables may
// impose on the file (flag > env > file > default). An empty field leaves
// the file's value alone.
type Overrides struct {
	// Listen replaces server.listen (-listen, GATEWAY_LISTEN).
	Listen string
	// Admin replaces admin.listen (-admin, GATEWAY_ADMIN); "off" disables
	// the admin listener.
	Admin string
	// Redis replaces redis.addrs with a comma-separated list of addresses
	// (-redis, GATEWAY_REDIS).
	Redis string
	// LogLevel replaces logging.level (-log-level, GATEWAY_LOG_LEVEL).
	LogLevel string
}

// EnvOverrides returns the overrides set in the environment, read through
// getenv (os.Getenv in the gateway, a map in tests). A caller layers its
// flags on top by replacing the fields whose flag was given.
func EnvOverrides(getenv func(string) string) Overrides {
	return Overrides{
		Listen:   getenv(EnvListen),
		Admin:    getenv(EnvAdmin),
		Redis:    getenv(EnvRedis),
		LogLevel: getenv(EnvLogLevel),
	}
}

// Apply writes the non-empty overrides into c. ParseWith calls it between
// decoding and Defaults; a caller building a Config by hand must do the
// same, since defaults depend on redis.addrs.
func (o Overrides) Apply(c *Config) {
	if o.Listen != "" {
		c.Server.Listen = o.Listen
	}
	if o.Admin != "" {
		c.Admin.Listen = o.Admin
	}
	if o.Redis != "" {
		var addrs []string
		for a := range strings.SplitSeq(o.Redis, ",") {
			if a = strings.TrimSpace(a); a != "" {
				addrs = append(addrs, a)
			}
		}
		c.Redis.Addrs = addrs
	}
	if o.LogLevel != "" {
		c.Logging.Level = o.LogLevel
	}
}
