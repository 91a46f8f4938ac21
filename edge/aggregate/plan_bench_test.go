package aggregate

import (
	"fmt"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// BenchmarkMerge measures building the result of five answered calls:
// the part of an aggregate the gateway itself spends time on.
func BenchmarkMerge(b *testing.B) {
	p := &Plan{timeout: time.Second}
	for i := range 5 {
		key := fmt.Appendf(nil, "%q:", fmt.Sprintf("call%d", i))
		p.calls = append(p.calls, call{name: fmt.Sprintf("call%d", i), key: key})
	}
	st := acquireState(5)
	for i := range st.slots {
		st.slots[i].resp.SetStatusCode(200)
		st.slots[i].resp.SetBodyString(`{"id":123,"name":"a user","roles":["admin","dev"],"items":[1,2,3,4,5,6,7,8]}`)
	}
	var resp fasthttp.Response
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if p.merge(st, &resp) != 0 {
			b.Fatal("failed calls")
		}
	}
}
