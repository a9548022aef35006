package group

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// fakeLog is an in-memory Log. Batches commit at once unless hold is set,
// in which case they wait for release; failNext makes the next waits fail.
type fakeLog struct {
	mu        sync.Mutex
	recs      []Record
	batches   []*fakeBatch
	hold      bool
	appendErr error
}

type fakeBatch struct {
	base int64
	recs []Record
	done chan struct{}
	err  error
}

func (b *fakeBatch) wait(ctx context.Context) error {
	select {
	case <-b.done:
		return b.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *fakeLog) Append(recs []Record) (int64, func(context.Context) error, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.appendErr != nil {
		return 0, nil, l.appendErr
	}
	b := &fakeBatch{base: int64(len(l.recs)), recs: recs, done: make(chan struct{})}
	l.recs = append(l.recs, recs...)
	l.batches = append(l.batches, b)
	if !l.hold {
		close(b.done)
	}
	return b.base, b.wait, nil
}

// setHold makes the following batches wait for release.
func (l *fakeLog) setHold(hold bool) {
	l.mu.Lock()
	l.hold = hold
	l.mu.Unlock()
}

// release commits (err nil) or fails every held batch.
func (l *fakeLog) release(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, b := range l.batches {
		select {
		case <-b.done:
		default:
			b.err = err
			close(b.done)
		}
	}
}

// held reports how many batches wait for release.
func (l *fakeLog) held() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, b := range l.batches {
		select {
		case <-b.done:
		default:
			n++
		}
	}
	return n
}

// records returns a copy of everything appended.
func (l *fakeLog) records() []Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Record(nil), l.recs...)
}

// fakeClock is a settable clock for Config.Now.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func testConfig() Config {
	cfg := DefaultConfig()
	cfg.InitialRebalanceDelay = 0
	cfg.MinSessionTimeout = 10 * time.Millisecond
	cfg.MaxSessionTimeout = time.Minute
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return cfg
}

// newTestShard returns a started shard over a fresh fakeLog, closed at the
// end of the test.
func newTestShard(t *testing.T, mod func(*Config)) (*Shard, *fakeLog) {
	t.Helper()
	cfg := testConfig()
	if mod != nil {
		mod(&cfg)
	}
	l := &fakeLog{}
	s := NewShard(0, cfg, l)
	s.Start()
	t.Cleanup(s.Close)
	return s, l
}

// consumerMeta encodes a "consumer" protocol subscription.
func consumerMeta(topics ...string) []byte {
	m := kmsg.NewConsumerMemberMetadata()
	m.Topics = topics
	return m.AppendTo(nil)
}

// joinReq is a dynamic consumer's JoinGroup with generous timeouts.
func joinReq(group, client string, protocols ...string) JoinRequest {
	if len(protocols) == 0 {
		protocols = []string{"range"}
	}
	req := JoinRequest{
		Group: group, ClientID: client, ClientHost: "/127.0.0.1", ProtocolType: "consumer",
		SessionTimeout: 10 * time.Second, RebalanceTimeout: 10 * time.Second,
	}
	for _, p := range protocols {
		req.Protocols = append(req.Protocols, Protocol{Name: p, Metadata: consumerMeta("t1")})
	}
	return req
}

type joinRet struct {
	res JoinResult
	err error
}

// goJoin runs Join in a goroutine.
func goJoin(s *Shard, req JoinRequest) <-chan joinRet {
	ch := make(chan joinRet, 1)
	go func() {
		res, err := s.Join(context.Background(), req)
		ch <- joinRet{res, err}
	}()
	return ch
}

type syncRet struct {
	res SyncResult
	err error
}

func goSync(s *Shard, req SyncRequest) <-chan syncRet {
	ch := make(chan syncRet, 1)
	go func() {
		res, err := s.Sync(context.Background(), req)
		ch <- syncRet{res, err}
	}()
	return ch
}

// recv waits for a value on ch or fails the test.
func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("timed out")
		panic("unreachable")
	}
}

// notYet checks that ch has nothing for a short while.
func notYet[T any](t *testing.T, ch <-chan T) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("unexpected result %+v", v)
	case <-time.After(30 * time.Millisecond):
	}
}

// waitFor polls cond until it holds or fails the test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// stableGroup joins reqs to group as in joinGroup and syncs them, the leader
// assigning "a-<memberID>"; it returns the join results in request order.
func stableGroup(t *testing.T, s *Shard, group string, reqs ...JoinRequest) []JoinResult {
	t.Helper()
	res := joinGroup(t, s, group, reqs...)
	syncAll(t, s, group, res)
	return res
}

// joinGroup brings the members of reqs into one generation without relying
// on timing: each new member's join starts a rebalance that the members
// before it then rejoin. It returns the final join results in request order.
func joinGroup(t *testing.T, s *Shard, group string, reqs ...JoinRequest) []JoinResult {
	t.Helper()
	res := make([]JoinResult, len(reqs))
	for i := range reqs {
		r := reqs[i]
		r.Group = group
		chans := []<-chan joinRet{goJoin(s, r)}
		if i > 0 {
			waitFor(t, "the new member", func() bool {
				d, _ := s.Describe(group)
				return d.State == "PreparingRebalance" && len(d.Members) == i+1
			})
		}
		for j := range i {
			rj := reqs[j]
			rj.Group, rj.MemberID = group, res[j].MemberID
			chans = append(chans, goJoin(s, rj))
		}
		for k, ch := range chans {
			jr := recv(t, ch)
			if jr.err != nil {
				t.Fatalf("join: %v", jr.err)
			}
			idx := i
			if k > 0 {
				idx = k - 1
			}
			res[idx] = jr.res
		}
	}
	for _, r := range res[1:] {
		if r.Generation != res[0].Generation {
			t.Fatalf("members in different generations: %+v", res)
		}
	}
	return res
}

// syncAll syncs the members of a completed join, the leader assigning
// "a-<memberID>" to each.
func syncAll(t *testing.T, s *Shard, group string, res []JoinResult) {
	t.Helper()
	var chans []<-chan syncRet
	for _, r := range res {
		req := SyncRequest{Group: group, MemberID: r.MemberID, Generation: r.Generation}
		if r.Leader == r.MemberID {
			req.Assignments = map[string][]byte{}
			for _, m := range r.Members {
				req.Assignments[m.MemberID] = []byte("a-" + m.MemberID)
			}
		}
		chans = append(chans, goSync(s, req))
	}
	for i, ch := range chans {
		r := recv(t, ch)
		if r.err != nil {
			t.Fatalf("sync of %s: %v", res[i].MemberID, r.err)
		}
		if want := "a-" + res[i].MemberID; string(r.res.Assignment) != want {
			t.Fatalf("assignment of %s = %q, want %q", res[i].MemberID, r.res.Assignment, want)
		}
	}
}

func wantErr(t *testing.T, what string, got, want error) {
	t.Helper()
	if !errors.Is(got, want) {
		t.Fatalf("%s: got error %v, want %v", what, got, want)
	}
}
