package compress

// Defaults applied by New to zero-valued Options fields.
const (
	// DefaultMinBytes is the smallest body compressed. Below about a
	// kilobyte the gzip or zstd framing eats most of the gain, and the
	// response fits in one TCP segment either way.
	DefaultMinBytes = 1024

	// DefaultLevel balances ratio against CPU for a proxy that compresses
	// on every response: gzip level 5, zstd's default level (zstd 3).
	DefaultLevel = 5
)

// Options configures a Compressor. Options is read once by New; later
// changes have no effect.
type Options struct {
	// MinBytes is the smallest body compressed. Default 1024.
	MinBytes int

	// Level trades ratio for CPU, 1 (fastest) to 9 (smallest), and is
	// clamped to that range. gzip uses it as is; zstd maps 1-2 to its
	// fastest level, 3-5 to its default, 6-9 to its better level (zstd's
	// best level is too slow for a response path). Default 5.
	Level int

	// Types are the compressible content types: "type/subtype",
	// "type/*", or "+suffix" for structured syntax suffixes such as
	// "+json". Default DefaultTypes.
	Types []string
}
