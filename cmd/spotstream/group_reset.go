package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

const resetSynopsis = `usage: spotstream group reset-offsets GROUP (--topic T[:P,P...] ... | --all-topics)
         (--to-earliest | --to-latest | --to-offset N | --to-datetime TIME | --shift-by N)
         [--execute] [flags]

Compute new committed offsets for a consumer group and, with --execute,
commit them. Without --execute this is a dry run: it prints the plan and
changes nothing.

Partitions:
  --topic T         every partition of topic T
  --topic T:0,2     partitions 0 and 2 of T (--topic repeats)
  --all-topics      every partition the group has committed an offset for

New offsets:
  --to-earliest     the log start offset
  --to-latest       the log end offset: skip everything present
  --to-offset N     offset N
  --to-datetime T   the first record with a timestamp at or after T, given
                    in RFC 3339 (2024-05-01T12:00:00Z); the end offset if
                    there is none
  --shift-by N      the committed offset plus N (negative: go back); only
                    for partitions with a committed offset

Every new offset is clamped into [log start offset, log end offset], as
Kafka's tool does, so that no consumer resumes at an offset that does not
exist. Kafka accepts a commit from outside the group only while the group
has no active members: stop its consumers before --execute.

Examples:
  spotstream group reset-offsets orders-app --topic orders --to-earliest
  spotstream group reset-offsets orders-app --topic orders:0,1 --shift-by -100 --execute
  spotstream group reset-offsets orders-app --all-topics --to-datetime 2024-05-01T12:00:00Z --execute

Flags (-flag and --flag both work):
`

// resetKind is how reset-offsets computes a new offset.
type resetKind int

const (
	toEarliest resetKind = iota
	toLatest
	toOffset
	toDatetime
	shiftBy
)

// resetStrategyFlags are the flags that choose a resetKind, in the order
// the error messages list them.
var resetStrategyFlags = []string{"to-earliest", "to-latest", "to-offset", "to-datetime", "shift-by"}

// resetStrategy is a resetKind with its argument.
type resetStrategy struct {
	kind resetKind
	n    int64     // the offset of toOffset, the shift of shiftBy
	at   time.Time // the time of toDatetime
}

// topicSelection is one --topic: a topic and some of its partitions, or all
// of them if partitions is nil.
type topicSelection struct {
	topic      string
	partitions []int32
}

// resetOptions are the command line of "spotstream group reset-offsets".
type resetOptions struct {
	conn       adminConn
	group      string
	topics     []topicSelection
	allTopics  bool
	strategy   resetStrategy
	strategies []string // the strategy flags given, to insist on exactly one
	execute    bool
}

func (o resetOptions) connection() adminConn { return o.conn }

// parseResetOptions parses the command line of "group reset-offsets".
func parseResetOptions(args []string, stderr io.Writer) (resetOptions, error) {
	o := resetOptions{conn: defaultAdminConn()}
	fs := newAdminFlagSet("group reset-offsets", resetSynopsis, stderr)
	o.conn.register(fs)
	fs.Func("topic", "a topic, or `T:P,P...` some of its partitions (repeatable)", func(v string) error {
		sel, err := parseTopicSelection(v)
		o.topics = append(o.topics, sel)
		return err
	})
	fs.BoolVar(&o.allTopics, "all-topics", false, "every partition the group has committed an offset for")
	// The strategy flags only record what they were given: checking for
	// exactly one after parsing gives a clearer error than the flag
	// package's, and no flag list.
	strategy := func(kind resetKind, name string, parse func(string) error) func(string) error {
		return func(v string) error {
			o.strategies = append(o.strategies, name)
			o.strategy.kind = kind
			return parse(v)
		}
	}
	noArg := func(string) error { return nil }
	fs.BoolFunc("to-earliest", "reset to the log start offset", strategy(toEarliest, "to-earliest", noArg))
	fs.BoolFunc("to-latest", "reset to the log end offset", strategy(toLatest, "to-latest", noArg))
	fs.Func("to-offset", "reset to offset `N`", strategy(toOffset, "to-offset", func(v string) (err error) {
		o.strategy.n, err = strconv.ParseInt(v, 10, 64)
		if err == nil && o.strategy.n < 0 {
			err = errors.New("negative")
		}
		return err
	}))
	fs.Func("to-datetime", "reset to the first record at or after `TIME`, RFC 3339", strategy(toDatetime, "to-datetime", func(v string) (err error) {
		o.strategy.at, err = time.Parse(time.RFC3339, v)
		if err != nil {
			return errors.New("want RFC 3339, like 2024-05-01T12:00:00Z or 2024-05-01T14:00:00+02:00")
		}
		return nil
	}))
	fs.Func("shift-by", "move the committed offset by `N` (negative: back)", strategy(shiftBy, "shift-by", func(v string) (err error) {
		o.strategy.n, err = strconv.ParseInt(v, 10, 64)
		return err
	}))
	fs.BoolVar(&o.execute, "execute", false, "commit the new offsets; without it, only print them")
	groups, err := parseInterspersed(fs, args)
	if err != nil {
		return o, err
	}
	switch {
	case len(groups) == 0:
		return o, errors.New("no group given: spotstream group reset-offsets GROUP [flags]")
	case len(groups) > 1:
		return o, fmt.Errorf("one group at a time: got %q", groups)
	case groups[0] == "":
		return o, errors.New("empty group name")
	}
	o.group = groups[0]
	return o, o.validate()
}

