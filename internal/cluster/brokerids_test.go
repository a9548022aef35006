package cluster_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/spotstream/spotstream/internal/cluster"
	"github.com/spotstream/spotstream/internal/cluster/clustertest"
)

// registerReg registers reg on s and closes the session with the test.
func registerReg(t *testing.T, s *cluster.Store, reg cluster.Registration) *cluster.Session {
	t.Helper()
	sess, err := s.Register(testCtx(t), reg, ttl, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close(context.Background()) })
	return sess
}

// idRecord reads broker-ids/<id> of s's namespace.
func idRecord(t *testing.T, s *cluster.Store, id string) (rack string, dirs []string, ok bool) {
	t.Helper()
	resp, err := s.Client().Get(testCtx(t), "/"+s.Namespace()+"/broker-ids/"+id)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) == 0 {
		return "", nil, false
	}
	if resp.Kvs[0].Lease != 0 {
		t.Errorf("broker-ids/%s is bound to lease %x; want it to outlive the broker", id, resp.Kvs[0].Lease)
	}
	var v struct {
		Rack        *string  `json:"rack"`
		Directories []string `json:"directories"`
	}
	if err := json.Unmarshal(resp.Kvs[0].Value, &v); err != nil || v.Rack == nil || v.Directories == nil {
		t.Fatalf("broker-ids/%s = %s (%v): want rack and directories", id, resp.Kvs[0].Value, err)
	}
	return *v.Rack, v.Directories, true
}

// TestRegisterClaimOrder: a broker without broker.id reuses the lowest dead
// claimed id of its rack, else takes the lowest id above the reserved
// maximum that was never held; configured ids are never claimed.
func TestRegisterClaimOrder(t *testing.T) {
	type step struct {
		id    int32
		rack  string
		leave bool // close the session once every step registered: the broker is gone, its history stays
	}
	tests := []struct {
		name  string
		max   int32 // reserved.broker.max.id; 0 means the default
		steps []step
		rack  string
		want  int32
	}{
		{name: "first claim", rack: "a", want: 1001},
		{name: "live ids are skipped", steps: []step{{-1, "a", false}, {-1, "a", false}}, rack: "a", want: 1003},
		{name: "dead broker of the same rack", steps: []step{{-1, "a", true}, {-1, "b", true}}, rack: "b", want: 1002},
		{name: "lowest dead id of the rack", steps: []step{{-1, "a", true}, {-1, "a", true}, {-1, "a", false}}, rack: "a", want: 1001},
		{name: "another rack gets a new id", steps: []step{{-1, "a", true}, {-1, "b", true}}, rack: "c", want: 1003},
		{name: "empty rack matches empty rack", steps: []step{{-1, "a", true}, {-1, "", true}}, rack: "", want: 1002},
		{name: "configured ids are never claimed", steps: []step{{0, "a", true}, {5, "a", false}, {1000, "a", true}}, rack: "a", want: 1001},
		{name: "smaller reserved maximum", max: 10, steps: []step{{3, "a", false}, {-1, "a", false}}, rack: "a", want: 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []cluster.Option
			if tt.max != 0 {
				opts = append(opts, cluster.WithReservedBrokerMaxID(tt.max))
			}
			s := connect(t, clustertest.Etcd(t), clustertest.Namespace(t), opts...)
			var leaving []*cluster.Session
			for i, st := range tt.steps {
				sess := registerReg(t, s, cluster.Registration{ID: st.id, Rack: st.rack, Directories: []string{cluster.FormatID(cluster.NewID())}})
				if st.id >= 0 && sess.ID() != st.id {
					t.Fatalf("step %d: configured id %d registered as %d", i, st.id, sess.ID())
				}
				if st.leave {
					leaving = append(leaving, sess)
				}
			}
			for _, sess := range leaving {
				if err := sess.Close(testCtx(t)); err != nil {
					t.Fatal(err)
				}
			}
			dirs := []string{cluster.FormatID(cluster.NewID()), cluster.FormatID(cluster.NewID())}
			sess := registerReg(t, s, cluster.Registration{ID: -1, Rack: tt.rack, Directories: dirs})
			if sess.ID() != tt.want {
				t.Fatalf("claimed %d, want %d", sess.ID(), tt.want)
			}
			// The history now names this broker, and outlives it.
			if err := sess.Close(testCtx(t)); err != nil {
				t.Fatal(err)
			}
			rack, got, ok := idRecord(t, s, itoa(tt.want))
			if !ok || rack != tt.rack || !slices.Equal(got, dirs) {
				t.Fatalf("broker-ids/%d after the broker left: %q %v %v; want %q %v", tt.want, rack, got, ok, tt.rack, dirs)
			}
		})
	}
}

