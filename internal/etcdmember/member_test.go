package etcdmember_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/spotstream/spotstream/internal/cluster/clustertest"
	"github.com/spotstream/spotstream/internal/etcdlog"
	"github.com/spotstream/spotstream/internal/etcdmember"
)

// TestEmbeddedRestartKeepsData starts a member with the defaults a broker
// uses (unix sockets, fsync on), measures the time until it serves, and
// restarts it on the same directory.
func TestEmbeddedRestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	cfg := etcdmember.Config{Dir: dir, Logger: clustertest.Logger}
	ctx := testCtx(t)

	start := time.Now()
	e, err := etcdmember.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	fresh := time.Since(start)
	eps := e.Endpoints()
	if len(eps) != 1 || !strings.HasPrefix(eps[0], "unix:///") {
		t.Fatalf("endpoints %v: want one unix socket", eps)
	}
	s := connect(t, eps, "restart")
	id, err := s.ClusterID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	e.Close()

	start = time.Now()
	e, err = etcdmember.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	restart := time.Since(start)
	t.Logf("single member serving after %v (fresh directory), %v (restart)", fresh, restart)
	if got := e.Endpoints(); got[0] != eps[0] {
		t.Errorf("restart moved the client socket from %s to %s", eps[0], got[0])
	}
	s = connect(t, e.Endpoints(), "restart")
	if again, err := s.ClusterID(ctx); err != nil || again != id {
		t.Fatalf("cluster id after restart = %q, %v; want %q", again, err, id)
	}
}

