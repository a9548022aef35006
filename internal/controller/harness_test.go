package controller

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spotstream/spotstream/internal/cluster"
	"github.com/spotstream/spotstream/internal/cluster/clustertest"
	"github.com/spotstream/spotstream/internal/config"
)

func TestMain(m *testing.M) { clustertest.Main(m) }

// sessionTTL is the brokers' lease TTL: etcd's shortest. Most tests end
// sessions by revoking them and never wait for it; crash tests do.
const sessionTTL = time.Second

// testCtx ends with the test, and after a bound that turns a hang into a
// failure.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// testCluster is fake brokers sharing one namespace: each has its own etcd
// client, registration, cache and controller, as brokers do; nothing else
// (no partitions, no Kafka listener).
type testCluster struct {
	t         *testing.T
	endpoints []string
	namespace string
	broker    *config.Broker // topic defaults of every controller
	log       *slog.Logger
	nodes     map[int32]*node
}

// node is one fake broker.
type node struct {
	id      int32
	store   *cluster.Store
	session *cluster.Session
	cache   *cluster.Cache
	ctrl    *Controller
	stop    func() // stops the controller and the cache, and waits for them
}

// newTestCluster starts controllers for ids. Placement repair and the
// automatic leader rebalance are off: the tests lay partitions out by
// hand and watch elections and reassignments of exactly those; the repair
// tests use newTestClusterWith.
func newTestCluster(t *testing.T, ids ...int32) *testCluster {
	return newTestClusterWith(t, map[string]string{"placement.repair.max.moves": "0", "auto.leader.rebalance.enable": "false"}, ids...)
}

// newTestClusterWith is newTestCluster with the given broker configs.
func newTestClusterWith(t *testing.T, props map[string]string, ids ...int32) *testCluster {
	b, _, err := config.NewBroker(props)
	if err != nil {
		t.Fatal(err)
	}
	c := &testCluster{
		t:         t,
		endpoints: clustertest.Etcd(t),
		namespace: clustertest.Namespace(t),
		broker:    b,
		log:       clustertest.Logger,
		nodes:     map[int32]*node{},
	}
	for _, id := range ids {
		c.start(id)
	}
	return c
}

// start registers broker id and runs its cache and controller until the
// test ends or the node is stopped.
func (c *testCluster) start(id int32) *node {
	t := c.t
	t.Helper()
	ctx := testCtx(t)
	store, err := cluster.Connect(ctx, c.endpoints, c.namespace, cluster.WithLogger(clustertest.Logger))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	session, err := store.Register(ctx, cluster.Registration{ID: id, Host: "localhost", Port: 9092, State: cluster.StateRunning}, sessionTTL, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { session.Close(context.Background()) })
	cache := cluster.NewCache(store)
	ctrl, err := New(Config{Store: store, Cache: cache, Session: session, Broker: c.broker, Logger: c.log.With("broker", id)})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := cache.Run(runCtx); err != nil {
			t.Errorf("broker %d: Cache.Run: %v", id, err)
		}
	})
	if err := cache.WaitRevision(ctx, 1); err != nil {
		t.Fatal(err)
	}
	wg.Go(func() {
		if err := ctrl.Run(runCtx); err != nil {
			t.Errorf("broker %d: Controller.Run: %v", id, err)
		}
	})
	n := &node{id: id, store: store, session: session, cache: cache, ctrl: ctrl}
	n.stop = sync.OnceFunc(func() { cancel(); wg.Wait() })
	t.Cleanup(n.stop)
	c.nodes[id] = n
	return n
}

// kill ends broker id's session at once (revokes its lease, as etcdctl
// lease revoke would), and stops the node.
func (c *testCluster) kill(id int32) {
	c.t.Helper()
	n := c.nodes[id]
	if _, err := n.store.Client().Revoke(testCtx(c.t), n.session.Lease()); err != nil {
		c.t.Fatal(err)
	}
	<-n.session.Done()
	n.stop()
	delete(c.nodes, id)
}

// crash stops broker id the way a crash does: its etcd client goes away
// without revoking anything, and the lease expires after its TTL.
func (c *testCluster) crash(id int32) {
	n := c.nodes[id]
	n.store.Close()
	<-n.session.Done()
	n.stop()
	delete(c.nodes, id)
}

// any returns a live node (the lowest id), to read the cluster through.
func (c *testCluster) any() *node {
	ids := slices.Sorted(func(yield func(int32) bool) {
		for id := range c.nodes {
			if !yield(id) {
				return
			}
		}
	})
	return c.nodes[ids[0]]
}