// TestRegisterClaimsConcurrently: brokers of one rack claiming at once get
// distinct ids, and exactly one of them reuses the rack's dead id.
func TestRegisterClaimsConcurrently(t *testing.T) {
	s := clustertest.Store(t)
	dead := registerReg(t, s, cluster.Registration{ID: -1, Rack: "a"})
	if err := dead.Close(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	registerReg(t, s, cluster.Registration{ID: 1, Rack: "a"})

	ids := make([]int32, 4)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			st := connect(t, clustertest.Etcd(t), s.Namespace())
			sess, err := st.Register(testCtx(t), cluster.Registration{ID: -1, Rack: "a"}, ttl, 0)
			if err != nil {
				t.Error(err)
				return
			}
			t.Cleanup(func() { sess.Close(context.Background()) })
			ids[i] = sess.ID()
		})
	}
	wg.Wait()
	slices.Sort(ids)
	if want := []int32{1001, 1002, 1003, 1004}; !slices.Equal(ids, want) {
		t.Fatalf("claimed ids %v, want %v", ids, want)
	}
}

// TestRegisterHeldID: an id held by another live lease fails at once. When
// the holder's log directories and ours are known and disjoint, the holder
// is another broker (ErrBrokerIDConflict, naming its address and
// directories); otherwise it may be this broker's earlier process, whose
// registration the caller may wait out (ErrBrokerIDInUse).
func TestRegisterHeldID(t *testing.T) {
	tests := []struct {
		name        string
		id          int32
		holder, our []string
		want        error
	}{
		{name: "other directories", id: 7, holder: []string{"d1"}, our: []string{"d2"}, want: cluster.ErrBrokerIDConflict},
		{name: "claimed id from meta.properties, other directories", id: 1001, holder: []string{"d1", "d2"}, our: []string{"d3"}, want: cluster.ErrBrokerIDConflict},
		{name: "shared directory", id: 7, holder: []string{"d1", "d2"}, our: []string{"d2", "d3"}, want: cluster.ErrBrokerIDInUse},
		{name: "holder recorded none", id: 7, holder: nil, our: []string{"d1"}, want: cluster.ErrBrokerIDInUse},
		{name: "we have none", id: 7, holder: []string{"d1"}, our: nil, want: cluster.ErrBrokerIDInUse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := clustertest.Namespace(t)
			holderStore := connect(t, clustertest.Etcd(t), ns)
			holder := registerReg(t, holderStore, cluster.Registration{ID: tt.id, Host: "10.0.0.7", Port: 9092, Rack: "a", Directories: tt.holder})
			s := connect(t, clustertest.Etcd(t), ns)
			_, err := s.Register(testCtx(t), cluster.Registration{ID: tt.id, Host: "10.0.0.8", Port: 9092, Rack: "b", Directories: tt.our}, ttl, 0)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Register: %v; want %v", err, tt.want)
			}
			if tt.want == cluster.ErrBrokerIDConflict {
				if errors.Is(err, cluster.ErrBrokerIDInUse) {
					t.Errorf("a conflict is also ErrBrokerIDInUse, which callers wait out: %v", err)
				}
				for _, s := range append([]string{"10.0.0.7:9092"}, tt.holder...) {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not name %s", err, s)
					}
				}
			}
			// The holder keeps its registration and its history record.
			if resp, err := brokerKey(t, s, itoa(tt.id)); err != nil || len(resp.Kvs) != 1 || resp.Kvs[0].Lease != int64(holder.Lease()) {
				t.Fatalf("registration of %d after the refused one: %v, %v", tt.id, resp, err)
			}
			if rack, _, _ := idRecord(t, s, itoa(tt.id)); rack != "a" {
				t.Fatalf("broker-ids/%d names rack %q after the refused registration; want the holder's, a", tt.id, rack)
			}
		})
	}
}

func itoa(id int32) string { return strconv.Itoa(int(id)) }