// TestEmbeddedSideBySide runs two default members at once, as two
// single-node brokers on one machine would: no ports, no collision.
func TestEmbeddedSideBySide(t *testing.T) {
	ctx := testCtx(t)
	var members [2]*etcdmember.Member
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range members {
		wg.Go(func() {
			members[i], errs[i] = etcdmember.Start(ctx, etcdmember.Config{
				Dir: t.TempDir(), UnsafeNoFsync: true, Logger: clustertest.Logger})
		})
	}
	wg.Wait()
	for i, m := range members {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		t.Cleanup(m.Close)
	}
	if members[0].Endpoints()[0] == members[1].Endpoints()[0] {
		t.Fatalf("both members listen on %s", members[0].Endpoints()[0])
	}
	for i, m := range members {
		s := connect(t, m.Endpoints(), "")
		if _, err := s.Client().Put(ctx, "/member", fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	for i, m := range members {
		s := connect(t, m.Endpoints(), "")
		resp, err := s.Client().Get(ctx, "/member")
		if err != nil || string(resp.Kvs[0].Value) != fmt.Sprint(i) {
			t.Fatalf("member %d holds %v, %v", i, resp, err)
		}
	}
}

func TestEmbeddedSocketDir(t *testing.T) {
	short, err := os.MkdirTemp("", "ss")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(short)
	dir, temp, err := etcdmember.SocketDir(short)
	if err != nil || temp || dir != short {
		t.Errorf("SocketDir(%s) = %s, %v, %v; want the directory itself", short, dir, temp, err)
	}

	long := filepath.Join(t.TempDir(), strings.Repeat("d", 100))
	dir, temp, err = etcdmember.SocketDir(long)
	if err != nil || !temp || len(dir)+len("/etcd-client.sock") > 103 {
		t.Fatalf("SocketDir(long) = %s, %v, %v; want a short private directory", dir, temp, err)
	}
	defer os.Remove(dir)
	again, _, _ := etcdmember.SocketDir(long)
	other, _, _ := etcdmember.SocketDir(long + "x")
	defer os.Remove(other)
	if again != dir || other == dir {
		t.Errorf("socket directories: %s, again %s, for another dir %s: want stable and distinct", dir, again, other)
	}
}

func TestEmbeddedDirLocked(t *testing.T) {
	dir := t.TempDir()
	newMember(t, dir)
	_, err := etcdmember.Start(testCtx(t), etcdmember.Config{Dir: dir, Logger: clustertest.Logger})
	if !errors.Is(err, etcdmember.ErrDirLocked) {
		t.Fatalf("second member on %s: %v; want ErrDirLocked", dir, err)
	}
}

func TestEmbeddedConfigErrors(t *testing.T) {
	for name, cfg := range map[string]etcdmember.Config{
		"no dir":          {},
		"wildcard client": {ListenClientURLs: []string{"http://0.0.0.0:0"}},
		"wildcard peer":   {ListenPeerURLs: []string{"http://[::]:0"}},
		"bad scheme":      {ListenClientURLs: []string{"tcp://127.0.0.1:0"}},
	} {
		if name != "no dir" {
			cfg.Dir = t.TempDir()
		}
		if _, err := etcdmember.Start(testCtx(t), cfg); err == nil || !strings.HasPrefix(err.Error(), "etcdmember: ") {
			t.Errorf("%s: err = %v; want a cluster: error", name, err)
		}
	}
}

// freePorts returns n TCP ports that were free a moment ago.
func freePorts(t *testing.T, n int) []int {
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports
}

// TestEmbeddedThreeMembers starts a 3-member cluster over TCP in this
// process, sees it elect a leader, stops the leader and sees the others
// elect a new one and keep serving. It takes seconds: each member of a new
// cluster first asks its peers whether it already belongs to a cluster,
// waiting up to a second for each (etcd's fixed bootstrap timeout), and a
// leader that stops hands leadership over first.
func TestEmbeddedThreeMembers(t *testing.T) {
	if testing.Short() {
		t.Skip("takes seconds")
	}
	ctx := testCtx(t)
	ports := freePorts(t, 6)
	var initial []string
	for i := range 3 {
		initial = append(initial, fmt.Sprintf("m%d=http://127.0.0.1:%d", i, ports[3+i]))
	}
	members := make([]*etcdmember.Member, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range members {
		wg.Go(func() {
			members[i], errs[i] = etcdmember.Start(ctx, etcdmember.Config{
				Dir:              t.TempDir(),
				Name:             fmt.Sprintf("m%d", i),
				ListenClientURLs: []string{fmt.Sprintf("http://127.0.0.1:%d", ports[i])},
				ListenPeerURLs:   []string{fmt.Sprintf("http://127.0.0.1:%d", ports[3+i])},
				InitialCluster:   strings.Join(initial, ","),
				// Faster than etcd's defaults, to keep the test short.
				HeartbeatInterval: 50 * time.Millisecond,
				ElectionTimeout:   500 * time.Millisecond,
				UnsafeNoFsync:     true,
				Logger:            clustertest.Logger,
			})
		})
	}
	wg.Wait()
	t.Cleanup(func() {
		// Concurrently: each Close waits up to a second for its peers.
		var wg sync.WaitGroup
		for _, m := range members {
			if m != nil {
				wg.Go(m.Close)
			}
		}
		wg.Wait()
	})
	var endpoints []string
	for i, m := range members {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		endpoints = append(endpoints, m.Endpoints()...)
	}
	s := connect(t, endpoints, "three")
	leader := func(eps []string) uint64 {
		t.Helper()
		var id uint64
		for _, ep := range eps {
			st, err := s.Client().Status(ctx, ep)
			if err != nil {
				t.Fatal(err)
			}
			if id != 0 && st.Leader != id {
				t.Fatalf("members disagree on the leader: %x, %x", id, st.Leader)
			}
			id = st.Leader
		}
		return id
	}
	if _, err := s.ClusterID(ctx); err != nil {
		t.Fatal(err)
	}
	first := leader(endpoints)
	if first == 0 {
		t.Fatal("no leader")
	}

	// Stop the leader; the two others still form a quorum.
	var rest []string
	for i, ep := range endpoints {
		st, err := s.Client().Status(ctx, ep)
		if err != nil {
			t.Fatal(err)
		}
		if st.Header.MemberId == first {
			members[i].Close()
		} else {
			rest = append(rest, ep)
		}
	}
	s2 := connect(t, rest, "three")
	if _, err := s2.Client().Put(ctx, "/three/after", "x"); err != nil {
		t.Fatalf("write after losing the leader: %v", err)
	}
	if second := leader(rest); second == 0 || second == first {
		t.Fatalf("leader after stopping %x: %x", first, second)
	}
	if resp, err := s2.Client().Get(ctx, "/three/cluster/id", clientv3.WithCountOnly()); err != nil || resp.Count != 1 {
		t.Fatalf("cluster id lost with the leader: %v, %v", resp, err)
	}
}

// TestEmbeddedWaitsForQuorum: a member that cannot reach a quorum does
// not return until ctx ends, says that it is waiting, and then stops
// cleanly.
func TestEmbeddedWaitsForQuorum(t *testing.T) {
	etcdlog.SetWaitInterval(t, 50*time.Millisecond)
	ports := freePorts(t, 3)
	ctx, cancel := context.WithTimeout(testCtx(t), 300*time.Millisecond)
	defer cancel()
	var log clustertest.LogBuffer
	_, err := etcdmember.Start(ctx, etcdmember.Config{
		Dir:              t.TempDir(),
		Name:             "a",
		ListenClientURLs: []string{fmt.Sprintf("http://127.0.0.1:%d", ports[0])},
		ListenPeerURLs:   []string{fmt.Sprintf("http://127.0.0.1:%d", ports[1])},
		InitialCluster:   fmt.Sprintf("a=http://127.0.0.1:%d,b=http://127.0.0.1:%d", ports[1], ports[2]),
		Logger:           slog.New(slog.NewTextHandler(&log, nil)),
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Start without quorum: %v; want DeadlineExceeded", err)
	}
	if !strings.Contains(log.String(), "etcd member waiting for the other members of its cluster to form a quorum") {
		t.Errorf("no log line about the wait:\n%s", log.String())
	}
}
