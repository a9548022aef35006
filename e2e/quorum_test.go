package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestQuorumFollowsTheFleet runs the embedded-quorum layout under
// continuous acks=all production and replaces, one after the other, two
// of the three brokers that host the etcd members, each SIGKILLed and
// brought back as a new instance on an empty disk with the original
// configuration. The controller removes each dead member once its grace
// has passed and adds a member on the replacement, which joins as a
// learner and is promoted. The cluster ends with three healthy members,
// and no acknowledged record is lost or failed on the way.
func TestQuorumFollowsTheFleet(t *testing.T) {
	// A session that outlasts an etcd leader election (see
	// TestQuorumClusterSurvivesMemberLoss), and a short grace.
	c := startQuorumCluster(t, 4, "broker.session.timeout.ms=6000", "broker.heartbeat.interval.ms=1000",
		"coordinator.quorum.replace.grace.ms=2000")
	addr := c.brokers[3].Addr()
	c.waitBrokers(addr, 0, 1, 2, 3)
	etcd := quorumClient(t, strings.Split(c.endpoints, ","))
	waitQuorum(t, etcd, 3)
	run := startFailoverRun(t, c, topicName(t), 3)

	for _, victim := range []int{0, 1} {
		waitFor(t, 30*time.Second, "acknowledgements", func() bool { return run.ackedCount() >= 1_000*(victim+1) })
		before := members(t, etcd)
		c.brokers[victim].kill()
		// A replacement instance comes up once the old one is gone.
		c.waitBrokers(addr, without(int32(victim), 0, 1, 2, 3)...)
		c.brokers[victim] = c.brokers[victim].onFreshDisk()
		replaced := time.Now()
		c.waitBrokers(addr, 0, 1, 2, 3)
		after := waitQuorum(t, etcd, 3)
		t.Logf("three healthy voters %v after the replacement broker served", time.Since(replaced).Round(100*time.Millisecond))
		if len(intersect(before, after)) != 2 {
			t.Logf("replacement's output:\n%s", c.brokers[victim].Output())
			t.Fatalf("members before %v, after %v: want the dead broker's member replaced by a new one", before, after)
		}
		t.Logf("broker %d replaced: members %v", victim, after)
	}
	acked := run.ackedCount()
	waitFor(t, 30*time.Second, "acknowledgements after the replacements", func() bool { return run.ackedCount() >= acked+500 })
	run.finish(addr)

	// The operator's view: three voters on brokers 0, 1 and 2, all up,
	// one of them leading.
	q := quorumStatus(t, addr)
	var hosts []int32
	for _, m := range q.Members {
		if m.Role != "voter" || m.State != "up" {
			t.Errorf("member %+v, want an up voter", m)
		}
		hosts = append(hosts, m.Broker)
	}
	if slices.Sort(hosts); !slices.Equal(hosts, []int32{0, 1, 2}) || q.Down != 0 || !slices.Contains(hosts, q.Leader) {
		t.Errorf("cluster status quorum %+v, want voters on brokers 0, 1, 2, none down, a leader among them", q)
	}
}

// quorumJSON is the quorum part of `spotstream cluster status --json`.
type quorumJSON struct {
	Leader  int32              `json:"leader"`
	Down    int                `json:"down"`
	Members []quorumMemberJSON `json:"members"`
}

type quorumMemberJSON struct {
	Broker int32  `json:"broker"`
	Role   string `json:"role"`
	State  string `json:"state"`
}

// quorumStatus runs `spotstream cluster status --json` against addr and
// returns its quorum.
func quorumStatus(t *testing.T, addr string) quorumJSON {
	t.Helper()
	cmd := exec.Command(spotstreamBinary(t), "cluster", "status", "--json", "--bootstrap-server", addr)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("spotstream cluster status: %v\n%s%s", err, out, stderr.String())
	}
	var st struct {
		Quorum *quorumJSON `json:"quorum"`
	}
	if err := json.Unmarshal(out, &st); err != nil || st.Quorum == nil {
		t.Fatalf("cluster status without a quorum (%v): %s%s", err, out, stderr.String())
	}
	return *st.Quorum
}

// onFreshDisk starts a new broker with p's configuration and port on an
// empty data directory, as a replacement instance comes up; p must be
// dead. It returns once the new broker serves.
func (p *process) onFreshDisk() *process {
	p.t.Helper()
	q := &process{t: p.t, binary: p.binary, dataDir: p.t.TempDir(), port: p.port, args: slices.Clone(p.args)}
	for i, a := range q.args {
		if strings.HasPrefix(a, "log.dirs=") {
			q.args[i] = "log.dirs=" + q.dataDir
		}
	}
	q.launch()
	p.t.Cleanup(func() { q.kill() })
	q.waitReady()
	return q
}

