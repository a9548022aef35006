package main

// This file holds "spotstream cluster": the operator's view of a cluster's
// health. Like the group tool it speaks only the Kafka protocol (Metadata
// and DescribeConfigs through kadm), so it works against any Kafka cluster;
// the fetching is thin and the judging and printing are pure functions
// over kadm's structs, which the tests feed by hand.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const clusterUsage = `usage: spotstream cluster <subcommand> [arguments]

  status   brokers (id, address, zone, capacity, state, load), the
           controller, the coordination quorum, placement violations and
           reassignments in progress, and the partitions that are offline,
           under-replicated or under their min.insync.replicas

Run 'spotstream cluster <subcommand> -h' for flags.
`

const statusSynopsis = `usage: spotstream cluster status [flags]

Print the cluster's brokers (zone, capacity, whether an operator drained
them, leaders and replicas held) and controller; the members of its
coordination quorum (the embedded etcd members: the broker running each,
whether it is up, which one leads), from DescribeQuorum; the partitions
that break a placement rule (an on-demand replica, distinct zones) and the
reassignments in progress; then every partition that needs attention:
  offline          no leader: nothing can be produced or consumed
  under-min-isr    fewer in-sync replicas than min.insync.replicas: acks=all
                   producers get NOT_ENOUGH_REPLICAS
  under-replicated fewer in-sync replicas than replicas
A broker that replicas are assigned to but that is not alive is listed as
"offline". The exit status is 0 even when partitions need attention; use
--output json for scripts.