// validate checks that the options choose partitions and a strategy,
// one way each.
func (o *resetOptions) validate() error {
	if err := o.conn.validate(); err != nil {
		return err
	}
	switch {
	case len(o.topics) == 0 && !o.allTopics:
		return errors.New("which partitions? give --topic T[:P,P...] or --all-topics")
	case len(o.topics) > 0 && o.allTopics:
		return errors.New("--topic and --all-topics: give one or the other")
	}
	switch strategies := o.strategies; {
	case len(strategies) == 0:
		return fmt.Errorf("which offsets? give one of --%s", strings.Join(resetStrategyFlags, ", --"))
	case len(strategies) > 1:
		return fmt.Errorf("--%s: give only one of --%s", strings.Join(strategies, " and --"), strings.Join(resetStrategyFlags, ", --"))
	}
	return nil
}

// parseTopicSelection parses a --topic value: "T" or "T:P,P...". Kafka
// topic names cannot contain ':', so the first one separates.
func parseTopicSelection(v string) (topicSelection, error) {
	topic, list, hasList := strings.Cut(v, ":")
	sel := topicSelection{topic: topic}
	if topic == "" {
		return sel, errors.New("empty topic")
	}
	if !hasList {
		return sel, nil
	}
	if list == "" {
		return sel, errors.New("no partition after ':'")
	}
	for s := range strings.SplitSeq(list, ",") {
		p, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
		if err != nil || p < 0 {
			return sel, fmt.Errorf("partition %q: want a number from 0", s)
		}
		sel.partitions = append(sel.partitions, int32(p))
	}
	return sel, nil
}

// selectedTopics returns the topics the command line names, sorted.
func (o *resetOptions) selectedTopics() []string {
	var topics []string
	for _, sel := range o.topics {
		topics = append(topics, sel.topic)
	}
	slices.Sort(topics)
	return slices.Compact(topics)
}

// groupResetOffsets runs "spotstream group reset-offsets".
func groupResetOffsets(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, adm, ctx, done, err := startAdmin(ctx, args, stderr, parseResetOptions)
	if adm == nil {
		return err
	}
	defer done()
	plan, err := fetchResetPlan(ctx, adm, o)
	if err != nil {
		return o.conn.explainTimeout(err)
	}
	// Kafka refuses the commit while the group has members; saying so
	// before the commit, and on a dry run too, saves a puzzling error.
	described, err := adm.DescribeGroups(ctx, o.group)
	if err != nil {
		return o.conn.explainTimeout(fmt.Errorf("describe group %q: %w", o.group, err))
	}
	activeErr := checkInactive(o.group, described[o.group])
	if err := printResetPlan(stdout, plan); err != nil {
		return err
	}
	if !o.execute {
		if activeErr != nil {
			fmt.Fprintf(stderr, "warning: %v; --execute would fail\n", activeErr)
		}
		_, err := fmt.Fprintln(stdout, "dry run: nothing changed; add --execute to commit these offsets")
		return err
	}
	if activeErr != nil {
		return activeErr
	}
	committed, err := adm.CommitOffsets(ctx, o.group, planOffsets(plan))
	if err != nil {
		return o.conn.explainTimeout(fmt.Errorf("commit offsets: %w", explain(err)))
	}
	if err := commitOutcome(committed); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "committed %d offsets for group %s\n", len(plan), o.group)
	return err
}

