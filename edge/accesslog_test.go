package edge

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestAccessLogLine(t *testing.T) {
	a := startBackend(t, "a")
	path := filepath.Join(t.TempDir(), "access.log")
	log, closeLog, err := NewAccessLog(path)
	if err != nil {
		t.Fatal(err)
	}
	f := startGateway(t, `
services: { a: { instances: ["{{a}}"] } }
routes: [{ name: echo, match: { path: "/echo/{rest...}" }, service: a }]
`, map[string]string{"a": a.addr}, func(o *Options) { o.AccessLog = log })
	do(t, "POST", f.base+"/echo/x?secret=1", "12345", "X-Trace-ID", "trace-1")
	do(t, "GET", f.base+"/missing", "")
	if err := closeLog(); err != nil {
		t.Fatal(err)
	}

	file, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	var lines []map[string]any
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2", len(lines))
	}
	l := lines[0]
	want := map[string]any{
		"route": "echo", "method": "POST", "path": "/echo/x", "status": float64(200),
		"upstream": a.addr, "bytes_in": float64(5), "trace_id": "trace-1", "consumer": "", "remote": "127.0.0.1",
	}
	for k, v := range want {
		if l[k] != v {
			t.Errorf("%s = %v, want %v (line %v)", k, l[k], v, l)
		}
	}
	for _, k := range []string{"time", "latency", "bytes_out"} {
		if _, ok := l[k]; !ok {
			t.Errorf("line lacks %s: %v", k, l)
		}
	}
	if lines[1]["status"] != float64(404) || lines[1]["route"] != "" {
		t.Errorf("404 line %v", lines[1])
	}
}