Flags (-flag and --flag both work):
`

// clusterSubcommands are the subcommands of "spotstream cluster".
var clusterSubcommands = map[string]subcommand{"status": clusterStatus}

// statusOptions are the flags of "spotstream cluster status".
type statusOptions struct {
	conn adminConn
	json bool
}

func (o statusOptions) connection() adminConn { return o.conn }

func parseStatusOptions(args []string, stderr io.Writer) (statusOptions, error) {
	o := statusOptions{conn: defaultAdminConn()}
	fs := newAdminFlagSet("cluster status", statusSynopsis, stderr)
	o.conn.register(fs)
	registerOutput(fs, &o.json, "json prints the status as one JSON object")
	if err := parseFlags(fs, args); err != nil {
		return o, err
	}
	return o, o.conn.validate()
}

// clusterStatus runs "spotstream cluster status".
func clusterStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, adm, ctx, done, err := startAdmin(ctx, args, stderr, parseStatusOptions)
	if adm == nil {
		return err
	}
	defer done()
	meta, err := adm.Metadata(ctx)
	if err != nil {
		return o.conn.explainTimeout(fmt.Errorf("metadata: %w", err))
	}
	minISR, err := minInsyncReplicas(ctx, adm, meta.Topics.Names())
	if err != nil {
		return o.conn.explainTimeout(err)
	}
	st := judgeStatus(meta, minISR)
	info, err := fetchPlacement(ctx, adm, meta)
	if err != nil {
		return o.conn.explainTimeout(err)
	}
	judgePlacement(&st, meta, info)
	if q, err := describeQuorum(ctx, o.conn); err != nil {
		fmt.Fprintf(stderr, "coordination quorum not described: %v\n", err)
	} else {
		st.Quorum = q
	}
	if o.json {
		return writeJSON(stdout, st)
	}
	return printStatus(stdout, st)
}

// minInsyncReplicas returns each topic's effective min.insync.replicas.
func minInsyncReplicas(ctx context.Context, adm *kadm.Client, topics []string) (map[string]int, error) {
	out := make(map[string]int, len(topics))
	if len(topics) == 0 {
		return out, nil
	}
	configs, err := adm.DescribeTopicConfigs(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("describe topic configs: %w", err)
	}
	for _, rc := range configs {
		if rc.Err != nil {
			return nil, fmt.Errorf("describe configs of %q: %w", rc.Name, rc.Err)
		}
		for _, c := range rc.Configs {
			if c.Key == "min.insync.replicas" && c.Value != nil {
				if n, err := strconv.Atoi(*c.Value); err == nil {
					out[rc.Name] = n
				}
			}
		}
	}
	return out, nil
}

// clusterState is the judged status, as printed.
type clusterState struct {
	ClusterID    string            `json:"cluster_id"`
	Controller   int32             `json:"controller"`
	Brokers      []brokerState     `json:"brokers"`
	Partitions   int               `json:"partitions"`
	Offline      int               `json:"offline"`
	UnderMinISR  int               `json:"under_min_isr"`
	UnderReplica int               `json:"under_replicated"`
	Attention    []partitionStatus `json:"attention"` // partitions needing attention, sorted
	// Quorum is the coordination quorum, nil when the cluster did not
	// describe it.
	Quorum *quorumState `json:"quorum,omitempty"`
	// Violations are the partitions that break a placement rule (see
	// docs/architecture.md), Warnings what the zones make unavoidable,
	// Reassignments the moves in progress.
	Violations    []violationStatus    `json:"violations"`
	Warnings      []string             `json:"warnings,omitempty"`
	Reassignments []reassignmentStatus `json:"reassignments"`
}

// quorumState is the coordination quorum, from DescribeQuorum.
type quorumState struct {
	// Leader is the broker running the leading member, -1 if unknown.
	Leader  int32          `json:"leader"`
	Term    int32          `json:"term"`
	Members []quorumMember `json:"members"`
	Down    int            `json:"down"`
}

// quorumMember is one member of the quorum.
type quorumMember struct {
	// Broker runs the member; -1 when no live broker does.
	Broker int32  `json:"broker"`
	Role   string `json:"role"`  // voter or learner
	State  string `json:"state"` // up or down
	// Index is the member's Raft index, -1 when it is down.
	Index int64 `json:"index"`
}

// describeQuorum asks the cluster for its quorum (DescribeQuorum on
// Kafka's metadata partition, which spotstream answers for its etcd
// quorum).
func describeQuorum(ctx context.Context, conn adminConn) (*quorumState, error) {
	cl, err := conn.client()
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	req := kmsg.NewPtrDescribeQuorumRequest()
	t := kmsg.NewDescribeQuorumRequestTopic()
	t.Topic = "__cluster_metadata"
	t.Partitions = []kmsg.DescribeQuorumRequestTopicPartition{kmsg.NewDescribeQuorumRequestTopicPartition()}
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	return judgeQuorum(resp)
}

// judgeQuorum turns a DescribeQuorum response into the quorum's state.
func judgeQuorum(resp *kmsg.DescribeQuorumResponse) (*quorumState, error) {
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		if resp.ErrorMessage != nil {
			return nil, fmt.Errorf("%w: %s", err, *resp.ErrorMessage)
		}
		return nil, err
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return nil, errors.New("DescribeQuorum: no metadata partition in the response")
	}
	p := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		return nil, err
	}
	q := &quorumState{Leader: p.LeaderID, Term: p.LeaderEpoch}
	add := func(role string, rs []kmsg.DescribeQuorumResponseTopicPartitionReplicaState) {
		for _, r := range rs {
			m := quorumMember{Broker: r.ReplicaID, Role: role, State: "up", Index: r.LogEndOffset}
			if r.LogEndOffset < 0 {
				m.State = "down"
				q.Down++
			}
			q.Members = append(q.Members, m)
		}
	}
	add("voter", p.CurrentVoters)
	add("learner", p.Observers)
	return q, nil
}

// brokerState is one broker: alive (in Metadata) or only named by replica
// assignments.
type brokerState struct {
	ID       int32  `json:"id"`
	Address  string `json:"address,omitempty"`
	Rack     string `json:"rack,omitempty"`
	Capacity string `json:"capacity,omitempty"`
	// State is running, draining (an operator's drain, leaderships left
	// to move), drained, or offline (named by assignments, not alive).
	State string `json:"state"`
	// Drain is the operator's drain (broker.drain), "" for none.
	Drain    string `json:"drain,omitempty"`
	Leaders  int    `json:"leaders"`
	Replicas int    `json:"replicas"`
}

// partitionStatus is a partition that needs attention.
type partitionStatus struct {
	Topic     string  `json:"topic"`
	Partition int32   `json:"partition"`
	Leader    int32   `json:"leader"`
	Replicas  []int32 `json:"replicas"`
	ISR       []int32 `json:"isr"`
	MinISR    int     `json:"min_isr"`
	Status    string  `json:"status"` // offline, under-min-isr, under-replicated
}

// judgeStatus computes the cluster's status from its metadata and the
// topics' min.insync.replicas (1 when unknown, Kafka's default).
func judgeStatus(meta kadm.Metadata, minISR map[string]int) clusterState {
	st := clusterState{ClusterID: meta.Cluster, Controller: meta.Controller}
	alive := make(map[int32]bool)
	for _, b := range meta.Brokers {
		alive[b.NodeID] = true
		bs := brokerState{ID: b.NodeID, Address: b.Host + ":" + strconv.Itoa(int(b.Port)), State: "running"}
		if b.Rack != nil {
			bs.Rack = *b.Rack
		}
		st.Brokers = append(st.Brokers, bs)
	}
	offlineBrokers := make(map[int32]bool)
	for _, t := range meta.Topics.Sorted() {
		for _, p := range t.Partitions.Sorted() {
			st.Partitions++
			for _, r := range p.Replicas {
				if !alive[r] {
					offlineBrokers[r] = true
				}
			}
			min := max(minISR[t.Topic], 1)
			ps := partitionStatus{Topic: t.Topic, Partition: p.Partition, Leader: p.Leader,
				Replicas: p.Replicas, ISR: p.ISR, MinISR: min}
			switch {
			case p.Leader < 0 || !alive[p.Leader]:
				ps.Status = "offline"
				st.Offline++
			case len(p.ISR) < min:
				ps.Status = "under-min-isr"
				st.UnderMinISR++
			case len(p.ISR) < len(p.Replicas):
				ps.Status = "under-replicated"
				st.UnderReplica++
			default:
				continue
			}
			st.Attention = append(st.Attention, ps)
		}
	}
	for id := range offlineBrokers {
		st.Brokers = append(st.Brokers, brokerState{ID: id, State: "offline"})
	}
	slices.SortFunc(st.Brokers, func(a, b brokerState) int { return int(a.ID) - int(b.ID) })
	return st
}

// printStatus prints the status as aligned tables.
func printStatus(w io.Writer, st clusterState) error {
	fmt.Fprintf(w, "cluster %s, controller %d\n\n", dash(st.ClusterID), st.Controller)
	tw := newTable(w)
	fmt.Fprintln(tw, "BROKER\tADDRESS\tZONE\tCAPACITY\tSTATE\tLEADERS\tREPLICAS")
	for _, b := range st.Brokers {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%d\n", b.ID, dash(b.Address), dash(b.Rack), dash(b.Capacity), b.State, b.Leaders, b.Replicas)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if q := st.Quorum; q != nil {
		fmt.Fprintf(w, "\ncoordination quorum: %d members, %d down, leader on broker %s, term %d\n",
			len(q.Members), q.Down, brokerOrNone(q.Leader), q.Term)
		tw = newTable(w)
		fmt.Fprintln(tw, "MEMBER-BROKER\tROLE\tSTATE\tLEADER\tRAFT-INDEX")
		for _, m := range q.Members {
			leader, index := "", "-"
			if m.Broker >= 0 && m.Broker == q.Leader {
				leader = "*"
			}
			if m.Index >= 0 {
				index = strconv.FormatInt(m.Index, 10)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", brokerOrNone(m.Broker), m.Role, m.State, dash(leader), index)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if err := printPlacement(w, st); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%d partitions: %d offline, %d under min ISR, %d under-replicated\n",
		st.Partitions, st.Offline, st.UnderMinISR, st.UnderReplica)
	if len(st.Attention) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	tw = newTable(w)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tLEADER\tREPLICAS\tISR\tMIN-ISR\tSTATUS")
	for _, p := range st.Attention {
		leader := strconv.Itoa(int(p.Leader))
		if p.Leader < 0 {
			leader = "none"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%d\t%s\n", p.Topic, p.Partition, leader, ids(p.Replicas), ids(p.ISR), p.MinISR, p.Status)
	}
	return tw.Flush()
}

// ids formats broker ids as "1,2,3", or "-" for none.
func ids(v []int32) string {
	s := make([]string, len(v))
	for i, id := range v {
		s[i] = strconv.Itoa(int(id))
	}
	return dash(strings.Join(s, ","))
}

// brokerOrNone formats a broker id, "none" for -1.
func brokerOrNone(id int32) string {
	if id < 0 {
		return "none"
	}
	return strconv.Itoa(int(id))
}