// fetchResetPlan gathers what the plan needs from the cluster, the group's
// commits and the partitions' offsets, and computes it.
func fetchResetPlan(ctx context.Context, adm *kadm.Client, o resetOptions) ([]resetRow, error) {
	var in resetInputs
	committed, err := adm.FetchOffsets(ctx, o.group)
	if err == nil {
		err = committed.Error()
	}
	switch {
	case errors.Is(err, kerr.GroupIDNotFound):
		// An unknown group has no commits; committing creates it.
	case err != nil:
		return nil, fmt.Errorf("fetch offsets of group %q: %w", o.group, explain(err))
	default:
		in.committed = committed
	}
	topics := o.selectedTopics()
	if o.allTopics {
		topics = in.committed.Partitions().Topics()
	}
	if len(topics) == 0 {
		// Listing offsets with no topic would list every topic.
		return nil, fmt.Errorf("group %q has no committed offsets: name the topics with --topic", o.group)
	}
	if in.starts, err = adm.ListStartOffsets(ctx, topics...); err != nil {
		return nil, fmt.Errorf("list start offsets: %w", err)
	}
	if in.ends, err = adm.ListEndOffsets(ctx, topics...); err != nil {
		return nil, fmt.Errorf("list end offsets: %w", err)
	}
	if o.strategy.kind == toDatetime {
		if in.times, err = adm.ListOffsetsAfterMilli(ctx, o.strategy.at.UnixMilli(), topics...); err != nil {
			return nil, fmt.Errorf("list offsets after %v: %w", o.strategy.at, err)
		}
	}
	targets, err := resetTargets(o.topics, o.allTopics, in.committed, in.ends)
	if err != nil {
		return nil, err
	}
	return planReset(targets, o.strategy, in)
}

// resetInputs is what the cluster says about the partitions to reset.
type resetInputs struct {
	committed kadm.OffsetResponses // the group's commits
	starts    kadm.ListedOffsets   // log start offsets
	ends      kadm.ListedOffsets   // log end offsets
	times     kadm.ListedOffsets   // offsets after --to-datetime, only for it
}

// resetRow is one partition of a reset plan.
type resetRow struct {
	Topic     string
	Partition int32
	Current   int64 // the committed offset; -1: none
	New       int64
}

// resetTargets returns the partitions to reset, by topic: those named by
// --topic, checked against the partitions the cluster listed, or with
// --all-topics the ones the group has committed offsets for.
func resetTargets(sels []topicSelection, allTopics bool, committed kadm.OffsetResponses, ends kadm.ListedOffsets) (map[string][]int32, error) {
	targets := map[string][]int32{}
	if allTopics {
		committed.Each(func(c kadm.OffsetResponse) {
			if c.At >= 0 {
				targets[c.Topic] = append(targets[c.Topic], c.Partition)
			}
		})
	}
	for _, sel := range sels {
		if sel.partitions == nil {
			targets[sel.topic] = append(targets[sel.topic], sortedPartitions(ends[sel.topic])...)
		} else {
			targets[sel.topic] = append(targets[sel.topic], sel.partitions...)
		}
	}
	for topic, ps := range targets {
		listed := ends[topic]
		if _, unknown := listed[-1]; unknown || len(listed) == 0 {
			// kadm lists an unknown topic as partition -1 only.
			return nil, fmt.Errorf("topic %q does not exist", topic)
		}
		for _, p := range ps {
			if _, ok := listed[p]; !ok {
				return nil, fmt.Errorf("topic %q has no partition %d (it has %d)", topic, p, len(listed))
			}
		}
		slices.Sort(ps)
		targets[topic] = slices.Compact(ps)
	}
	return targets, nil
}

// planReset computes the new offset of every target partition. It is the
// whole of reset-offsets' logic, apart from the cluster.
func planReset(targets map[string][]int32, s resetStrategy, in resetInputs) ([]resetRow, error) {
	topics := make([]string, 0, len(targets))
	for t := range targets {
		topics = append(topics, t)
	}
	slices.Sort(topics)
	var plan []resetRow
	for _, t := range topics {
		for _, p := range targets[t] {
			row, err := planPartition(t, p, s, in)
			if err != nil {
				return nil, err
			}
			plan = append(plan, row)
		}
	}
	return plan, nil
}

