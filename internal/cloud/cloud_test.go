package cloud_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/spotstream/spotstream/internal/cloud"
	"github.com/spotstream/spotstream/internal/cloud/cloudtest"
)

func newClient(t *testing.T, fake *cloudtest.Server) *cloud.Client {
	t.Helper()
	t.Cleanup(fake.Close)
	return cloud.NewClient(fake.URL(), time.Second, nil)
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestIdentity(t *testing.T) {
	for _, tc := range []struct {
		zone, life string
		want       cloud.Identity
		err        bool
	}{
		{"us-east-1a", "spot", cloud.Identity{Zone: "us-east-1a", Capacity: cloud.Spot}, false},
		{"eu-west-3c", "on-demand", cloud.Identity{Zone: "eu-west-3c", Capacity: cloud.OnDemand}, false},
		{"eu-west-3c", "scheduled", cloud.Identity{Zone: "eu-west-3c"}, false},
		{"<html>oops</html>", "spot", cloud.Identity{}, true},
	} {
		c := newClient(t, cloudtest.NewServer(tc.zone, tc.life))
		got, err := c.Identity(testCtx(t))
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("zone %q life %q: %+v, %v; want %+v (error %v)", tc.zone, tc.life, got, err, tc.want, tc.err)
		}
	}
}

// TestTokenFlow: every GET carries an IMDSv2 token.
func TestTokenFlow(t *testing.T) {
	fake := cloudtest.NewServer("us-east-1a", "spot")
	c := newClient(t, fake)
	for range 3 {
		if _, err := c.Identity(testCtx(t)); err != nil {
			t.Fatal(err)
		}
	}
	if n := fake.TokenlessGets(); n != 0 {
		t.Errorf("%d GETs without a valid token", n)
	}
}

func TestNotices(t *testing.T) {
	fake := cloudtest.NewServer("us-east-1a", "spot")
	c := newClient(t, fake)
	ctx := testCtx(t)
	if n, err := c.Notices(ctx); err != nil || len(n) != 0 {
		t.Fatalf("no notice: %v, %v", n, err)
	}
	at := time.Date(2026, 12, 3, 4, 30, 0, 0, time.UTC)
	fake.Interrupt("terminate", at)
	fake.Recommend(at.Add(-time.Minute))
	n, err := c.Notices(ctx)
	if err != nil || len(n) != 2 || n[0] != (cloud.Notice{Kind: cloud.Interruption, Action: "terminate", Time: at}) ||
		n[1] != (cloud.Notice{Kind: cloud.Rebalance, Time: at.Add(-time.Minute)}) {
		t.Fatalf("notices %+v, %v", n, err)
	}
	for _, garbage := range []string{"{", `{"action":"explode","time":"2026-12-03T04:30:00Z"}`, `{"action":"terminate"}`, "<html/>"} {
		fake.SetInstanceAction(garbage)
		if n, err := c.Notices(ctx); err == nil {
			t.Errorf("instance-action %q: notices %+v, want an error", garbage, n)
		}
	}
	fake.SetFailing(true)
	if _, err := c.Notices(ctx); err == nil || errors.Is(err, cloud.ErrNotFound) {
		t.Errorf("failing service: %v", err)
	}
}

// TestWatch: each notice is delivered once, and a service that fails for a
// while neither stops the watch nor produces a notice.
func TestWatch(t *testing.T) {
	fake := cloudtest.NewServer("us-east-1a", "spot")
	c := newClient(t, fake)
	ctx, cancel := context.WithCancel(testCtx(t))
	var mu sync.Mutex
	var got []cloud.Notice
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Watch(ctx, 10*time.Millisecond, func(n cloud.Notice) {
			mu.Lock()
			got = append(got, n)
			mu.Unlock()
		})
	}()
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(got)
	}
	// polled waits until the watch has asked the fake n more times.
	polled := func(n int) {
		t.Helper()
		want := fake.Requests() + n
		waitUntil(t, func() bool { return fake.Requests() >= want })
	}
	fake.SetFailing(true)
	fake.SetInstanceAction("garbage")
	polled(3)
	fake.SetFailing(false)
	polled(3) // garbage: no notice
	fake.Interrupt("stop", time.Date(2026, 12, 3, 4, 30, 0, 0, time.UTC))
	waitUntil(t, func() bool { return count() > 0 })
	polled(6) // the same notice, shown again
	cancel()
	<-done
	if len(got) != 1 || got[0].Kind != cloud.Interruption || got[0].Action != "stop" {
		t.Fatalf("notices %+v, want one interruption (stop)", got)
	}
}

// waitUntil polls cond until it holds, for at most 5 s.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond) // poll interval
	}
}
