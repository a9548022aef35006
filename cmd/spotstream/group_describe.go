package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

const describeSynopsis = `usage: spotstream group describe GROUP [GROUP...] [flags]

Describe consumer groups. For each group, a header line (state, protocol
type, assignor, coordinator, members), then one line per partition the group
has committed an offset for, is assigned, or subscribes to:

  CURRENT-OFFSET  the group's committed offset; "-" if it has none
  LOG-END-OFFSET  the partition's end offset (high watermark)
  LAG             LOG-END-OFFSET - CURRENT-OFFSET; with no committed offset,
                  LOG-END-OFFSET - log start offset, the records a consumer
                  starting from the earliest would read (kafka-consumer-groups
                  prints "-" there). Never negative. "-" if an offset could
                  not be listed; the error is printed below the table.
  MEMBER-ID, CLIENT-ID, HOST
                  the member the partition is assigned to; "-" if none, as
                  for committed partitions of an empty group

and the total lag, the sum of the known lags. With --members, one line per
member instead: MEMBER-ID INSTANCE-ID CLIENT-ID HOST ASSIGNMENT, the
assignment as "topic:0,1,2" per topic.

--output json prints one JSON object per group instead: group, state,
protocol_type, protocol, coordinator {node_id, host, port}, members
[{member_id, instance_id, client_id, host, assignment {topic: [partitions]}}],
partitions [{topic, partition, current_offset, log_start_offset,
log_end_offset, lag, member_id, client_id, host, error}] and total_lag;
offsets and lags that are unknown or absent are -1.

Examples:
  spotstream group describe orders-app
  spotstream group describe orders-app billing --members
  spotstream group describe orders-app --output json

Flags (-flag and --flag both work):
`

// describeOptions are the command line of "spotstream group describe".
type describeOptions struct {
	conn    adminConn
	groups  []string
	members bool
	json    bool
}

func (o describeOptions) connection() adminConn { return o.conn }

// parseDescribeOptions parses the command line of "group describe".
func parseDescribeOptions(args []string, stderr io.Writer) (describeOptions, error) {
	o := describeOptions{conn: defaultAdminConn()}
	fs := newAdminFlagSet("group describe", describeSynopsis, stderr)
	o.conn.register(fs)
	fs.BoolVar(&o.members, "members", false, "list the members and their assignments instead of the partitions")
	registerOutput(fs, &o.json, "json prints one JSON object per group, members and partitions both")
	groups, err := parseInterspersed(fs, args)
	if err != nil {
		return o, err
	}
	o.groups = groups
	if len(o.groups) == 0 {
		return o, errors.New("no group given: spotstream group describe GROUP [GROUP...]")
	}
	if slices.Contains(o.groups, "") {
		return o, errors.New("empty group name")
	}
	return o, o.conn.validate()
}

// groupDescribe runs "spotstream group describe". Every group is printed
// that can be; the error names those that could not.
func groupDescribe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, adm, ctx, done, err := startAdmin(ctx, args, stderr, parseDescribeOptions)
	if adm == nil {
		return err
	}
	defer done()
	// kadm.Lag describes the groups, fetches their commits, lists the start
	// and end offsets of every partition involved and computes the lag.
	lags, err := adm.Lag(ctx, o.groups...)
	if err != nil {
		return o.conn.explainTimeout(fmt.Errorf("describe: %w", err))
	}
	var errs []error
	printed := 0
	for _, name := range o.groups {
		r, err := newGroupReport(name, lags)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if printed > 0 && !o.json {
			fmt.Fprintln(stdout)
		}
		printed++
		if err := printGroupReport(stdout, r, o.members, o.json); err != nil {
			return err
		}
	}
	return errors.Join(errs...)
}

// groupReport is what "group describe" prints of one group; its JSON form
// is the --output json output, so its field names are a stable interface.
type groupReport struct {
	Group        string            `json:"group"`
	State        string            `json:"state"`
	ProtocolType string            `json:"protocol_type"`
	Protocol     string            `json:"protocol"`
	Coordinator  reportCoordinator `json:"coordinator"`
	Members      []reportMember    `json:"members"`
	Partitions   []reportPartition `json:"partitions"`
	TotalLag     int64             `json:"total_lag"`
}

// reportCoordinator is the broker coordinating a group.
type reportCoordinator struct {
	NodeID int32  `json:"node_id"`
	Host   string `json:"host"`
	Port   int32  `json:"port"`
}

// reportMember is one member of a group.
type reportMember struct {
	MemberID   string             `json:"member_id"`
	InstanceID string             `json:"instance_id"` // empty unless static (KIP-345)
	ClientID   string             `json:"client_id"`
	Host       string             `json:"host"`
	Assignment map[string][]int32 `json:"assignment"` // topic to sorted partitions
}

// reportPartition is one partition of a group's describe table.
type reportPartition struct {
	Topic          string `json:"topic"`
	Partition      int32  `json:"partition"`
	CurrentOffset  int64  `json:"current_offset"`   // -1: no committed offset
	LogStartOffset int64  `json:"log_start_offset"` // -1: unknown
	LogEndOffset   int64  `json:"log_end_offset"`   // -1: unknown
	Lag            int64  `json:"lag"`              // -1: unknown
	MemberID       string `json:"member_id"`        // empty: not assigned
	ClientID       string `json:"client_id"`
	Host           string `json:"host"`
	Error          string `json:"error,omitempty"`
}

