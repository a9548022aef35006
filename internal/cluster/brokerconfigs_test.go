package cluster_test

import (
	"errors"
	"maps"
	"testing"

	"github.com/spotstream/spotstream/internal/cluster"
	"github.com/spotstream/spotstream/internal/cluster/clustertest"
)

// TestBrokerConfigs: dynamic broker configs are stored per broker and
// cluster-wide, reach snapshots through the watch and through a full load,
// and disappear with their last key.
func TestBrokerConfigs(t *testing.T) {
	s := clustertest.Store(t)
	ctx := testCtx(t)
	watching := runCache(t, s)

	rev, err := s.SetBrokerConfigs(ctx, cluster.ClusterDefault, map[string]string{"min.insync.replicas": "2"})
	if err != nil || rev == 0 {
		t.Fatalf("SetBrokerConfigs(default) = %d, %v", rev, err)
	}
	if _, err := s.SetBrokerConfigs(ctx, 3, map[string]string{"unclean.leader.election.enable": "true"}); err != nil {
		t.Fatal(err)
	}
	rev, err = s.UpdateBrokerConfigs(ctx, 3, func(m map[string]string) error {
		if m["unclean.leader.election.enable"] != "true" {
			t.Errorf("fn sees %v; want the stored configs", m)
		}
		m["message.max.bytes"] = "2048"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if v := getJSON(t, s, "configs/brokers/default"); v["configs"].(map[string]any)["min.insync.replicas"] != "2" {
		t.Errorf("configs/brokers/default = %v", v)
	}

	wantDefault := map[string]string{"min.insync.replicas": "2"}
	want3 := map[string]string{"unclean.leader.election.enable": "true", "message.max.bytes": "2048"}
	loaded := runCache(t, s) // a full load, where watching applied events
	for name, c := range map[string]*cluster.Cache{"watch": watching, "load": loaded} {
		if err := c.WaitRevision(ctx, rev); err != nil {
			t.Fatal(err)
		}
		snap := c.Load()
		if got := snap.BrokerConfigs(cluster.ClusterDefault); !maps.Equal(got, wantDefault) {
			t.Errorf("%s: default configs %v; want %v", name, got, wantDefault)
		}
		if got := snap.BrokerConfigs(3); !maps.Equal(got, want3) {
			t.Errorf("%s: broker 3 configs %v; want %v", name, got, want3)
		}
		if got := snap.BrokerConfigs(1); got == nil || len(got) != 0 {
			t.Errorf("%s: broker 1 configs %v; want empty", name, got)
		}
	}

	// An empty result deletes the key; deleting nothing writes nothing.
	rev, err = s.SetBrokerConfigs(ctx, 3, nil)
	if err != nil || rev == 0 {
		t.Fatalf("clearing broker 3: %d, %v", rev, err)
	}
	if n := countKeys(t, s, "configs/brokers/3"); n != 0 {
		t.Errorf("configs/brokers/3 still exists")
	}
	if err := watching.WaitRevision(ctx, rev); err != nil {
		t.Fatal(err)
	}
	if _, ok := watching.Load().DynamicBrokerConfigs[3]; ok {
		t.Errorf("broker 3 configs still in the snapshot")
	}
	if rev, err := s.SetBrokerConfigs(ctx, 3, map[string]string{}); err != nil || rev != 0 {
		t.Errorf("clearing nothing = %d, %v; want 0, nil", rev, err)
	}

	// fn's error aborts the update and comes back as is.
	errStop := errors.New("stop")
	if _, err := s.UpdateBrokerConfigs(ctx, cluster.ClusterDefault, func(m map[string]string) error {
		m["min.insync.replicas"] = "3"
		return errStop
	}); err != errStop {
		t.Errorf("UpdateBrokerConfigs with failing fn: %v", err)
	}
	if v := getJSON(t, s, "configs/brokers/default"); v["configs"].(map[string]any)["min.insync.replicas"] != "2" {
		t.Errorf("aborted update was written: %v", v)
	}
	if _, err := s.SetBrokerConfigs(ctx, -2, nil); err == nil {
		t.Errorf("SetBrokerConfigs(-2) succeeded")
	}
}

// TestBrokerConfigsMalformed: a value this version cannot decode is
// ignored (and logged), never fatal to the cache.
func TestBrokerConfigsMalformed(t *testing.T) {
	s := clustertest.Store(t)
	ctx := testCtx(t)
	c := runCache(t, s)
	for _, key := range []string{"configs/brokers/4", "configs/brokers/default", "configs/brokers/04"} {
		resp, err := s.Client().Put(ctx, "/"+s.Namespace()+"/"+key, "not json")
		if err != nil {
			t.Fatal(err)
		}
		if err := c.WaitRevision(ctx, resp.Header.Revision); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.Load().DynamicBrokerConfigs; len(got) != 0 {
		t.Errorf("malformed values in the snapshot: %v", got)
	}
	// Updates refuse to build on a value they cannot read.
	if _, err := s.SetBrokerConfigs(ctx, 4, map[string]string{"min.insync.replicas": "1"}); !errors.Is(err, cluster.ErrMalformed) {
		t.Errorf("SetBrokerConfigs over a malformed value: %v; want ErrMalformed", err)
	}
}
