package compress

import (
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// maxPooledBuffer is the largest output buffer kept for reuse. A rare huge
// body gets a buffer of its own that the garbage collector takes back,
// instead of pinning its size in the pool for good.
const maxPooledBuffer = 4 << 20

// buffer is an append-only io.Writer over a reusable slice.
type buffer struct{ b []byte }

// Write appends p; it never fails.
func (b *buffer) Write(p []byte) (int, error) {
	b.b = append(b.b, p...)
	return len(p), nil
}

// encoders holds the pooled state of both codings for one level.
type encoders struct {
	gzipLevel int
	gzip      sync.Pool // *gzip.Writer
	zstd      *zstd.Encoder
	buffers   sync.Pool // *buffer
}

func newEncoders(level int) *encoders {
	e := &encoders{gzipLevel: level}
	e.gzip.New = func() any {
		// The level is clamped by New, so NewWriterLevel cannot fail.
		w, err := gzip.NewWriterLevel(nil, e.gzipLevel)
		if err != nil {
			panic("BUG: compress: gzip level " + err.Error())
		}
		return w
	}
	e.buffers.New = func() any { return new(buffer) }
	zl := zstd.EncoderLevelFromZstd(zstdLevel(level))
	// EncodeAll needs no goroutines; concurrency sizes its pool of block
	// encoders (GOMAXPROCS by default). The default window of every level
	// used here is at most 8 MiB, the most browsers decode.
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zl))
	if err != nil {
		panic("BUG: compress: zstd options: " + err.Error())
	}
	e.zstd = enc
	return e
}

// zstdLevel maps the 1-9 gzip-style level onto zstd's scale, capped below
// zstd's best level, whose speed does not suit a response path.
func zstdLevel(level int) int {
	switch {
	case level <= 2:
		return 1
	case level <= 5:
		return 3
	default:
		return 7
	}
}

// encode appends the encoding of src to dst and returns it.
func (e *encoders) encode(enc Encoding, dst *buffer, src []byte) {
	switch enc {
	case Zstd:
		dst.b = e.zstd.EncodeAll(src, dst.b[:0])
	case Gzip:
		w := e.gzip.Get().(*gzip.Writer)
		dst.b = dst.b[:0]
		w.Reset(dst)
		// Writes into a buffer cannot fail.
		_, _ = w.Write(src)
		_ = w.Close()
		// The writer keeps pointing at dst until its next Reset; it never
		// writes there again, and resetting it twice would clear its
		// tables twice per response.
		e.gzip.Put(w)
	}
}

func (e *encoders) getBuffer() *buffer { return e.buffers.Get().(*buffer) }

func (e *encoders) putBuffer(b *buffer) {
	if cap(b.b) > maxPooledBuffer {
		return
	}
	b.b = b.b[:0]
	e.buffers.Put(b)
}
