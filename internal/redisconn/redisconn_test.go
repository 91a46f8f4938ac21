package redisconn

import (
	"context"
	"testing"
	"time"

	"github.com/edgegate/gateway/internal/redistest"
)

func TestOpenWhileRedisIsDown(t *testing.T) {
	srv := redistest.Start(t)
	srv.Stop()

	c, err := Open(Options{Addrs: []string{srv.Addr}, RetryEvery: 50 * time.Millisecond, DialTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.Client(); ok {
		t.Fatal("client available while Redis is down")
	}
	if err := c.Ping(time.Second); err != ErrNotConnected {
		t.Fatalf("Ping = %v, want ErrNotConnected", err)
	}

	srv.Restart()
	deadline := time.Now().Add(5 * time.Second)
	for c.Ping(time.Second) != nil {
		if time.Now().After(deadline) {
			t.Fatal("no connection 5s after Redis came up")
		}
		time.Sleep(20 * time.Millisecond)
	}
	client, _ := c.Client()
	if err := client.Do(context.Background(), client.B().Set().Key("k").Value("v").Build()).Error(); err != nil {
		t.Fatal(err)
	}
}

func TestSplitAddrs(t *testing.T) {
	got := SplitAddrs(" a:1, ,b:2,")
	if len(got) != 2 || got[0] != "a:1" || got[1] != "b:2" {
		t.Fatalf("SplitAddrs = %q", got)
	}
}
