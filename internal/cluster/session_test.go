package cluster_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/spotstream/spotstream/internal/cluster"
	"github.com/spotstream/spotstream/internal/cluster/clustertest"
	clientv3 "go.etcd.io/etcd/client/v3"
)

const ttl = 30 * time.Second // long: tests end sessions on purpose, never by waiting

func register(t *testing.T, s *cluster.Store, id int32, prev clientv3.LeaseID) *cluster.Session {
	t.Helper()
	sess, err := s.Register(testCtx(t), cluster.Registration{ID: id, Host: "localhost", Port: 9092, Rack: "a", Capacity: "spot"}, ttl, prev)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close(context.Background()) })
	return sess
}

func brokerKey(t *testing.T, s *cluster.Store, id string) (*clientv3.GetResponse, error) {
	return s.Client().Get(testCtx(t), "/"+s.Namespace()+"/brokers/"+id)
}

func TestRegisterFixedID(t *testing.T) {
	s := clustertest.Store(t)
	ctx := testCtx(t)
	sess := register(t, s, 5, 0)
	if sess.ID() != 5 || sess.Info().State != cluster.StateStarting || sess.Info().Incarnation == "" {
		t.Fatalf("session %d, info %+v", sess.ID(), sess.Info())
	}
	resp, err := brokerKey(t, s, "5")
	if err != nil || len(resp.Kvs) != 1 || clientv3.LeaseID(resp.Kvs[0].Lease) != sess.Lease() {
		t.Fatalf("registration %v, %v: want a key under lease %x", resp, err, sess.Lease())
	}

	// A second broker with the same id is refused while the first lives.
	s2 := connect(t, clustertest.Etcd(t), s.Namespace())
	_, err = s2.Register(ctx, cluster.Registration{ID: 5}, ttl, 0)
	if !errors.Is(err, cluster.ErrBrokerIDInUse) {
		t.Fatalf("second registration of 5: %v; want ErrBrokerIDInUse", err)
	}

	if _, err := sess.SetState(ctx, cluster.StateRunning); err != nil {
		t.Fatal(err)
	}
	if sess.Info().State != cluster.StateRunning {
		t.Fatalf("state %s after SetState(running)", sess.Info().State)
	}

	// A clean shutdown removes the registration at once.
	if err := sess.Close(ctx); err != nil {
		t.Fatal(err)
	}
	<-sess.Done()
	if !errors.Is(sess.Err(), cluster.ErrSessionClosed) {
		t.Fatalf("Err after Close = %v", sess.Err())
	}
	if resp, err := brokerKey(t, s, "5"); err != nil || len(resp.Kvs) != 0 {
		t.Fatalf("registration after Close: %v, %v", resp, err)
	}
	sess2 := register(t, s2, 5, 0)
	if sess2.Info().Epoch <= sess.Info().Epoch {
		t.Fatalf("epoch of the new registration %d, not above the old one's %d", sess2.Info().Epoch, sess.Info().Epoch)
	}
}

// TestRegisterAdoptsPreviousLease: a broker killed without a clean shutdown
// leaves its registration behind until the lease expires. Restarted with
// the lease from meta.properties, it adopts it instead of waiting.
func TestRegisterAdoptsPreviousLease(t *testing.T) {
	ns := clustertest.Namespace(t)
	ctx := testCtx(t)
	killed := connect(t, clustertest.Etcd(t), ns)
	old := register(t, killed, 7, 0)
	auto := register(t, killed, -1, 0)
	// "SIGKILL": the client goes away without revoking anything.
	killed.Close()
	<-old.Done()
	if !errors.Is(old.Err(), cluster.ErrSessionLost) {
		t.Fatalf("session of a closed client: Err = %v; want ErrSessionLost", old.Err())
	}
	if resp, err := brokerKey(t, connect(t, clustertest.Etcd(t), ns), "7"); err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("registration of the killed broker: %v, %v: want it still there", resp, err)
	}

	s := connect(t, clustertest.Etcd(t), ns)
	if _, err := s.Register(ctx, cluster.Registration{ID: 7}, ttl, 0); !errors.Is(err, cluster.ErrBrokerIDInUse) {
		t.Fatalf("restart without the lease: %v; want ErrBrokerIDInUse", err)
	}
	sess := register(t, s, 7, old.Lease())
	if sess.Lease() != old.Lease() || sess.Info().Incarnation == old.Info().Incarnation || sess.Info().Epoch <= old.Info().Epoch {
		t.Fatalf("restart: lease %x (old %x), incarnation %s (old %s), epoch %d (old %d)",
			sess.Lease(), old.Lease(), sess.Info().Incarnation, old.Info().Incarnation, sess.Info().Epoch, old.Info().Epoch)
	}
	// Without broker.id, adopting the lease keeps the id claimed under it.
	if again := register(t, s, -1, auto.Lease()); again.ID() != auto.ID() {
		t.Fatalf("auto id after restart = %d; want %d", again.ID(), auto.ID())
	}
	// A lease that has expired (here: revoked) is not adopted.
	if _, err := s.Client().Revoke(ctx, sess.Lease()); err != nil {
		t.Fatal(err)
	}
	if fresh := register(t, s, 7, sess.Lease()); fresh.Lease() == sess.Lease() {
		t.Fatal("adopted a revoked lease")
	}
}

// TestSessionLost: when the lease goes away (expired, or revoked by an
// operator), Done is closed and the session can no longer write.
func TestSessionLost(t *testing.T) {
	s := clustertest.Store(t)
	ctx := testCtx(t)
	sess := register(t, s, 3, 0)
	if sess.Err() != nil {
		t.Fatal(sess.Err())
	}
	if _, err := s.Client().Revoke(ctx, sess.Lease()); err != nil {
		t.Fatal(err)
	}
	<-sess.Done()
	if !errors.Is(sess.Err(), cluster.ErrSessionLost) {
		t.Fatalf("Err = %v; want ErrSessionLost", sess.Err())
	}
	if _, err := sess.SetState(ctx, cluster.StateDraining); !errors.Is(err, cluster.ErrSessionLost) {
		t.Fatalf("SetState after loss: %v; want ErrSessionLost", err)
	}
	if err := sess.Close(ctx); err != nil {
		t.Fatalf("Close of a lost session: %v", err)
	}
}

// TestSessionFencedWhenCutOff: a broker cut off from etcd gives up its
// session before its lease can expire on the etcd side.
func TestSessionFencedWhenCutOff(t *testing.T) {
	member := newMember(t, t.TempDir())
	s := connect(t, member.Endpoints(), "fence")
	const ttl = time.Second // the shortest etcd grants
	sess, err := s.Register(testCtx(t), cluster.Registration{ID: 0}, ttl, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Closing the member may take seconds, and it renews leases while it
	// drains: the cut is complete only once Close returns. From then on no
	// renewal can arrive, so the session must end within the TTL, which is
	// before etcd (were it still running) could expire the lease.
	member.Close()
	cut := time.Now()
	<-sess.Done()
	if took := time.Since(cut); took >= ttl || !errors.Is(sess.Err(), cluster.ErrSessionLost) {
		t.Fatalf("session ended %v after the member stopped (lease TTL %v): %v", took, ttl, sess.Err())
	}
}

func TestRegisterInvalid(t *testing.T) {
	s := clustertest.Store(t)
	for _, reg := range []cluster.Registration{{ID: -2}, {ID: 1, State: "gone"}} {
		if _, err := s.Register(testCtx(t), reg, ttl, 0); err == nil {
			t.Errorf("Register(%+v) succeeded", reg)
		}
	}
}
