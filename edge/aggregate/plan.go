package aggregate

import (
	"encoding/json"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/edgegate/gateway/pool"
)

// Service is the part of a service pool a call uses: *pool.Service.
type Service interface {
	Name() string
	Do(req *fasthttp.Request, resp *fasthttp.Response, deadline time.Time, key uint64) (*pool.Instance, error)
	HashKey(req *fasthttp.Request, remoteIP net.IP) uint64
}

var _ Service = (*pool.Service)(nil)

// CallSpec is one call of an aggregate as configured.
type CallSpec struct {
	// Name is the call's key in the result.
	Name    string
	Service Service
	// Path is the request target template, query included.
	Path string
}

// Plan is a compiled aggregate. It is immutable and safe for concurrent use.
type Plan struct {
	calls   []call
	timeout time.Duration
}

type call struct {
	name string
	// key is the call's name as a JSON object key with its colon.
	key  []byte
	svc  Service
	host []byte
	tmpl template
}

// Compile builds the plan of an aggregate route. paramNames are the route's
// path parameter names, in the order route.Params holds their values.
func Compile(specs []CallSpec, timeout time.Duration, paramNames []string) (*Plan, error) {
	if len(specs) == 0 {
		return nil, fmt.Errorf("aggregate: no calls")
	}
	if timeout <= 0 {
		return nil, fmt.Errorf("aggregate: timeout must be positive")
	}
	p := &Plan{timeout: timeout}
	for _, s := range specs {
		tmpl, err := compileTemplate(s.Path, paramNames)
		if err != nil {
			return nil, fmt.Errorf("aggregate: call %q: %w", s.Name, err)
		}
		key, _ := json.Marshal(s.Name)
		p.calls = append(p.calls, call{
			name: s.Name,
			key:  append(key, ':'),
			svc:  s.Service,
			host: []byte(s.Service.Name()),
			tmpl: tmpl,
		})
	}
	return p, nil
}

// Timeout returns the aggregate's deadline, measured from the start of Run.
func (p *Plan) Timeout() time.Duration { return p.timeout }

// Len returns the number of calls.
func (p *Plan) Len() int { return len(p.calls) }

// Request describes the client request an aggregate answers.
type Request struct {
	Input
	// RemoteIP feeds consistent hashing in the calls' pools.
	RemoteIP net.IP
	// Prepare, if set, adds headers to each call's request: the trace id,
	// verified identity, X-Forwarded-For. It runs before any call starts.
	Prepare func(req *fasthttp.Request)
}

// Run performs every call and writes the merged object into resp with
// status 200, Content-Type application/json and, when some calls failed,
// X-Partial naming them in call order. It returns how many calls failed;
// when that is all of them, resp holds nothing useful and the caller
// answers with its own error.
func (p *Plan) Run(r *Request, resp *fasthttp.Response) (failed int) {
	st := acquireState(len(p.calls))
	defer releaseState(st)
	deadline := time.Now().Add(p.timeout)

	// Requests are built before any call starts: templates read the client
	// request, which must not be read from several goroutines while the
	// caller might still touch it.
	for i := range p.calls {
		p.calls[i].build(r, &st.slots[i])
	}
	var wg sync.WaitGroup
	for i := 1; i < len(p.calls); i++ {
		if st.slots[i].err != nil {
			continue
		}
		wg.Add(1)
		go func(c *call, s *slot) {
			defer wg.Done()
			c.do(s, deadline)
		}(&p.calls[i], &st.slots[i])
	}
	if st.slots[0].err == nil {
		p.calls[0].do(&st.slots[0], deadline)
	}
	wg.Wait()

	return p.merge(st, resp)
}

// merge writes the result object. A body is kept as it came when the call
// answered 2xx with valid JSON; anything else is null.
func (p *Plan) merge(st *state, resp *fasthttp.Response) (failed int) {
	body := append(st.body[:0], '{')
	partial := st.partial[:0]
	for i := range p.calls {
		c, s := &p.calls[i], &st.slots[i]
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, c.key...)
		if s.ok() {
			body = append(body, s.resp.Body()...)
			continue
		}
		body = append(body, "null"...)
		failed++
		if len(partial) > 0 {
			partial = append(partial, ',')
		}
		partial = append(partial, c.name...)
	}
	body = append(body, '}')
	st.body, st.partial = body, partial

	resp.Reset()
	resp.SetStatusCode(fasthttp.StatusOK)
	resp.Header.SetContentTypeBytes(strApplicationJSON)
	resp.SetBody(body)
	if failed > 0 {
		resp.Header.SetBytesKV(strXPartial, partial)
	}
	return failed
}

var (
	strApplicationJSON = []byte("application/json")
	strXPartial        = []byte("X-Partial")
)

// build prepares the call's request, or records why it cannot be made.
func (c *call) build(r *Request, s *slot) {
	s.uri, s.err = c.tmpl.appendURI(s.uri[:0], &r.Input)
	if s.err != nil {
		return
	}
	req := &s.req
	req.Header.SetMethodBytes(strGET)
	req.SetRequestURIBytes(s.uri)
	req.Header.SetHostBytes(c.host)
	req.URI().SetHostBytes(c.host)
	if r.Prepare != nil {
		r.Prepare(req)
	}
	s.key = c.svc.HashKey(req, r.RemoteIP)
}

var strGET = []byte(fasthttp.MethodGet)

// do runs the call. The response is judged in merge.
func (c *call) do(s *slot, deadline time.Time) {
	_, s.err = c.svc.Do(&s.req, &s.resp, deadline, s.key)
}

// slot is one call's request and response.
type slot struct {
	req  fasthttp.Request
	resp fasthttp.Response
	uri  []byte
	key  uint64
	err  error
}

// ok reports whether the call's body goes into the result as it came.
func (s *slot) ok() bool {
	if s.err != nil {
		return false
	}
	if code := s.resp.StatusCode(); code < 200 || code > 299 {
		return false
	}
	// A body fasthttp would have to decode is not the JSON the backend
	// meant; calls do not ask for compression, so this is a broken backend.
	if len(s.resp.Header.ContentEncoding()) > 0 {
		return false
	}
	b := s.resp.Body()
	return len(b) > 0 && json.Valid(b)
}

func (s *slot) reset() {
	s.req.Reset()
	s.resp.Reset()
	s.uri = s.uri[:0]
	s.key = 0
	s.err = nil
}

// state is one Run's slots and buffers, pooled by call count so that a
// steady stream of aggregate requests reuses them.
type state struct {
	slots   []slot
	body    []byte
	partial []byte
}

var statePools sync.Map // call count -> *sync.Pool

func acquireState(n int) *state {
	v, ok := statePools.Load(n)
	if !ok {
		v, _ = statePools.LoadOrStore(n, &sync.Pool{New: func() any {
			return &state{slots: make([]slot, n)}
		}})
	}
	return v.(*sync.Pool).Get().(*state)
}

func releaseState(st *state) {
	for i := range st.slots {
		st.slots[i].reset()
	}
	st.body, st.partial = st.body[:0], st.partial[:0]
	v, _ := statePools.Load(len(st.slots))
	v.(*sync.Pool).Put(st)
}
