package main

// This file holds "spotstream reassign": replica moves by hand, in the JSON
// format of Kafka's kafka-reassign-partitions, so that plans made by either
// tool work with the other. plan proposes moves under spotstream's
// placement rules (package placement, as the controller's repair does);
// apply, status and cancel speak AlterPartitionReassignments and
// ListPartitionReassignments (KIP-455), so they work against any Kafka
// cluster.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/spotstream/spotstream/internal/placement"
)

const reassignUsage = `usage: spotstream reassign <subcommand> [arguments]

  plan     propose moves that bring topics under the placement rules (an
           on-demand replica, distinct zones, balance), optionally onto a
           given set of brokers; prints a plan in kafka-reassign-partitions'
           JSON format
  apply    start the moves of a plan file
  status   show the moves of a plan file (or all) in progress or done
  cancel   cancel the moves of a plan file (or all in progress)

Run 'spotstream reassign <subcommand> -h' for flags.
`

// reassignPlan is kafka-reassign-partitions' reassignment JSON.
type reassignPlan struct {
	Version    int                 `json:"version"`
	Partitions []reassignPartition `json:"partitions"`
}

// reassignPartition is one partition of a plan.
type reassignPartition struct {
	Topic     string   `json:"topic"`
	Partition int32    `json:"partition"`
	Replicas  []int32  `json:"replicas"`
	LogDirs   []string `json:"log_dirs,omitempty"`
	// Reason says why plan moves it; Kafka's tool ignores the field.
	Reason string `json:"reason,omitempty"`
}

// reassignSubcommands are the subcommands of "spotstream reassign".
var reassignSubcommands = map[string]subcommand{
	"plan":   reassignPlanCmd,
	"apply":  fileSubcommand("apply"),
	"status": fileSubcommand("status"),
	"cancel": fileSubcommand("cancel"),
}

// fileSubcommand runs reassignFileCmd as subcommand sub.
func fileSubcommand(sub string) subcommand {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		return reassignFileCmd(ctx, sub, args, stdout, stderr)
	}
}

// reassignOptions are the flags and arguments of the reassign subcommands.
type reassignOptions struct {
	conn    adminConn
	json    bool
	topics  []string // plan
	brokers []int32  // plan: --broker-list
	file    string   // apply, status, cancel
}

func (o reassignOptions) connection() adminConn { return o.conn }

const planSynopsis = `usage: spotstream reassign plan [TOPIC...] [flags]

Propose moves for TOPICs (all topics when none is named) that bring them
under the placement rules, over the brokers of --broker-list (all live
brokers by default: list fewer to move replicas off the others). Prints the
plan as kafka-reassign-partitions JSON; nothing moves until "apply".

Flags (-flag and --flag both work):
`

const fileSynopsis = `usage: spotstream reassign %s [PLAN.json] [flags]

apply starts every move of PLAN.json; status shows, for each partition of
PLAN.json (or every move in progress), whether it is done, moving or
different from the plan, and exits 3 while any is still moving; cancel
cancels the moves of PLAN.json (or every move in progress). Exit status: 0
done, 1 error, 2 bad usage, 3 (status) still moving.

Flags (-flag and --flag both work):
`

func parseReassignOptions(sub string) func([]string, io.Writer) (reassignOptions, error) {
	return func(args []string, stderr io.Writer) (reassignOptions, error) {
		o := reassignOptions{conn: defaultAdminConn()}
		synopsis := planSynopsis
		if sub != "plan" {
			synopsis = fmt.Sprintf(fileSynopsis, sub)
		}
		fs := newAdminFlagSet("reassign "+sub, synopsis, stderr)
		o.conn.register(fs)
		if sub != "plan" { // a plan is always JSON
			registerOutput(fs, &o.json, "json prints the result as JSON")
		}
		var brokerList string
		if sub == "plan" {
			fs.StringVar(&brokerList, "broker-list", "", "comma-separated ids of the brokers to place replicas on (default: every live broker)")
		}
		pos, err := parseInterspersed(fs, args)
		if err != nil {
			return o, err
		}
		switch {
		case sub == "plan":
			o.topics = pos
			for _, s := range strings.Split(brokerList, ",") {
				if s = strings.TrimSpace(s); s == "" {
					continue
				}
				id, err := strconv.ParseInt(s, 10, 32)
				if err != nil || id < 0 {
					return o, fmt.Errorf("--broker-list: %q is not a broker id", s)
				}
				o.brokers = append(o.brokers, int32(id))
			}
		case sub == "apply" && len(pos) != 1:
			return o, errors.New("apply: want one plan file")
		case len(pos) > 1:
			return o, fmt.Errorf("%s: at most one plan file", sub)
		case len(pos) == 1:
			o.file = pos[0]
		}
		if err := o.conn.validate(); err != nil {
			return o, err
		}
		return o, nil
	}
}

