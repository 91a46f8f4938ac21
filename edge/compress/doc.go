// Package compress encodes response bodies with zstd or gzip, as the
// client's Accept-Encoding allows, for routes that set `compress: true`.
//
// A response passes through Compressor.Apply after the backend (or the
// response cache) has produced it and before it is written to the client.
// Apply first decides whether the response may be compressed at all: not
// for HEAD, not for 1xx, 204, 206 or 304, not for a streamed body, not when
// the response is already encoded (it is never compressed twice), not when
// it carries Cache-Control: no-transform or a Content-Range, not below
// Options.MinBytes, and only for the content types of Options.Types. A
// response that may be compressed gets "Accept-Encoding" appended to its
// Vary header whatever the client asked for, because a cache downstream
// must not hand this client's variant to another. Then Negotiate picks the
// coding; identity leaves the body alone.
//
// Negotiation honours q-values (q=0 refuses a coding, "*" stands for every
// coding not named) and prefers zstd to gzip when the client weighs them
// equally. On the gateway's side the two cost about the same: in
// compress_bench_test.go, on API-style JSON, klauspost's gzip and zstd run
// within some 20% of each other in speed, gzip a little ahead at level 5
// and zstd ahead in ratio at level 1 (0.20 against 0.23). The difference
// is at the client, which decodes zstd several times faster than gzip,
// and a client only advertises zstd when it has a decoder. A client that
// refuses identity and accepts nothing we offer still gets identity, as
// most servers do, rather than a 406.
//
// The body is compressed in one shot into a pooled buffer and copied back
// into the response, whose own buffer it fits since it is smaller; a
// result that is not smaller is thrown away. gzip writers come from a
// sync.Pool and zstd uses one shared Encoder through EncodeAll, which
// keeps its own pool of block encoders, so the steady state allocates
// nothing per response (alloc_test.go). zstd frames stay within the 8 MiB
// window that browsers accept. A strong ETag is weakened when the body is
// encoded, since the encoded bytes are a different representation, and
// Accept-Ranges is dropped because ranges over the encoded body are not
// served.
//
// A Compressor is safe for concurrent use and holds no goroutines.
package compress
