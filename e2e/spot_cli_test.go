package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// runBrokerCmd runs "spotstream broker args..." against addr and returns
// its output and exit status.
func runBrokerCmd(t *testing.T, addr string, args ...string) (string, int) {
	t.Helper()
	return runCmd(t, append(append([]string{"broker"}, args...), "--bootstrap-server", addr, "--timeout", "30s")...)
}

// TestBrokerDrainCommand drains a running broker by hand, the way an
// operator does before taking its machine away: it leads nothing that
// another in-sync replica could lead, yet stays in every ISR; Kafka's
// DescribeConfigs shows the drain; undrain gives it leaderships again
// (the automatic preferred leader election); bad ids get clear errors and
// exit statuses scripts can rely on.
func TestBrokerDrainCommand(t *testing.T) {
	c := startCluster(t, 3, nil, "leader.imbalance.check.interval.seconds=1")
	addr := c.brokers[0].Addr()
	topic := topicName(t)
	createReplicatedTopic(t, c, topic, 6)
	waitFor(t, 20*time.Second, "every partition led", func() bool {
		ps := c.metadata(addr).Topics[topic].Partitions
		return len(ps) == 6 && !slices.ContainsFunc(ps.Sorted(), func(p kadm.PartitionDetail) bool { return p.Leader < 0 })
	})

	out, code := runBrokerCmd(t, addr, "drain", "1", "--wait")
	if code != 0 {
		t.Fatalf("drain 1: exit %d\n%s", code, out)
	}
	leads, inISR, replicas := c.leadership(addr, topic)
	if leads[1] != 0 || inISR[1] != replicas[1] {
		t.Errorf("after drain --wait: broker 1 leads %d, in %d of its %d ISRs; want 0 and all", leads[1], inISR[1], replicas[1])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	configs, err := kadm.NewClient(newClient(t, c.brokers[1].Addr())).DescribeBrokerConfigs(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	drain := ""
	for _, rc := range configs {
		for _, cfg := range rc.Configs {
			if cfg.Key == "broker.drain" && cfg.Value != nil {
				drain = *cfg.Value
			}
		}
	}
	if drain != "full" {
		t.Errorf("DescribeConfigs of broker 1: broker.drain=%q, want full", drain)
	}
	statusOut, err := exec.Command(spotstreamBinary(t), "cluster", "status", "--output", "json", "--bootstrap-server", addr).CombinedOutput()
	if err != nil {
		t.Fatalf("cluster status: %v\n%s", err, statusOut)
	}
	var status struct {
		Brokers []struct {
			ID      int32  `json:"id"`
			State   string `json:"state"`
			Drain   string `json:"drain"`
			Leaders int    `json:"leaders"`
		} `json:"brokers"`
		Violations []any `json:"violations"`
	}
	if err := json.Unmarshal(statusOut, &status); err != nil {
		t.Fatalf("%v: %s", err, statusOut)
	}
	if b := status.Brokers[1]; b.ID != 1 || b.State != "drained" || b.Drain != "full" || b.Leaders != 0 {
		t.Errorf("cluster status shows broker 1 as %+v, want drained (full) leading nothing", b)
	}

	if out, code := runBrokerCmd(t, addr, "undrain", "1"); code != 0 {
		t.Fatalf("undrain 1: exit %d\n%s", code, out)
	}
	waitFor(t, 30*time.Second, "broker 1 leading again", func() bool {
		leads, _, _ := c.leadership(addr, topic)
		return leads[1] > 0
	})

	for _, tc := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"drain", "9"}, 1, "broker 9 is not in the cluster"},
		{[]string{"drain", "abc"}, 2, "not a broker id"},
		{[]string{"drain"}, 2, "want one broker id"},
		{[]string{"frobnicate", "1"}, 2, "unknown subcommand"},
	} {
		out, code := runBrokerCmd(t, addr, tc.args...)
		if code != tc.code || !strings.Contains(out, tc.says) {
			t.Errorf("broker %v: exit %d, output %q; want exit %d saying %q", tc.args, code, out, tc.code, tc.says)
		}
	}
}

// runCmd runs "spotstream args..." and returns its output and exit status.
func runCmd(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command(spotstreamBinary(t), args...).Output()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &exit):
		return string(out) + string(exit.Stderr), exit.ExitCode()
	}
	t.Fatalf("spotstream %v: %v", args, err)
	return "", -1
}

// TestReassignCommand moves every replica off a broker by hand: plan
// (kafka-reassign-partitions JSON) over the other brokers, apply, status
// until done, and the replicas are where the plan put them.
func TestReassignCommand(t *testing.T) {
	// The controller's own repair is off, so that only the plan moves.
	c := startCluster(t, 4, nil, "placement.repair.max.moves=0")
	addr := c.brokers[0].Addr()
	topic := topicName(t)
	createReplicatedTopic(t, c, topic, 8)
	_, _, before := c.leadership(addr, topic)
	if before[3] == 0 {
		t.Fatalf("broker 3 holds no replica to move: %v", before)
	}

	plan, code := runCmd(t, "reassign", "plan", topic, "--broker-list", "0,1,2", "--bootstrap-server", addr)
	if code != 0 {
		t.Fatalf("plan: exit %d\n%s", code, plan)
	}
	var parsed struct {
		Version    int `json:"version"`
		Partitions []struct {
			Replicas []int32 `json:"replicas"`
		} `json:"partitions"`
	}
	if err := json.Unmarshal([]byte(plan), &parsed); err != nil || parsed.Version != 1 || len(parsed.Partitions) != before[3] {
		t.Fatalf("plan %s (%v): want version 1 moving broker 3's %d replicas", plan, err, before[3])
	}
	file := filepath.Join(t.TempDir(), "plan.json")
	if err := os.WriteFile(file, []byte(plan), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := runCmd(t, "reassign", "apply", file, "--bootstrap-server", addr); code != 0 {
		t.Fatalf("apply: exit %d\n%s", code, out)
	}
	waitFor(t, 60*time.Second, "the moves to finish", func() bool {
		out, code := runCmd(t, "reassign", "status", file, "--bootstrap-server", addr)
		if code != 0 && code != 3 {
			t.Fatalf("status: exit %d\n%s", code, out)
		}
		return code == 0
	})
	if _, _, after := c.leadership(addr, topic); after[3] != 0 {
		t.Errorf("broker 3 still holds %d replicas after the plan", after[3])
	}
	if out, code := runCmd(t, "reassign", "cancel", "--bootstrap-server", addr); code != 0 {
		t.Errorf("cancel with nothing in progress: exit %d\n%s", code, out)
	}
	if _, code := runCmd(t, "reassign", "apply", "--bootstrap-server", addr); code != 2 {
		t.Errorf("apply without a plan: exit %d, want 2", code)
	}
}