// reassignPlanCmd runs "spotstream reassign plan".
func reassignPlanCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, adm, ctx, done, err := startAdmin(ctx, args, stderr, parseReassignOptions("plan"))
	if adm == nil {
		return err
	}
	defer done()
	meta, err := adm.Metadata(ctx)
	if err != nil {
		return o.conn.explainTimeout(fmt.Errorf("metadata: %w", err))
	}
	for _, t := range o.topics {
		if _, ok := meta.Topics[t]; !ok {
			return fmt.Errorf("topic %q does not exist", t)
		}
	}
	live := meta.Brokers.NodeIDs()
	for _, id := range o.brokers {
		if !slices.Contains(live, id) {
			return fmt.Errorf("--broker-list: broker %d is not in the cluster (brokers: %v)", id, live)
		}
	}
	info, err := fetchPlacement(ctx, adm, meta)
	if err != nil {
		return o.conn.explainTimeout(err)
	}
	// The plan is JSON, as kafka-reassign-partitions prints it: it is
	// the input of apply.
	return writeJSON(stdout, planMoves(meta, info, o.topics, o.brokers, rand.Uint64()))
}

// planMoves proposes the moves of topics (every topic when empty) that
// bring them under the placement rules over brokers (every live one when
// empty), counting every topic's load.
func planMoves(meta kadm.Metadata, info placementInfo, topics []string, brokers []int32, seed uint64) reassignPlan {
	var pbs []placement.Broker
	for _, b := range meta.Brokers {
		if len(brokers) > 0 && !slices.Contains(brokers, b.NodeID) {
			continue
		}
		cfg := info.configs[b.NodeID]
		rack := cfg[rackConfig]
		if b.Rack != nil {
			rack = *b.Rack
		}
		d := cfg[drainConfig]
		pbs = append(pbs, placement.Broker{ID: b.NodeID, Rack: rack, Capacity: cfg[capacityConfig], Draining: d != "" && d != "none"})
	}
	var parts []placement.Partition
	for _, t := range meta.Topics.Sorted() {
		for _, p := range t.Partitions.Sorted() {
			parts = append(parts, placement.Partition{Topic: t.Topic, Partition: p.Partition, Replicas: p.Replicas})
		}
	}
	plan := reassignPlan{Version: 1, Partitions: []reassignPartition{}}
	for _, m := range placement.Repair(pbs, parts, seed, 0) {
		if len(topics) > 0 && !slices.Contains(topics, m.Topic) {
			continue
		}
		plan.Partitions = append(plan.Partitions, reassignPartition{Topic: m.Topic, Partition: m.Partition, Replicas: m.Replicas, Reason: m.Reason})
	}
	return plan
}

// readPlan reads a plan file in kafka-reassign-partitions' format.
func readPlan(path string) (reassignPlan, error) {
	var plan reassignPlan
	b, err := os.ReadFile(path)
	if err != nil {
		return plan, err
	}
	if err := json.Unmarshal(b, &plan); err != nil {
		return plan, fmt.Errorf("%s: not a reassignment plan: %w", path, err)
	}
	if plan.Version != 1 {
		return plan, fmt.Errorf("%s: version %d, want 1", path, plan.Version)
	}
	for _, p := range plan.Partitions {
		if p.Topic == "" || p.Partition < 0 || len(p.Replicas) == 0 {
			return plan, fmt.Errorf("%s: partition %q/%d: topic, partition and replicas are required", path, p.Topic, p.Partition)
		}
		for _, d := range p.LogDirs {
			if d != "any" {
				return plan, fmt.Errorf("%s: %s/%d: log_dirs %q: moves between a broker's log directories are not supported; use \"any\"", path, p.Topic, p.Partition, d)
			}
		}
	}
	return plan, nil
}

// moveStatus is one partition's state against a plan.
type moveStatus struct {
	Topic     string  `json:"topic"`
	Partition int32   `json:"partition"`
	Target    []int32 `json:"target,omitempty"`
	Replicas  []int32 `json:"replicas"`
	Adding    []int32 `json:"adding,omitempty"`
	Removing  []int32 `json:"removing,omitempty"`
	// State is done, moving, different (neither moving nor at the
	// target), cancelled, started, or an error.
	State string `json:"state"`
}

// errStillMoving makes "reassign status" exit 3.
var errStillMoving = errors.New("moves still in progress")

