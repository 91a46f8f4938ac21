package edge

import (
	"bytes"

	"github.com/valyala/fasthttp"
)

// Header names the request path sets or inspects, declared once so that no
// request converts a string.
var (
	strConnection      = []byte(fasthttp.HeaderConnection)
	strTrailer         = []byte(fasthttp.HeaderTrailer)
	strXTraceID        = []byte("X-Trace-ID")
	strXForwardedFor   = []byte(fasthttp.HeaderXForwardedFor)
	strXForwardedProto = []byte("X-Forwarded-Proto")
	strXForwardedHost  = []byte("X-Forwarded-Host")
	strHTTP            = []byte("http")
	strHTTPS           = []byte("https")
	strColonSlashSlash = []byte("://")
	strHTTP10          = []byte("HTTP/1.0")
	strHTTP11          = []byte("HTTP/1.1")
	strCommaSpace      = []byte(", ")
	strAllow           = []byte(fasthttp.HeaderAllow)
)

// hopByHop are the headers of RFC 9110 §7.6.1 that describe one connection,
// not the message: a proxy must not forward them either way. Proxy-* is
// matched by prefix on top of these.
var hopByHop = [][]byte{
	[]byte("Connection"),
	[]byte("Keep-Alive"),
	[]byte("Te"),
	[]byte("Trailer"),
	[]byte("Transfer-Encoding"),
	[]byte("Upgrade"),
}

var strProxyDash = []byte("proxy-")

// defaultIdentityHeaders are the headers backends trust to carry verified
// identity. A client-sent copy of any of them is removed on every route,
// public ones included; authentication sets the real values afterwards.
var defaultIdentityHeaders = []string{"X-User-ID", "X-Tenant-ID", "X-Roles", "X-Consumer-ID", "X-Plan"}

// headerSet matches header names the way backends read them: ASCII case
// folded and '_' taken as '-', because CGI, PHP and Rails map X_User_ID to
// the same variable as X-User-ID. Safe for concurrent use once built.
type headerSet struct {
	names [][]byte // lower case, '-' only
}

func newHeaderSet(names []string) headerSet {
	var s headerSet
	for _, n := range names {
		b := []byte(n)
		for i, c := range b {
			b[i] = foldHeaderByte(c)
		}
		if !s.has(b) {
			s.names = append(s.names, b)
		}
	}
	return s
}

func foldHeaderByte(c byte) byte {
	switch {
	case c >= 'A' && c <= 'Z':
		return c + 'a' - 'A'
	case c == '_':
		return '-'
	}
	return c
}

// has reports whether name is in the set under folding.
func (s *headerSet) has(name []byte) bool {
	for _, n := range s.names {
		if len(n) == len(name) && foldEqual(n, name) {
			return true
		}
	}
	return false
}

// foldEqual compares a folded name with a raw one of the same length.
func foldEqual(folded, raw []byte) bool {
	for i, c := range raw {
		if foldHeaderByte(c) != folded[i] {
			return false
		}
	}
	return true
}

func hasPrefixFold(b, lowerPrefix []byte) bool {
	return len(b) >= len(lowerPrefix) && foldEqual(lowerPrefix, b[:len(lowerPrefix)])
}

func isHopByHop(name []byte) bool {
	for _, h := range hopByHop {
		if len(h) == len(name) && bytes.EqualFold(h, name) {
			return true
		}
	}
	return hasPrefixFold(name, strProxyDash)
}

// doomed collects header names to delete after a pass over the headers,
// which cannot be changed while they are walked. Its buffers are reused
// across requests.
type doomed struct {
	buf  []byte
	ends []int
}

func (d *doomed) reset() { d.buf, d.ends = d.buf[:0], d.ends[:0] }

func (d *doomed) add(name []byte) {
	d.buf = append(d.buf, name...)
	d.ends = append(d.ends, len(d.buf))
}

// addTokens adds each comma-separated token of a Connection header value.
func (d *doomed) addTokens(v []byte) {
	for len(v) > 0 {
		var tok []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			tok, v = v[:i], v[i+1:]
		} else {
			tok, v = v, nil
		}
		if tok = bytes.TrimSpace(tok); len(tok) > 0 {
			d.add(tok)
		}
	}
}

func (d *doomed) len() int { return len(d.ends) }

func (d *doomed) name(i int) []byte {
	start := 0
	if i > 0 {
		start = d.ends[i-1]
	}
	return d.buf[start:d.ends[i]]
}

// sanitizeRequest removes from a client's request what no backend may
// receive: hop-by-hop headers, the headers its Connection header names,
// request trailers, and every spelling of an identity header.
func (x *exchange) sanitizeRequest(h *fasthttp.RequestHeader, identity *headerSet) {
	d := &x.doomed
	d.reset()
	if v := h.PeekBytes(strConnection); len(v) > 0 {
		d.addTokens(v)
	}
	// Fields that arrived in a chunked body's trailer section are dropped
	// with their announcement. Deleting only the Trailer header would make
	// fasthttp move them into the header section, where a client-sent
	// "X-User-ID" trailer would reach the backend as a header.
	if v := h.PeekBytes(strTrailer); len(v) > 0 {
		d.addTokens(v)
		d.add(strTrailer)
	}
	// AllInOrder walks the headers as received, so every client spelling is
	// seen; unlike All it does not make fasthttp re-serialise cookies.
	for k := range h.AllInOrder() {
		if isHopByHop(k) || identity.has(k) {
			d.add(k)
		}
	}
	for i := range d.len() {
		h.DelBytes(d.name(i))
	}
	// A client's "Connection: close" is fasthttp's flag, not a header:
	// forwarding it would close the pooled upstream connection. The server
	// has already noted it for the client side.
	h.ResetConnectionClose()
}

// sanitizeResponse removes hop-by-hop headers from a backend's response.
func (x *exchange) sanitizeResponse(h *fasthttp.ResponseHeader) {
	d := &x.doomed
	d.reset()
	if v := h.PeekBytes(strConnection); len(v) > 0 {
		d.addTokens(v)
	}
	for k := range h.All() {
		if isHopByHop(k) {
			d.add(k)
		}
	}
	for i := range d.len() {
		h.DelBytes(d.name(i))
	}
	// An upstream "Connection: close" concerns the upstream connection
	// only; the client's connection stays open.
	h.ResetConnectionClose()
}

// headerRules are a route's compiled set and remove lists.
type headerRules struct {
	set    [][2][]byte
	remove [][]byte
}

func (r *headerRules) empty() bool { return len(r.set) == 0 && len(r.remove) == 0 }

func newHeaderRules(set map[string]string, remove []string) headerRules {
	var r headerRules
	for _, name := range remove {
		r.remove = append(r.remove, []byte(name))
	}
	for _, name := range sortedKeys(set) {
		r.set = append(r.set, [2][]byte{[]byte(name), []byte(set[name])})
	}
	return r
}

func (r *headerRules) applyRequest(h *fasthttp.RequestHeader) {
	for _, name := range r.remove {
		h.DelBytes(name)
	}
	for _, kv := range r.set {
		h.SetBytesKV(kv[0], kv[1])
	}
}

func (r *headerRules) applyResponse(h *fasthttp.ResponseHeader) {
	for _, name := range r.remove {
		h.DelBytes(name)
	}
	for _, kv := range r.set {
		h.SetBytesKV(kv[0], kv[1])
	}
}