// newGroupReport builds the report of the named group from kadm.Lag's
// answer. It fails when the group could not be described or its offsets
// fetched, and when the group does not exist: Kafka answers a describe of
// an unknown group with state Dead and no offsets, or, from DescribeGroups
// v6 and OffsetFetch v9 with the new group coordinator, GROUP_ID_NOT_FOUND.
func newGroupReport(name string, lags kadm.DescribedGroupLags) (groupReport, error) {
	l, ok := lags[name]
	switch {
	case !ok:
		return groupReport{}, fmt.Errorf("group %q: missing from the cluster's answer", name)
	case errors.Is(l.DescribeErr, kerr.GroupIDNotFound), errors.Is(l.FetchErr, kerr.GroupIDNotFound),
		l.DescribeErr == nil && l.FetchErr == nil && l.State == "Dead" && len(l.Lag) == 0:
		return groupReport{}, fmt.Errorf("group %q does not exist", name)
	case l.DescribeErr != nil:
		return groupReport{}, fmt.Errorf("describe group %q: %w", name, explain(l.DescribeErr))
	case l.FetchErr != nil:
		return groupReport{}, fmt.Errorf("fetch offsets of group %q: %w", name, explain(l.FetchErr))
	}
	r := groupReport{
		Group:        l.Group,
		State:        l.State,
		ProtocolType: l.ProtocolType,
		Protocol:     l.Protocol,
		Coordinator:  reportCoordinator{NodeID: l.Coordinator.NodeID, Host: l.Coordinator.Host, Port: l.Coordinator.Port},
		Members:      []reportMember{},
		Partitions:   []reportPartition{},
		TotalLag:     l.Lag.Total(),
	}
	// The assignments are read off the lag rows, which kadm builds from
	// every member's consumer assignment, rather than from the members'
	// decoded assignments: the rows are plain data that tests can build.
	assigned := map[string]map[string][]int32{}
	for _, ml := range l.Lag.Sorted() {
		p := reportPartition{
			Topic:          ml.Topic,
			Partition:      ml.Partition,
			CurrentOffset:  -1,
			LogStartOffset: -1,
			LogEndOffset:   -1,
			Lag:            ml.Lag,
		}
		if ml.Commit.At >= 0 {
			p.CurrentOffset = ml.Commit.At
		}
		if ml.Start.Err == nil {
			p.LogStartOffset = ml.Start.Offset
		}
		if ml.End.Err == nil {
			p.LogEndOffset = ml.End.Offset
		}
		if ml.Err != nil {
			p.Error = ml.Err.Error()
		}
		if m := ml.Member; m != nil {
			p.MemberID, p.ClientID, p.Host = m.MemberID, m.ClientID, m.ClientHost
			if assigned[m.MemberID] == nil {
				assigned[m.MemberID] = map[string][]int32{}
			}
			assigned[m.MemberID][ml.Topic] = append(assigned[m.MemberID][ml.Topic], ml.Partition)
		}
		r.Partitions = append(r.Partitions, p)
	}
	for _, m := range l.Members {
		rm := reportMember{MemberID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost, Assignment: assigned[m.MemberID]}
		if m.InstanceID != nil {
			rm.InstanceID = *m.InstanceID
		}
		if rm.Assignment == nil {
			rm.Assignment = map[string][]int32{}
		}
		r.Members = append(r.Members, rm)
	}
	return r, nil
}

// printGroupReport prints r: its partitions, its members, or its JSON.
func printGroupReport(w io.Writer, r groupReport, members, asJSON bool) error {
	if asJSON {
		return writeJSON(w, r)
	}
	coordinator := fmt.Sprint(r.Coordinator.NodeID)
	if r.Coordinator.Host != "" {
		coordinator += fmt.Sprintf(" (%s:%d)", r.Coordinator.Host, r.Coordinator.Port)
	}
	fmt.Fprintf(w, "group %s: state %s, protocol type %s, protocol %s, coordinator %s, %d members\n",
		r.Group, dash(r.State), dash(r.ProtocolType), dash(r.Protocol), coordinator, len(r.Members))
	if members {
		return printMembers(w, r.Members)
	}
	return printPartitions(w, r)
}

// printPartitions prints the partition table of r, the errors of partitions
// whose offsets could not be listed, and the total lag.
func printPartitions(w io.Writer, r groupReport) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tCURRENT-OFFSET\tLOG-END-OFFSET\tLAG\tMEMBER-ID\tCLIENT-ID\tHOST")
	var failed []string
	for _, p := range r.Partitions {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Topic, p.Partition,
			offsetOrDash(p.CurrentOffset), offsetOrDash(p.LogEndOffset), offsetOrDash(p.Lag),
			dash(p.MemberID), dash(p.ClientID), dash(p.Host))
		if p.Error != "" {
			failed = append(failed, fmt.Sprintf("error: %s/%d: %s\n", p.Topic, p.Partition, p.Error))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%stotal lag %d\n", strings.Join(failed, ""), r.TotalLag)
	return err
}

// printMembers prints the member table.
func printMembers(w io.Writer, members []reportMember) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "MEMBER-ID\tINSTANCE-ID\tCLIENT-ID\tHOST\tASSIGNMENT")
	for _, m := range members {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.MemberID, dash(m.InstanceID), dash(m.ClientID), dash(m.Host),
			dash(formatAssignment(m.Assignment)))
	}
	return tw.Flush()
}

// formatAssignment formats an assignment compactly, topics sorted:
// "a:0,1 b:2".
func formatAssignment(a map[string][]int32) string {
	topics := make([]string, 0, len(a))
	for t := range a {
		topics = append(topics, t)
	}
	slices.Sort(topics)
	parts := make([]string, len(topics))
	for i, t := range topics {
		ps := slices.Sorted(slices.Values(a[t]))
		parts[i] = t + ":" + joinPartitions(ps)
	}
	return strings.Join(parts, " ")
}

// offsetOrDash formats an offset or lag, "-" when it is negative: absent
// or unknown.
func offsetOrDash(o int64) string {
	if o < 0 {
		return "-"
	}
	return fmt.Sprint(o)
}