// reassignFileCmd runs "spotstream reassign apply|status|cancel".
func reassignFileCmd(ctx context.Context, sub string, args []string, stdout, stderr io.Writer) error {
	o, adm, ctx, done, err := startAdmin(ctx, args, stderr, parseReassignOptions(sub))
	if adm == nil {
		return err
	}
	defer done()
	var plan reassignPlan
	if o.file != "" {
		if plan, err = readPlan(o.file); err != nil {
			return err
		}
	}
	var out []moveStatus
	switch sub {
	case "apply":
		req := kadm.AlterPartitionAssignmentsReq{}
		for _, p := range plan.Partitions {
			req.Assign(p.Topic, p.Partition, p.Replicas)
		}
		resps, err := adm.AlterPartitionAssignments(ctx, req)
		if err != nil {
			return o.conn.explainTimeout(fmt.Errorf("alter partition reassignments: %w", err))
		}
		out = alterOutcome(plan, resps, "started")
	case "cancel":
		if o.file == "" {
			if plan, err = inProgress(ctx, adm); err != nil {
				return o.conn.explainTimeout(err)
			}
		}
		req := kadm.AlterPartitionAssignmentsReq{}
		for _, p := range plan.Partitions {
			req.CancelAssign(p.Topic, p.Partition)
		}
		resps, err := adm.AlterPartitionAssignments(ctx, req)
		if err != nil {
			return o.conn.explainTimeout(fmt.Errorf("cancel partition reassignments: %w", err))
		}
		out = alterOutcome(plan, resps, "cancelled")
	case "status":
		if o.file == "" {
			if plan, err = inProgress(ctx, adm); err != nil {
				return o.conn.explainTimeout(err)
			}
		}
		meta, err := adm.Metadata(ctx)
		if err != nil {
			return o.conn.explainTimeout(fmt.Errorf("metadata: %w", err))
		}
		moving, err := listMoves(ctx, adm, plan)
		if err != nil {
			return o.conn.explainTimeout(err)
		}
		out = judgeMoves(plan, meta, moving, o.file != "")
	}
	if o.json {
		err = writeJSON(stdout, out)
	} else {
		err = printMoves(stdout, out)
	}
	if err != nil {
		return err
	}
	failed, moving := 0, 0
	for _, m := range out {
		switch m.State {
		case "moving":
			moving++
		case "done", "started", "cancelled":
		default:
			failed++
		}
	}
	switch {
	case failed > 0:
		return fmt.Errorf("%d of %d partitions failed or differ from the plan", failed, len(out))
	case sub == "status" && moving > 0:
		return errStillMoving
	}
	return nil
}

// alterOutcome pairs each partition of plan with its result.
func alterOutcome(plan reassignPlan, resps kadm.AlterPartitionAssignmentsResponses, ok string) []moveStatus {
	var out []moveStatus
	for _, p := range plan.Partitions {
		m := moveStatus{Topic: p.Topic, Partition: p.Partition, Target: p.Replicas, State: ok}
		if r, found := resps[p.Topic][p.Partition]; !found {
			m.State = "no answer"
		} else if r.Err != nil {
			m.State = r.Err.Error()
			if r.ErrMessage != "" {
				m.State += ": " + r.ErrMessage
			}
		}
		out = append(out, m)
	}
	return out
}

// inProgress returns every move in progress as a plan (to its target).
func inProgress(ctx context.Context, adm *kadm.Client) (reassignPlan, error) {
	meta, err := adm.Metadata(ctx)
	if err != nil {
		return reassignPlan{}, fmt.Errorf("metadata: %w", err)
	}
	moving, err := allMoves(ctx, adm, meta)
	if err != nil {
		return reassignPlan{}, err
	}
	plan := reassignPlan{Version: 1}
	for _, m := range moving.Sorted() {
		target := slices.DeleteFunc(slices.Clone(m.Replicas), func(id int32) bool { return slices.Contains(m.RemovingReplicas, id) })
		plan.Partitions = append(plan.Partitions, reassignPartition{Topic: m.Topic, Partition: m.Partition, Replicas: target})
	}
	return plan, nil
}

// listMoves lists the moves in progress among plan's partitions.
func listMoves(ctx context.Context, adm *kadm.Client, plan reassignPlan) (kadm.ListPartitionReassignmentsResponses, error) {
	set := kadm.TopicsSet{}
	for _, p := range plan.Partitions {
		set.Add(p.Topic, p.Partition)
	}
	moving, err := adm.ListPartitionReassignments(ctx, set)
	if err != nil {
		return nil, fmt.Errorf("list partition reassignments: %w", err)
	}
	return moving, nil
}

// judgeMoves says, for each partition of plan, whether it is done (at the
// target, nothing moving), moving, or different; without a plan file
// (byFile false) every listed move is moving.
func judgeMoves(plan reassignPlan, meta kadm.Metadata, moving kadm.ListPartitionReassignmentsResponses, byFile bool) []moveStatus {
	var out []moveStatus
	for _, p := range plan.Partitions {
		m := moveStatus{Topic: p.Topic, Partition: p.Partition, Target: p.Replicas}
		cur, ok := meta.Topics[p.Topic].Partitions[p.Partition]
		switch mv, isMoving := moving[p.Topic][p.Partition]; {
		case !ok:
			m.State = "unknown partition"
		case isMoving:
			m.Replicas, m.Adding, m.Removing, m.State = mv.Replicas, mv.AddingReplicas, mv.RemovingReplicas, "moving"
		case slices.Equal(cur.Replicas, p.Replicas) || !byFile:
			m.Replicas, m.State = cur.Replicas, "done"
		default:
			m.Replicas, m.State = cur.Replicas, "different"
		}
		out = append(out, m)
	}
	return out
}

// printMoves prints move states as a table.
func printMoves(w io.Writer, moves []moveStatus) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tTARGET\tREPLICAS\tADDING\tREMOVING\tSTATE")
	for _, m := range moves {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", m.Topic, m.Partition, ids(m.Target), ids(m.Replicas), ids(m.Adding), ids(m.Removing), m.State)
	}
	return tw.Flush()
}
