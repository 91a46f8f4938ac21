package compress

import (
	"bytes"
	"github.com/valyala/fasthttp"
)

// Header names and values, declared once so the response path does not
// convert strings.
var (
	strAcceptEncoding = []byte(fasthttp.HeaderAcceptEncoding)
	strAcceptRanges   = []byte(fasthttp.HeaderAcceptRanges)
	strCacheControl   = []byte(fasthttp.HeaderCacheControl)
	strContentRange   = []byte(fasthttp.HeaderContentRange)
	strETag           = []byte(fasthttp.HeaderETag)
	strVary           = []byte(fasthttp.HeaderVary)
	strGzip           = []byte("gzip")
	strZstd           = []byte("zstd")
	strWeakPrefix     = []byte("W/")
	strVarySep        = []byte(", ")
)

// Compressor compresses response bodies for the routes that ask for it.
// It is safe for concurrent use; build one per configuration.
type Compressor struct {
	minBytes int
	types    typeSet
	enc      *encoders
}

// New returns a Compressor for o, with defaults for its zero fields.
func New(o Options) *Compressor {
	if o.MinBytes <= 0 {
		o.MinBytes = DefaultMinBytes
	}
	if o.Level == 0 {
		o.Level = DefaultLevel
	}
	o.Level = min(max(o.Level, 1), 9)
	if len(o.Types) == 0 {
		o.Types = DefaultTypes
	}
	return &Compressor{
		minBytes: o.MinBytes,
		types:    newTypeSet(o.Types),
		enc:      newEncoders(o.Level),
	}
}

// Apply compresses resp's body in place when the request and the response
// allow it, and returns the coding used ("zstd" or "gzip"), or "" when the
// body was left alone.
//
// When the response is eligible (see the package doc for the rules),
// Apply appends Accept-Encoding to its Vary header even if it then sends
// identity, because the choice depended on the request. When it encodes,
// it sets Content-Encoding and Content-Length, weakens a strong ETag and
// removes Accept-Ranges. A body whose encoding would not be smaller is
// left as it was. Apply does not allocate once its pools are warm.
func (c *Compressor) Apply(req *fasthttp.RequestHeader, resp *fasthttp.Response) (encoding string) {
	if !c.eligible(req, resp) {
		return ""
	}
	addVary(&resp.Header)
	enc := Negotiate(req.PeekBytes(strAcceptEncoding))
	if enc == Identity {
		return ""
	}
	body := resp.Body()
	buf := c.enc.getBuffer()
	defer c.enc.putBuffer(buf)
	c.enc.encode(enc, buf, body)
	if len(buf.b) >= len(body) {
		return ""
	}
	resp.SetBody(buf.b)
	resp.Header.SetContentLength(len(buf.b))
	if enc == Zstd {
		resp.Header.SetContentEncodingBytes(strZstd)
	} else {
		resp.Header.SetContentEncodingBytes(strGzip)
	}
	weakenETag(&resp.Header, buf)
	resp.Header.DelBytes(strAcceptRanges)
	return enc.String()
}

// eligible reports whether resp may be compressed at all, before looking
// at what the client accepts.
func (c *Compressor) eligible(req *fasthttp.RequestHeader, resp *fasthttp.Response) bool {
	if req.IsHead() || resp.SkipBody || resp.IsBodyStream() {
		return false
	}
	switch status := resp.StatusCode(); {
	case status < 200, status == fasthttp.StatusNoContent,
		status == fasthttp.StatusPartialContent, status == fasthttp.StatusNotModified:
		return false
	}
	h := &resp.Header
	if len(h.ContentEncoding()) > 0 || len(h.PeekBytes(strContentRange)) > 0 {
		return false
	}
	if len(resp.Body()) < c.minBytes {
		return false
	}
	if hasToken(h.PeekBytes(strCacheControl), "no-transform") {
		return false
	}
	return c.types.match(h.ContentType())
}

// addVary appends Accept-Encoding to the response's Vary header unless it
// is there already or Vary is "*", keeping the values already present.
func addVary(h *fasthttp.ResponseHeader) {
	v := h.PeekBytes(strVary)
	switch {
	case len(v) == 0:
		h.SetBytesKV(strVary, strAcceptEncoding)
	case hasToken(v, "accept-encoding"), hasToken(v, "*"):
	default:
		// v aliases the header's storage, so the new value is built in a
		// stack buffer; SetBytesKV copies it.
		var scratch [128]byte
		b := append(append(append(scratch[:0], v...), strVarySep...), strAcceptEncoding...)
		h.SetBytesKV(strVary, b)
	}
}

// weakenETag turns a strong ETag into a weak one: the encoded body is a
// different sequence of bytes, so it must not match the identity body's
// validator byte for byte (RFC 9110 §8.8.1).
func weakenETag(h *fasthttp.ResponseHeader, scratch *buffer) {
	etag := h.PeekBytes(strETag)
	if len(etag) == 0 || etag[0] != '"' {
		return
	}
	scratch.b = append(append(scratch.b[:0], strWeakPrefix...), etag...)
	h.SetBytesKV(strETag, scratch.b)
}

// hasToken reports whether the comma-separated list v holds the
// lower-case token t (ignoring case and any "=value" after it).
func hasToken(v []byte, t string) bool {
	for len(v) > 0 {
		var elem []byte
		elem, v, _ = bytes.Cut(v, []byte{','})
		name, _, _ := bytes.Cut(elem, []byte{'='})
		if equalFold(bytes.Trim(name, " \t"), t) {
			return true
		}
	}
	return false
}
