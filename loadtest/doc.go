// Package loadtest checks, under load, the promises the gateway makes in
// its documentation: that a shared rate limit holds across instances, that
// losing Redis or a backend costs no request its answer, and that memory
// stays bounded over time and under a flood of distinct clients.
//
// Every scenario is a Go test that runs real processes: the gateway binary,
// built once per test run from ./cmd/gateway (or LOADTEST_GATEWAY, a
// binary to test instead), real redis-server processes from
// internal/redistest, and backends that are real HTTP servers on loopback
// ports inside the test process, where they record what reached them and
// can be killed and restarted on the same port.
//
// Load comes from one open-loop generator (load_test.go): a fixed request
// rate over a bounded number of connections, every request with its own
// deadline, each outcome kept with the time it was due, sent and
// answered. Open loop matters: a closed loop slows down with the system it
// measures and hides exactly the stalls a load test is for. A request with
// no answer by its deadline is hung, and no scenario tolerates one.
//
// Limits are judged by proof, not by tolerance. The backend stamps each
// admitted request's arrival, so the gateway's decision lies between the
// client's send and that stamp; a set of admissions whose [send, arrival]
// spans all fit inside one window is certainly one window's worth, however
// the latencies fell. Latency can hide an over-admission from this count
// but never invent one, so the redis-mode check allows no deviation.
//
// Each scenario has a short form (the default: the package runs in about a
// minute and a half, and CI runs it with -race at rates scaled by a
// build-tagged constant) and a long form selected by LOADTEST_LONG=1. Each
// ends with one VERDICT line in the test log and fails on a violated
// property. README.md lists the scenarios and their properties.
//
// The package holds tests only; this file exists to document it.
package loadtest
