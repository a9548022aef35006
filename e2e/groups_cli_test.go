package e2e

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// TestGroupCLI runs `spotstream group` against a broker the way an operator
// would: describe shows committed offsets and lag, reset-offsets plans and
// then commits, delete removes the group.
func TestGroupCLI(t *testing.T) {
	b := groupBroker(t)
	topic := topicName(t)
	createTopic(t, b.Addr(), topic, 3, nil)
	produceSeq(t, b.Addr(), topic, 3, 0, 10) // ends 10, 10, 10

	adm := kadm.NewClient(newClient(t, b.Addr()))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	commits := kadm.Offsets{}
	commits.AddOffset(topic, 0, 4, -1)
	commits.AddOffset(topic, 1, 10, -1)
	resp, err := adm.CommitOffsets(ctx, "cli-group", commits)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatal(err)
	}

	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(spotstreamBinary(t), append([]string{"group"}, append(args, "--brokers", b.Addr())...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("spotstream group %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	var described struct {
		Group      string `json:"group"`
		State      string `json:"state"`
		TotalLag   int64  `json:"total_lag"`
		Partitions []struct {
			Partition     int32 `json:"partition"`
			CurrentOffset int64 `json:"current_offset"`
			Lag           int64 `json:"lag"`
		} `json:"partitions"`
	}
	if err := json.Unmarshal([]byte(run("describe", "cli-group", "--json")), &described); err != nil {
		t.Fatal(err)
	}
	// Partition 2 has no commit: its lag counts from the log start.
	if described.State != "Empty" || described.TotalLag != 6+0+10 {
		t.Fatalf("describe: %+v, want state Empty and total lag 16", described)
	}
	for _, p := range described.Partitions {
		want := map[int32]int64{0: 6, 1: 0, 2: 10}[p.Partition]
		if p.Lag != want {
			t.Errorf("partition %d: lag %d, want %d", p.Partition, p.Lag, want)
		}
	}
	if out := run("describe", "cli-group"); !strings.Contains(out, "total lag 16") {
		t.Errorf("describe text has no total lag line:\n%s", out)
	}

	// A dry run changes nothing; --execute commits.
	if out := run("reset-offsets", "cli-group", "--topic", topic, "--to-earliest"); !strings.Contains(out, "dry run") {
		t.Errorf("reset without --execute:\n%s", out)
	}
	assertCommitted(t, adm, "cli-group", topic, map[int32]int64{0: 4, 1: 10})
	run("reset-offsets", "cli-group", "--topic", topic+":0,1", "--shift-by", "-3", "--execute")
	assertCommitted(t, adm, "cli-group", topic, map[int32]int64{0: 1, 1: 7})

	run("delete", "cli-group")
	groups, err := adm.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := groups["cli-group"]; ok {
		t.Fatalf("group still listed after delete: %v", groups.Groups())
	}
}

// assertCommitted checks a group's committed offsets in topic.
func assertCommitted(t *testing.T, adm *kadm.Client, group, topic string, want map[int32]int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	for p, off := range want {
		o, ok := got.Lookup(topic, p)
		if !ok || o.At != off {
			t.Errorf("%s/%d: committed %+v, want %d", topic, p, o, off)
		}
	}
}
