package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/spotstream/spotstream/internal/cloud/cloudtest"
	"github.com/spotstream/spotstream/internal/cluster"
	"github.com/spotstream/spotstream/internal/cluster/clustertest"
)

// TestCloudIdentity runs brokers with cloud.provider=aws against fake
// instance metadata services (IMDSv2) on loopback: a broker without
// broker.rack and broker.capacity registers the zone and life cycle the
// service names; an explicit broker.rack wins; and a broker whose
// metadata service fails starts anyway, without them, saying so.
func TestCloudIdentity(t *testing.T) {
	spot := cloudtest.NewServer("us-east-1b", "spot")
	defer spot.Close()
	onDemand := cloudtest.NewServer("us-east-1c", "on-demand")
	defer onDemand.Close()
	down := cloudtest.NewServer("us-east-1a", "spot")
	defer down.Close()
	down.SetFailing(true)

	c := newCluster(t, "cloud.provider=aws")
	c.add("broker.id=0", "cloud.metadata.endpoint="+spot.URL())
	c.add("broker.id=1", "cloud.metadata.endpoint="+onDemand.URL(), "broker.rack=rack-x")
	failing := c.add("broker.id=2", "cloud.metadata.endpoint="+down.URL())

	want := map[int32]cluster.Registration{
		0: {Rack: "us-east-1b", Capacity: "spot"},
		1: {Rack: "rack-x", Capacity: "on-demand"},
		2: {},
	}
	store, err := cluster.Connect(context.Background(), clustertest.Etcd(t), c.namespace)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for id, w := range want {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := store.Client().Get(ctx, "/"+c.namespace+"/brokers/"+itoa(id))
		cancel()
		if err != nil || len(resp.Kvs) != 1 {
			t.Fatalf("registration of broker %d: %v", id, err)
		}
		var got cluster.BrokerInfo
		if err := json.Unmarshal(resp.Kvs[0].Value, &got); err != nil {
			t.Fatal(err)
		}
		if got.Rack != w.Rack || got.Capacity != w.Capacity {
			t.Errorf("broker %d registered rack %q capacity %q, want %q %q", id, got.Rack, got.Capacity, w.Rack, w.Capacity)
		}
	}
	if !strings.Contains(failing.Output(), "no zone or capacity from the instance metadata service") {
		t.Errorf("the broker whose metadata service fails does not say so:\n%s", failing.Output())
	}
	if spot.TokenlessGets() != 0 {
		t.Errorf("%d metadata requests without an IMDSv2 token", spot.TokenlessGets())
	}
}
