package main

// This file holds the placement half of "spotstream cluster status": each
// broker's zone, capacity and drain (DescribeConfigs), the placement rules
// a partition breaks (package placement, the rules the controller
// follows), and the reassignments in progress (ListPartitionReassignments).

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/spotstream/spotstream/internal/placement"
)

// Broker keys cluster status reads: the zone and capacity in effect, and
// an operator's drain.
const (
	capacityConfig = "broker.capacity"
	rackConfig     = "broker.rack"
)

// placementInfo is what cluster status learns beyond Metadata.
type placementInfo struct {
	// configs are the broker keys above, by live broker.
	configs map[int32]map[string]string
	// moving are the reassignments in progress.
	moving []kadm.ListPartitionReassignmentsResponse
}

// violationStatus is a partition breaking a placement rule.
type violationStatus struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Rule      int    `json:"rule"`
	Reason    string `json:"reason"`
}

// reassignmentStatus is a partition being moved.
type reassignmentStatus struct {
	Topic     string  `json:"topic"`
	Partition int32   `json:"partition"`
	Replicas  []int32 `json:"replicas"`
	Adding    []int32 `json:"adding"`
	Removing  []int32 `json:"removing"`
}

// fetchPlacement reads the brokers' identity and drain, and the
// reassignments in progress.
func fetchPlacement(ctx context.Context, adm *kadm.Client, meta kadm.Metadata) (placementInfo, error) {
	info := placementInfo{configs: map[int32]map[string]string{}}
	rcs, err := adm.DescribeBrokerConfigs(ctx, meta.Brokers.NodeIDs()...)
	if err != nil {
		return info, fmt.Errorf("describe broker configs: %w", err)
	}
	for _, rc := range rcs {
		id, err := strconv.ParseInt(rc.Name, 10, 32)
		if err != nil || rc.Err != nil {
			continue // an old broker, or a Kafka one: no such keys
		}
		m := map[string]string{}
		for _, c := range rc.Configs {
			if c.Value != nil && (c.Key == capacityConfig || c.Key == rackConfig || c.Key == drainConfig) {
				m[c.Key] = *c.Value
			}
		}
		info.configs[int32(id)] = m
	}
	moving, err := allMoves(ctx, adm, meta)
	if err != nil {
		return info, err
	}
	info.moving = moving.Sorted()
	return info, nil
}

// allMoves lists the reassignments in progress of every partition in
// meta (ListPartitionReassignments names the partitions it asks about).
func allMoves(ctx context.Context, adm *kadm.Client, meta kadm.Metadata) (kadm.ListPartitionReassignmentsResponses, error) {
	set := kadm.TopicsSet{}
	for _, t := range meta.Topics {
		for p := range t.Partitions {
			set.Add(t.Topic, p)
		}
	}
	moving, err := adm.ListPartitionReassignments(ctx, set)
	if err != nil {
		return nil, fmt.Errorf("list partition reassignments: %w", err)
	}
	return moving, nil
}

// judgePlacement adds to st each broker's capacity, drain, state and
// load, the placement rules partitions break, zones with a single broker,
// and the reassignments in progress.
func judgePlacement(st *clusterState, meta kadm.Metadata, info placementInfo) {
	drained := func(id int32) bool {
		d := info.configs[id][drainConfig]
		return d != "" && d != "none"
	}
	var brokers []placement.Broker
	zones := map[string]int{}
	for i := range st.Brokers {
		b := &st.Brokers[i]
		if b.State == "offline" {
			continue
		}
		cfg := info.configs[b.ID]
		b.Capacity = cfg[capacityConfig]
		if b.Rack == "" {
			b.Rack = cfg[rackConfig]
		}
		if drained(b.ID) {
			b.Drain = cfg[drainConfig]
			b.State = "drained"
		}
		brokers = append(brokers, placement.Broker{ID: b.ID, Rack: b.Rack, Capacity: b.Capacity, Draining: drained(b.ID)})
		zones[b.Rack]++
	}
	var parts []placement.Partition
	leaders, replicas, movable := map[int32]int{}, map[int32]int{}, map[int32]int{}
	for _, t := range meta.Topics.Sorted() {
		for _, p := range t.Partitions.Sorted() {
			parts = append(parts, placement.Partition{Topic: t.Topic, Partition: p.Partition, Replicas: p.Replicas})
			leaders[p.Leader]++
			for _, r := range p.Replicas {
				replicas[r]++
			}
			if slices.ContainsFunc(p.ISR, func(o int32) bool { return o != p.Leader && !drained(o) }) {
				movable[p.Leader]++
			}
		}
	}
	for i := range st.Brokers {
		b := &st.Brokers[i]
		b.Leaders, b.Replicas = leaders[b.ID], replicas[b.ID]
		if b.State == "drained" && movable[b.ID] > 0 {
			b.State = "draining"
		}
		if stuck := b.Leaders - movable[b.ID]; b.Drain != "" && stuck > 0 {
			st.Warnings = append(st.Warnings, fmt.Sprintf("broker %d is drained but still leads %d partitions that no other in-sync replica can lead: they stay led there rather than go offline", b.ID, stuck))
		}
	}
	for _, v := range placement.Violations(brokers, parts) {
		st.Violations = append(st.Violations, violationStatus{Topic: v.Topic, Partition: v.Partition, Rule: v.Rule, Reason: v.Reason})
	}
	// A zone with a single broker while others have more gets that broker
	// into nearly every partition: durability before balance.
	largest := 0
	for _, n := range zones {
		largest = max(largest, n)
	}
	for _, z := range slices.Sorted(maps.Keys(zones)) {
		if zones[z] == 1 && largest > 1 {
			st.Warnings = append(st.Warnings, fmt.Sprintf("zone %q has a single broker while others have more: it holds a replica of nearly every partition (durability before balance)", z))
		}
	}
	for _, m := range info.moving {
		st.Reassignments = append(st.Reassignments, reassignmentStatus{Topic: m.Topic, Partition: m.Partition,
			Replicas: m.Replicas, Adding: m.AddingReplicas, Removing: m.RemovingReplicas})
	}
}

// printPlacement prints the violations, warnings and reassignments.
func printPlacement(w io.Writer, st clusterState) error {
	for _, warn := range st.Warnings {
		fmt.Fprintf(w, "\nwarning: %s\n", warn)
	}
	fmt.Fprintf(w, "\nplacement: %d violations, %d reassignments in progress\n", len(st.Violations), len(st.Reassignments))
	if len(st.Violations) > 0 {
		tw := newTable(w)
		fmt.Fprintln(tw, "TOPIC\tPARTITION\tRULE\tREASON")
		for _, v := range st.Violations {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", v.Topic, v.Partition, v.Rule, v.Reason)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(st.Reassignments) > 0 {
		tw := newTable(w)
		fmt.Fprintln(tw, "TOPIC\tPARTITION\tREPLICAS\tADDING\tREMOVING")
		for _, r := range st.Reassignments {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", r.Topic, r.Partition, ids(r.Replicas), ids(r.Adding), ids(r.Removing))
		}
		return tw.Flush()
	}
	return nil
}
