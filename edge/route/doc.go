// Package route owns the gateway's route table: it turns the match rules of
// the configuration's routes into a Table once per configuration, and for
// each request tells which route serves it, or why none does (404 no_route,
// 405 method_not_allowed with its Allow header), without allocating.
//
// # Compiling
//
// Compile takes one Spec per configured route, in configuration order; the
// index of a spec is the route number Match reports. It parses every path
// pattern, normalises hosts, header names and method sets, refuses bad
// patterns and duplicates with a *SpecError naming the route, and builds a
// tree of path segments. Each node holds its static children (scanned
// linearly while there are few, through a map beyond linearMax), at most one
// {param} child, the specs whose pattern ends there and the specs whose
// {rest...} starts there. Specs at a node are sorted most specific first:
// exact host, wildcard host (longer suffix first), any host; then more
// headers, more query
// arguments, a method set narrower than the default; then configuration
// order, so that among equals the first listed wins.
//
// The tree is over '/'-separated segments rather than bytes. A gateway's
// routes share long segment prefixes (/api/v1/...) and branch on whole
// segments, parameters always fill a segment, and a map lookup keyed by a
// segment costs the same for ten routes as for ten thousand; a byte-level
// radix tree would need as many steps per segment as it has compressed
// edges, and its parameter handling would have to rediscover segment
// boundaries. route_bench_test.go measures the flat cost across table sizes.
//
// # Matching
//
// A request passes through Match like this:
//
//  1. The caller fills a Request from its fasthttp.RequestCtx (method,
//     normalised path, Host, headers, query arguments) and passes a Result it
//     reuses per request.
//  2. Match parses the method into one bit and strips the port from the
//     host, once.
//  3. The walk consumes the path segment by segment: at each node it tries
//     the static child for the segment, then the {param} child (never for an
//     empty segment), then the node's {rest...} specs with the rest of the
//     path. Parameter values are recorded as offsets into the path. When a
//     branch yields no route, the walk backs up and tries the next, undoing
//     the values it recorded.
//  4. Where the path ends, or where a {rest...} takes over, the node's specs
//     are tried in specificity order. The first whose method, host, headers
//     and query all hold is the route: Status Found, Route its index, Params
//     its values. A spec that holds but for the method adds its methods to
//     Allow and the walk goes on.
//  5. If the walk finds nothing, Status is MethodNotAllowed when some spec
//     held but for the method, with Allow the union of their methods, and
//     NotFound otherwise.
//
// After Match, the gateway looks up its compiled route by Result.Route and
// may rewrite the path with that route's Template, which reads the same
// Params.
//
// # Path semantics
//
// Trailing slashes are significant: "/a" and "/a/" are different static
// routes and neither redirects to the other. A {param} matches one non-empty
// segment. A final {rest...} matches everything after its slash, slashes
// included, and also nothing at all: "/files/{rest...}" matches "/files/a/b"
// (rest "a/b"), "/files/" (rest "") and "/files" (rest ""), so a catch-all
// route owns its whole subtree; a static "/files" route, if present, still
// wins for "/files".
//
// Unknown methods match no route; if the path matches, the answer is 405
// with the methods that would have been allowed.
package route
