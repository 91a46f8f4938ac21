package route_test

import (
	"fmt"

	"github.com/edgegate/gateway/edge/route"
)

// Example shows a request passing through a compiled table: a match with
// parameters rewritten by a template, then a 405 and its Allow header.
func Example() {
	tab, err := route.Compile([]route.Spec{
		{Path: "/api/v2/users/{rest...}", Methods: route.MethodGet | route.MethodPost},
		{Path: "/dashboard", Methods: route.MethodGet},
	})
	if err != nil {
		panic(err)
	}
	rewrite, err := route.CompileTemplate("/users/{rest}", tab.ParamNames(0))
	if err != nil {
		panic(err)
	}

	var res route.Result
	buf := make([]byte, 0, 64)

	tab.Match(&route.Request{Method: []byte("GET"), Path: []byte("/api/v2/users/42/orders")}, &res)
	fmt.Println(res.Status, res.Route, string(res.Params.Get("rest")), string(rewrite.AppendPath(buf[:0], &res.Params)))

	tab.Match(&route.Request{Method: []byte("DELETE"), Path: []byte("/dashboard")}, &res)
	fmt.Println(res.Status, string(res.Allow.AppendAllow(buf[:0])))

	tab.Match(&route.Request{Method: []byte("GET"), Path: []byte("/nowhere")}, &res)
	fmt.Println(res.Status, res.Route)
	// Output:
	// found 0 42/orders /users/42/orders
	// method_not_allowed GET, HEAD
	// no_route -1
}
