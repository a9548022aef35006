package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Environment variables of TestFourBrokerQuorumStartOrders.
const (
	// startOrderSeedEnv replays the start orders of an earlier run: its
	// seed is in that run's log.
	startOrderSeedEnv = "SPOTSTREAM_START_ORDER_SEED"
	// allStartOrdersEnv, when set, runs all 24 orders instead of a sample.
	allStartOrdersEnv = "SPOTSTREAM_ALL_START_ORDERS"
)

// TestFourBrokerQuorumStartOrders runs docs/configuration.md's "local
// cluster of four brokers whose first three each embed a member" as four
// `spotstream serve` processes (free ports instead of the fixed ones),
// each started right after the previous one without waiting for it to
// serve, in a random sample of the 24 start orders. Whatever the order,
// the members form their quorum, the fourth broker waits for it, and the
// cluster ends with four brokers (0, 1 and 2 configured, the fourth
// claiming 1001) and three healthy etcd members.
func TestFourBrokerQuorumStartOrders(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(startOrderSeedEnv); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("%s=%q: %v", startOrderSeedEnv, s, err)
		}
	}
	orders := permutations([]int{0, 1, 2, 3})
	rand.New(rand.NewPCG(seed, seed)).Shuffle(len(orders), func(i, j int) { orders[i], orders[j] = orders[j], orders[i] })
	if os.Getenv(allStartOrdersEnv) == "" {
		orders = orders[:3]
	}
	t.Logf("start orders %v from seed %d (replay with %s=%d; %s=1 runs all 24)",
		orders, seed, startOrderSeedEnv, seed, allStartOrdersEnv)
	for _, order := range orders {
		t.Run(strings.Trim(strings.ReplaceAll(fmt.Sprint(order), " ", "-"), "[]"), func(t *testing.T) {
			startFourBrokers(t, order)
		})
	}
}

// startFourBrokers starts the documented four-broker cluster in order
// (broker indexes, 3 being the client of the quorum) and checks that it
// comes up whole.
func startFourBrokers(t *testing.T, order []int) {
	start := time.Now()
	ports := freePorts(t, 10) // 3 peer, 3 client, 4 Kafka
	var ic, clients []string
	for i := range 3 {
		ic = append(ic, fmt.Sprintf("m%d=http://127.0.0.1:%d", i, ports[i]))
		clients = append(clients, fmt.Sprintf("http://127.0.0.1:%d", ports[3+i]))
	}
	// The commands of docs/configuration.md, one per broker.
	args := func(i int) []string {
		if i == 3 {
			return []string{"coordinator.endpoints=" + strings.Join(clients, ",")}
		}
		return []string{
			fmt.Sprintf("broker.id=%d", i),
			fmt.Sprintf("coordinator.name=m%d", i),
			"coordinator.initial.cluster=" + strings.Join(ic, ","),
			"coordinator.listen.client.urls=" + clients[i],
		}
	}
	brokers := make([]*process, 4)
	for _, i := range order {
		brokers[i] = launchProcessOn(t, ports[6+i], args(i)...)
	}
	for _, p := range brokers {
		p.waitReady()
	}
	for i, p := range brokers {
		waitFor(t, 30*time.Second, fmt.Sprintf("broker %d to list four brokers", i), func() bool {
			return slices.Equal(brokerIDs(p.Addr()), []int32{0, 1, 2, 1001})
		})
	}
	checkQuorum(t, clients)
	t.Logf("order %v: four brokers and three healthy etcd members %v after the first start", order, time.Since(start).Round(time.Millisecond))
}

// brokerIDs returns the broker ids of addr's Metadata, sorted, or nil when
// it does not answer in time.
func brokerIDs(addr string) []int32 {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RetryTimeout(time.Second))
	if err != nil {
		return nil
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	m, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	if err != nil {
		return nil
	}
	ids := m.Brokers.NodeIDs()
	slices.Sort(ids)
	return ids
}

// checkQuorum checks the etcd cluster behind clients: three members, each
// of which answers Status on its own client URL and agrees on one leader.
func checkQuorum(t *testing.T, clients []string) {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: clients, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	waitFor(t, 30*time.Second, "three healthy etcd members with one leader", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		members, err := cli.MemberList(ctx)
		if err != nil || len(members.Members) != 3 {
			t.Logf("member list: %v, %v", members, err)
			return false
		}
		var leaders []uint64
		for _, url := range clients {
			st, err := cli.Status(ctx, url)
			if err != nil || len(st.Errors) > 0 || st.Leader == 0 {
				t.Logf("status of %s: %v, %v", url, st, err)
				return false
			}
			leaders = append(leaders, st.Leader)
		}
		return leaders[0] == leaders[1] && leaders[1] == leaders[2]
	})
}

// permutations returns every order of xs.
func permutations(xs []int) [][]int {
	if len(xs) <= 1 {
		return [][]int{slices.Clone(xs)}
	}
	var out [][]int
	for i, x := range xs {
		rest := append(slices.Clone(xs[:i]), xs[i+1:]...)
		for _, p := range permutations(rest) {
			out = append(out, append([]int{x}, p...))
		}
	}
	return out
}

// TestQuorumMemberStartupErrorIsLoud: a broker that embeds a member of a
// quorum and fails to start (here: its Kafka port is taken) takes its etcd
// member down with it. It says so at ERROR level, and the other two
// members still serve.
func TestQuorumMemberStartupErrorIsLoud(t *testing.T) {
	ports := freePorts(t, 9) // 3 peer, 3 client, 3 Kafka
	taken, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", ports[8]))
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	var ic, clients []string
	for i := range 3 {
		ic = append(ic, fmt.Sprintf("m%d=http://127.0.0.1:%d", i, ports[i]))
		clients = append(clients, fmt.Sprintf("http://127.0.0.1:%d", ports[3+i]))
	}
	var members []*process
	for i := range 3 {
		members = append(members, launchProcessOn(t, ports[6+i],
			fmt.Sprintf("broker.id=%d", i),
			fmt.Sprintf("coordinator.name=m%d", i),
			"coordinator.initial.cluster="+strings.Join(ic, ","),
			"coordinator.listen.client.urls="+clients[i]))
	}
	if err := members[2].waitExit(30 * time.Second); err == nil {
		t.Fatalf("broker 2 exited with status 0 without its Kafka port\n%s", members[2].Output())
	}
	out := members[2].Output()
	if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "the etcd quorum has one member fewer") {
		t.Fatalf("broker 2 did not report its etcd member's exit at ERROR level:\n%s", out)
	}
	for line := range strings.Lines(out) {
		if strings.Contains(line, "level=ERROR") {
			t.Logf("broker 2: %s", line)
		}
	}
	members[0].waitReady()
	members[1].waitReady()
}