// active waits until exactly one node is the active controller, and every
// node's cache names it, and returns it.
func (c *testCluster) active() *node {
	c.t.Helper()
	var got *node
	c.waitAll("one agreed controller", func(*node, *cluster.Snapshot) bool {
		got = nil
		for _, n := range c.nodes {
			if n.ctrl.Active() {
				if got != nil {
					return false
				}
				got = n
			}
		}
		if got == nil {
			return false
		}
		for _, n := range c.nodes {
			if n.ctrl.ID() != got.id || n.cache.Load().ControllerID != got.id {
				return false
			}
		}
		return true
	})
	return got
}

// waitAll waits until ok holds for every node's latest snapshot at once.
// It polls: Active changes without a snapshot.
func (c *testCluster) waitAll(what string, ok func(*node, *cluster.Snapshot) bool) {
	c.t.Helper()
	ctx := testCtx(c.t)
	for {
		all := true
		for _, n := range c.nodes {
			if !ok(n, n.cache.Load()) {
				all = false
				break
			}
		}
		if all {
			return
		}
		select {
		case <-time.After(5 * time.Millisecond):
		case <-ctx.Done():
			c.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// waitSnap waits until ok holds for a snapshot of n's cache, and returns it.
func waitSnap(t *testing.T, n *node, what string, ok func(*cluster.Snapshot) bool) *cluster.Snapshot {
	t.Helper()
	ctx := testCtx(t)
	for {
		ch := n.cache.Changed()
		if s := n.cache.Load(); ok(s) {
			return s
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s; last snapshot:\n%s", what, describe(n.cache.Load()))
		}
	}
}

// createTopic creates a topic whose partition i has replicas rotated from
// brokers (RF = len(brokers)), the first as leader, all in the ISR.
func (c *testCluster) createTopic(name string, partitions int, configs map[string]string, brokers ...int32) {
	c.t.Helper()
	ps := make([]cluster.PartitionState, partitions)
	for i := range ps {
		r := make([]int32, len(brokers))
		for j := range r {
			r[j] = brokers[(i+j)%len(brokers)]
		}
		ps[i] = cluster.PartitionState{Replicas: r, Leader: r[0], ISR: slices.Clone(r)}
	}
	c.createTopicStates(name, configs, ps)
}

// createTopicStates creates a topic with the given partition states.
func (c *testCluster) createTopicStates(name string, configs map[string]string, ps []cluster.PartitionState) {
	c.t.Helper()
	n := c.any()
	rev, err := n.store.CreateTopic(testCtx(c.t), cluster.TopicSpec{Name: name, Configs: configs, Partitions: ps})
	if err != nil {
		c.t.Fatal(err)
	}
	for _, n := range c.nodes {
		if err := n.cache.WaitRevision(testCtx(c.t), rev); err != nil {
			c.t.Fatal(err)
		}
	}
}

// describe renders the partitions of a snapshot for failure messages.
func describe(s *cluster.Snapshot) string {
	var b strings.Builder
	fmt.Fprintf(&b, "revision %d, controller %d, brokers", s.Revision, s.ControllerID)
	for _, id := range slices.Sorted(func(yield func(int32) bool) {
		for id := range s.Brokers {
			if !yield(id) {
				return
			}
		}
	}) {
		fmt.Fprintf(&b, " %d", id)
	}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for name := range s.Topics {
			if !yield(name) {
				return
			}
		}
	}) {
		for i, p := range s.Topics[name].Partitions {
			if i < 12 {
				fmt.Fprintf(&b, "\n  %s-%d replicas %v leader %d epoch %d isr %v", name, i, p.Replicas, p.Leader, p.LeaderEpoch, p.ISR)
			}
		}
	}
	return b.String()
}

// recorder is a slog handler that keeps the messages of warnings and
// errors, so tests can check what the controller warned about.
type recorder struct {
	mu   *sync.Mutex
	msgs *[]string
}

func newRecorder() recorder { return recorder{mu: new(sync.Mutex), msgs: new([]string)} }

func (r recorder) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (r recorder) Handle(_ context.Context, rec slog.Record) error {
	line := rec.Message
	rec.Attrs(func(a slog.Attr) bool {
		line += " " + a.String()
		return true
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	*r.msgs = append(*r.msgs, line)
	return nil
}
func (r recorder) WithAttrs(as []slog.Attr) slog.Handler { return r } // attrs of With are not needed
func (r recorder) WithGroup(string) slog.Handler         { return r }

// find returns the recorded messages that contain all of words.
func (r recorder) find(words ...string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range *r.msgs {
		all := true
		for _, w := range words {
			all = all && strings.Contains(m, w)
		}
		if all {
			out = append(out, m)
		}
	}
	return out
}

// wait waits until a recorded message contains all of words, and returns
// the messages that do.
func (r recorder) wait(t *testing.T, words ...string) []string {
	t.Helper()
	ctx := testCtx(t)
	for {
		if found := r.find(words...); len(found) > 0 {
			return found
		}
		select {
		case <-time.After(5 * time.Millisecond):
		case <-ctx.Done():
			t.Fatalf("no warning with %q; got %q", words, r.find())
		}
	}
}