func quorumClient(t *testing.T, endpoints []string) *clientv3.Client {
	t.Helper()
	// No AutoSync: etcd's client races between it and Status on one
	// endpoint. The endpoints keep their URLs across replacements here.
	cl, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// members returns the ids of the cluster's members.
func members(t *testing.T, cl *clientv3.Client) []uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cl.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []uint64
	for _, m := range resp.Members {
		ids = append(ids, m.ID)
	}
	return ids
}

// waitQuorum waits until the cluster has n voting members, all started,
// each answering a status request on its client URL with the same
// leader, and returns their ids.
func waitQuorum(t *testing.T, cl *clientv3.Client, n int) []uint64 {
	t.Helper()
	var last string
	deadline := time.Now().Add(90 * time.Second)
	for {
		ids, state := quorumState(cl)
		if len(ids) == n {
			return ids
		}
		if state != last {
			t.Logf("quorum: %s", state)
			last = state
		}
		if time.Now().After(deadline) {
			t.Fatalf("no healthy quorum of %d members after 90s; last: %s", n, state)
		}
		time.Sleep(200 * time.Millisecond) // poll interval
	}
}

// quorumState returns the members' ids when every member is a started
// voter whose status names one common leader, and a description of what
// it saw.
func quorumState(cl *clientv3.Client) ([]uint64, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cl.MemberList(ctx)
	if err != nil {
		return nil, "member list: " + err.Error()
	}
	var ids []uint64
	var desc []string
	leaders := map[uint64]bool{}
	healthy := true
	for _, m := range resp.Members {
		ids = append(ids, m.ID)
		d := m.Name
		switch {
		case m.IsLearner:
			d += "(learner)"
			healthy = false
		case m.Name == "" || len(m.ClientURLs) == 0:
			d += "(not started)"
			healthy = false
		default:
			// The member that answers must be this one: a replacement
			// may serve on the same URL.
			st, err := cl.Status(ctx, m.ClientURLs[0])
			if err != nil || st.Header.MemberId != m.ID {
				d += "(down)"
				healthy = false
			} else {
				leaders[st.Leader] = true
			}
		}
		desc = append(desc, d)
	}
	if !healthy || len(leaders) != 1 {
		ids = nil
	}
	return ids, strings.Join(desc, " ")
}

// without returns ids without id.
func without(id int32, ids ...int32) []int32 {
	return slices.DeleteFunc(ids, func(x int32) bool { return x == id })
}

func intersect(a, b []uint64) []uint64 {
	var out []uint64
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// TestQuorumMovesToOnDemand starts the three members on spot brokers and
// then adds an on-demand broker that can host a member: the controller
// moves a member there (a learner added and promoted, then a spot member
// removed), and the broker whose member was removed goes on serving as a
// client of the quorum.
func TestQuorumMovesToOnDemand(t *testing.T) {
	c := startQuorumCluster(t, 3, "broker.capacity=spot", "broker.session.timeout.ms=6000", "broker.heartbeat.interval.ms=1000")
	addr := c.brokers[0].Addr()
	c.waitBrokers(addr, 0, 1, 2)
	ports := freePorts(t, 2)
	c.add("broker.id=3", "broker.capacity=on-demand",
		fmt.Sprintf("coordinator.listen.peer.urls=http://127.0.0.1:%d", ports[0]),
		fmt.Sprintf("coordinator.listen.client.urls=http://127.0.0.1:%d", ports[1]))
	c.waitBrokers(addr, 0, 1, 2, 3)

	var q quorumJSON
	waitFor(t, 60*time.Second, "a voter on the on-demand broker, and three voters in all", func() bool {
		q = quorumStatus(t, addr)
		var hosts []int32
		for _, m := range q.Members {
			if m.Role == "voter" && m.State == "up" {
				hosts = append(hosts, m.Broker)
			}
		}
		return len(q.Members) == 3 && len(hosts) == 3 && slices.Contains(hosts, 3)
	})
	// The spot broker that lost its member still serves.
	c.waitBrokers(addr, 0, 1, 2, 3)
	var moved int
	for i := range 3 {
		if !slices.ContainsFunc(q.Members, func(m quorumMemberJSON) bool { return m.Broker == int32(i) }) {
			moved = i
		}
	}
	waitFor(t, 30*time.Second, "the removed member's broker to go on as a client", func() bool {
		return strings.Contains(c.brokers[moved].Output(), "removed from the quorum")
	})
	createTopic(t, c.brokers[moved].Addr(), topicName(t), 3, nil)
}