// planPartition computes the new offset of one partition.
func planPartition(t string, p int32, s resetStrategy, in resetInputs) (resetRow, error) {
	row := resetRow{Topic: t, Partition: p, Current: -1}
	if c, ok := in.committed.Lookup(t, p); ok && c.Err == nil && c.At >= 0 {
		row.Current = c.At
	}
	start, err := listedOffset(in.starts, "start", t, p)
	if err != nil {
		return row, err
	}
	end, err := listedOffset(in.ends, "end", t, p)
	if err != nil {
		return row, err
	}
	var target int64
	switch s.kind {
	case toEarliest:
		target = start
	case toLatest:
		target = end
	case toOffset:
		target = s.n
	case toDatetime:
		if target, err = listedOffset(in.times, "timestamp", t, p); err != nil {
			return row, err
		}
		if target < 0 {
			target = end // no record at or after the time
		}
	case shiftBy:
		if row.Current < 0 {
			return row, fmt.Errorf("%s/%d: no committed offset to shift; use another --to-* for it", t, p)
		}
		target = addClamped(row.Current, s.n)
	}
	// end < start happens only when the log start moved between the two
	// listings; the end, listed second, is the fresher.
	row.New = max(min(target, end), min(start, end))
	return row, nil
}

// listedOffset looks up a partition's listed offset, naming what was listed
// in the error if the cluster did not give it.
func listedOffset(l kadm.ListedOffsets, what, t string, p int32) (int64, error) {
	o, ok := l.Lookup(t, p)
	switch {
	case !ok:
		return 0, fmt.Errorf("%s/%d: missing from the listed %s offsets", t, p, what)
	case o.Err != nil:
		return 0, fmt.Errorf("%s/%d: list %s offset: %w", t, p, what, o.Err)
	}
	return o.Offset, nil
}

// addClamped returns a+b, saturating instead of overflowing, so that
// --shift-by with a huge N lands at the end rather than wrapping around.
func addClamped(a, b int64) int64 {
	switch {
	case b > 0 && a > math.MaxInt64-b:
		return math.MaxInt64
	case b < 0 && a < math.MinInt64-b:
		return math.MinInt64
	}
	return a + b
}

// checkInactive returns an error if the described group has members, which
// makes Kafka refuse commits from outside the group.
func checkInactive(group string, d kadm.DescribedGroup) error {
	switch {
	case errors.Is(d.Err, kerr.GroupIDNotFound):
		return nil // a new group: nobody to stop
	case d.Err != nil:
		return fmt.Errorf("describe group %q: %w", group, explain(d.Err))
	case len(d.Members) > 0:
		return fmt.Errorf("group %q has %d active members (state %s); stop them first", group, len(d.Members), d.State)
	}
	return nil
}

// planOffsets returns the plan as the offsets to commit. The leader epoch
// is unknown (-1): the plan's offsets come from listings, not records.
func planOffsets(plan []resetRow) kadm.Offsets {
	offsets := make(kadm.Offsets)
	for _, r := range plan {
		offsets.Add(kadm.Offset{Topic: r.Topic, Partition: r.Partition, At: r.New, LeaderEpoch: -1})
	}
	return offsets
}

// commitOutcome returns nil if every offset was committed, or an error
// listing the partitions that were not, each with its explained error.
func commitOutcome(committed kadm.OffsetResponses) error {
	var failed []string
	for _, c := range committed.Sorted() {
		if c.Err != nil {
			failed = append(failed, fmt.Sprintf("%s/%d: %v", c.Topic, c.Partition, explain(c.Err)))
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d offsets not committed:\n  %s", len(failed), len(committed.Sorted()), strings.Join(failed, "\n  "))
}

// printResetPlan prints the plan as a table.
func printResetPlan(w io.Writer, plan []resetRow) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tCURRENT-OFFSET\tNEW-OFFSET")
	for _, r := range plan {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\n", r.Topic, r.Partition, offsetOrDash(r.Current), r.New)
	}
	return tw.Flush()
}
