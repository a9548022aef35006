package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
)

func TestReadPlan(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, json, err string
	}{
		{"kafka's format", `{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,2],"log_dirs":["any","any"]}]}`, ""},
		{"not json", `{`, "not a reassignment plan"},
		{"other version", `{"version":2,"partitions":[]}`, "version 2"},
		{"no replicas", `{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[]}]}`, "replicas are required"},
		{"a log directory", `{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1],"log_dirs":["/data"]}]}`, "not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			if err := os.WriteFile(path, []byte(tc.json), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := readPlan(path)
			if (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
				t.Errorf("readPlan: %v, want %q", err, tc.err)
			}
		})
	}
}

func TestJudgeMoves(t *testing.T) {
	meta := kadm.Metadata{Topics: kadm.TopicDetails{"t": {Topic: "t", Partitions: kadm.PartitionDetails{
		0: {Topic: "t", Partition: 0, Replicas: []int32{1, 2}},
		1: {Topic: "t", Partition: 1, Replicas: []int32{1, 2, 3}},
		2: {Topic: "t", Partition: 2, Replicas: []int32{1, 2}},
	}}}}
	plan := reassignPlan{Version: 1, Partitions: []reassignPartition{
		{Topic: "t", Partition: 0, Replicas: []int32{1, 2}},
		{Topic: "t", Partition: 1, Replicas: []int32{1, 3}},
		{Topic: "t", Partition: 2, Replicas: []int32{2, 3}},
		{Topic: "t", Partition: 9, Replicas: []int32{1}},
	}}
	moving := kadm.ListPartitionReassignmentsResponses{"t": {1: {Topic: "t", Partition: 1, Replicas: []int32{1, 3, 2}, AddingReplicas: []int32{3}, RemovingReplicas: []int32{2}}}}
	var got []string
	for _, m := range judgeMoves(plan, meta, moving, true) {
		got = append(got, m.State)
	}
	if want := "done moving different unknown partition"; strings.Join(got, " ") != want {
		t.Errorf("states %q, want %q", strings.Join(got, " "), want)
	}
}

func TestPlanMoves(t *testing.T) {
	rack := func(s string) *string { return &s }
	meta := kadm.Metadata{
		Brokers: kadm.BrokerDetails{{NodeID: 0, Rack: rack("a")}, {NodeID: 1, Rack: rack("b")}, {NodeID: 2, Rack: rack("c")}},
		Topics: kadm.TopicDetails{"t": {Topic: "t", Partitions: kadm.PartitionDetails{
			0: {Topic: "t", Partition: 0, Replicas: []int32{0, 1}},
			1: {Topic: "t", Partition: 1, Replicas: []int32{1, 0}},
		}}},
	}
	info := placementInfo{configs: map[int32]map[string]string{0: {capacityConfig: "on-demand"}}}
	// Off broker 1: every replica it holds moves, to broker 2.
	plan := planMoves(meta, info, nil, []int32{0, 2}, 1)
	if len(plan.Partitions) != 2 {
		t.Fatalf("plan %+v, want both partitions moved", plan)
	}
	for _, p := range plan.Partitions {
		if strings.Contains(ids(p.Replicas), "1") || !strings.Contains(ids(p.Replicas), "2") || p.Reason == "" {
			t.Errorf("partition %d to %v (%s): want off broker 1, onto 2, with a reason", p.Partition, p.Replicas, p.Reason)
		}
	}
	if again := planMoves(meta, info, nil, []int32{0, 2}, 1); ids(again.Partitions[0].Replicas) != ids(plan.Partitions[0].Replicas) {
		t.Errorf("the same inputs and seed planned differently")
	}
}
