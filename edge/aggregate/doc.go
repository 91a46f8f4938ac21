// Package aggregate serves backend-for-frontend routes: one client request
// fans out to several backend calls in parallel, and their JSON bodies are
// merged into one object with a key per call.
//
// A Plan is compiled once per configuration from a route's aggregate block:
// each call's path template, its service and the JSON key it fills. Per
// request, Run builds every call's request first (templates read the route's
// path parameters, the query and the verified identity), then runs the calls
// at once, each through its service's pool so that balancing, health checks
// and circuit breaking apply, all bounded by one deadline. The latency of an
// aggregate is that of its slowest call and never more than the timeout.
//
// Bodies are copied into the result as the backends sent them, without
// decoding and re-encoding: the merge only checks that each body is valid
// JSON. A call that fails, answers outside 2xx, sends something that is not
// JSON or misses the deadline becomes null, and its name is listed in the
// X-Partial header. When every call fails, Run reports it and the gateway
// answers 502.
package aggregate
