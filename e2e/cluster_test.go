package e2e

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/spotstream/spotstream/internal/cluster/clustertest"
)

// testCluster is brokers running as separate processes that coordinate
// through one external etcd (the test binary's clustertest member), the way
// a production cluster with an external etcd runs. Later tests build on it:
// kill, pause and restart brokers, add new ones.
type testCluster struct {
	t         *testing.T
	endpoints string
	namespace string
	overrides []string // for every broker
	brokers   []*process
	// binary builds the brokers' binary: spotstreamBinary unless set.
	binary func(*testing.T) string
}

// startCluster starts n brokers configured with ids 0..n-1 (broker.id=i);
// racks, if given, assigns broker i the rack racks[i%len(racks)].
func startCluster(t *testing.T, n int, racks []string, overrides ...string) *testCluster {
	t.Helper()
	c := newCluster(t, overrides...)
	for i := range n {
		extra := []string{fmt.Sprintf("broker.id=%d", i)}
		if len(racks) > 0 {
			extra = append(extra, "broker.rack="+racks[i%len(racks)])
		}
		c.add(extra...)
	}
	return c
}

// newCluster returns a cluster without brokers, in a namespace of its own
// on the test binary's etcd; add starts them. overrides apply to every
// broker.
func newCluster(t *testing.T, overrides ...string) *testCluster {
	return &testCluster{
		t:         t,
		endpoints: strings.Join(clustertest.Etcd(t), ","),
		namespace: clustertest.Namespace(t),
		overrides: overrides,
	}
}

// add starts one more broker on an empty data directory.
func (c *testCluster) add(overrides ...string) *process {
	c.t.Helper()
	all := append([]string{
		"coordinator.endpoints=" + c.endpoints,
		"coordinator.namespace=" + c.namespace,
	}, c.overrides...)
	binary := c.binary
	if binary == nil {
		binary = spotstreamBinary
	}
	p := launchBinaryOn(c.t, binary, freePort(c.t), append(all, overrides...)...)
	p.waitReady()
	c.brokers = append(c.brokers, p)
	return p
}

// bootstrap returns every broker's address, for client seed lists.
func (c *testCluster) bootstrap() []string {
	var addrs []string
	for _, p := range c.brokers {
		addrs = append(addrs, p.Addr())
	}
	return addrs
}

// pause stops broker i without killing it (SIGSTOP): it holds its sockets
// and files but answers nothing, like a machine that froze.
func (c *testCluster) pause(i int) { c.brokers[i].signal(syscall.SIGSTOP) }

// metadata returns the cluster's metadata as a client sees it, from any
// live broker.
func (c *testCluster) metadata(addr string) kadm.Metadata {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := kadm.NewClient(newClient(c.t, addr)).Metadata(ctx)
	if err != nil {
		c.t.Fatal(err)
	}
	return m
}

// waitBrokers waits until the metadata from addr lists exactly ids.
func (c *testCluster) waitBrokers(addr string, ids ...int32) {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		m := c.metadata(addr)
		got := fmt.Sprint(m.Brokers.NodeIDs())
		if got == fmt.Sprint(ids) {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("brokers %s, want %v", got, ids)
		}
		time.Sleep(50 * time.Millisecond) // poll interval
	}
}

// startQuorumCluster starts n >= 3 brokers, configured with ids 0..n-1, of
// which the first three each embed a member of the cluster's own etcd
// (over loopback TCP), the production layout without an external etcd; the
// others are clients of those three members.
func startQuorumCluster(t *testing.T, n int, overrides ...string) *testCluster {
	t.Helper()
	// The members' ports are bound only as the processes start: take
	// them, and the members' Kafka ports, in one go so none repeats.
	ports := freePorts(t, 9)
	var peers, clients []string
	for i := range 3 {
		peers = append(peers, fmt.Sprintf("m%d=http://127.0.0.1:%d", i, ports[i]))
		clients = append(clients, fmt.Sprintf("http://127.0.0.1:%d", ports[3+i]))
	}
	c := &testCluster{t: t, endpoints: strings.Join(clients, ","), namespace: "spotstream", overrides: overrides}
	for i := range 3 {
		member := append([]string{
			fmt.Sprintf("broker.id=%d", i),
			fmt.Sprintf("coordinator.name=m%d", i),
			"coordinator.initial.cluster=" + strings.Join(peers, ","),
			"coordinator.listen.client.urls=" + clients[i],
		}, overrides...)
		c.brokers = append(c.brokers, launchProcessOn(t, ports[6+i], member...))
	}
	// The members form their quorum together; only then can any serve.
	for _, p := range c.brokers {
		p.waitReady()
	}
	for i := 3; i < n; i++ {
		c.add(fmt.Sprintf("broker.id=%d", i))
	}
	return c
}

// kgoSeeds returns the client option that seeds every broker of c.
func kgoSeeds(c *testCluster) []kgo.Opt { return []kgo.Opt{kgo.SeedBrokers(c.bootstrap()...)} }
