package main

// This file holds "spotstream group": its dispatch, what the subcommands
// share (flags, the admin client, error hints) and "group list". The other
// subcommands are in group_describe.go, group_reset.go and group_delete.go.
//
// Like bench, the tool speaks only the Kafka protocol, through franz-go's
// kadm, so it administers the consumer groups of any Kafka-compatible
// cluster. Each subcommand is split the same way: a thin function that calls
// kadm and hands the results, as kadm's own structs, to pure functions that
// compute and format. The pure half is what the tests cover, as it can be
// fed results built by hand.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

const groupUsage = `usage: spotstream group <subcommand> [arguments]

  list            list the consumer groups: state, protocol type, members
  describe        show a group's partitions, committed offsets and lag, or
                  with --members its members and their assignments
  reset-offsets   plan, and with --execute commit, new offsets for a group
                  that has no active members
  delete          delete groups that have no active members

Run 'spotstream group <subcommand> -h' for flags.
`

// groupClientID is the client id the group tool presents to brokers, so
// that their logs tell it apart from consumers.
const groupClientID = "spotstream-group"

// groupSubcommands are the subcommands of "spotstream group".
var groupSubcommands = map[string]subcommand{
	"list":          groupList,
	"describe":      groupDescribe,
	"reset-offsets": groupResetOffsets,
	"delete":        groupDelete,
}

// runGroup dispatches to a group subcommand.
func runGroup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return dispatch(ctx, args, stdout, stderr, groupUsage, groupSubcommands)
}

// adminConn holds the flags every admin subcommand (group, cluster) has:
// where the cluster is and how long to wait for it.
type adminConn struct {
	brokers string
	timeout time.Duration
}

// defaultAdminConn returns the connection flags' defaults.
func defaultAdminConn() adminConn {
	return adminConn{brokers: "127.0.0.1:9092", timeout: 30 * time.Second}
}

// register defines the connection flags on fs.
func (c *adminConn) register(fs *flag.FlagSet) {
	fs.StringVar(&c.brokers, "bootstrap-server", c.brokers, "comma-separated seed brokers, host:port")
	fs.StringVar(&c.brokers, "brokers", c.brokers, "alias of --bootstrap-server")
	fs.DurationVar(&c.timeout, "timeout", c.timeout, "give up when the cluster has not answered within this long")
}

// validate checks the connection flags.
func (c *adminConn) validate() error {
	if len(splitBrokers(c.brokers)) == 0 {
		return errors.New("--bootstrap-server: no broker given")
	}
	if c.timeout <= 0 {
		return errors.New("--timeout: must be positive")
	}
	return nil
}

// connect returns an admin client for the cluster and a context bounded by
// --timeout: franz-go retries an unreachable cluster for as long as the
// context lets it, so without a bound a wrong --brokers would hang.
func (c *adminConn) connect(ctx context.Context) (*kadm.Client, context.Context, context.CancelFunc, error) {
	cl, err := c.client()
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	return kadm.NewClient(cl), ctx, func() { cancel(); cl.Close() }, nil
}

// client returns a Kafka client for requests kadm does not wrap. The
// caller closes it.
func (c *adminConn) client() (*kgo.Client, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(splitBrokers(c.brokers)...), kgo.ClientID(groupClientID))
	if err != nil {
		return nil, fmt.Errorf("new client: %w", err)
	}
	return cl, nil
}

// registerOutput adds --output table|json to fs, and --json as its
// shorthand; *json reports the choice. what says what json prints.
func registerOutput(fs *flag.FlagSet, json *bool, what string) {
	fs.Func("output", "table (the default) or json: "+what, func(v string) error {
		switch v {
		case "table":
			*json = false
		case "json":
			*json = true
		default:
			return fmt.Errorf("want table or json, not %q", v)
		}
		return nil
	})
	fs.BoolVar(json, "json", *json, "shorthand for --output json")
}

// adminOptions are the parsed flags of an admin subcommand.
type adminOptions interface {
	connection() adminConn
}

// startAdmin is how every admin subcommand starts: it parses the flags
// with parse and connects with the connection flags among them. A nil
// client means there is nothing more to do: err says why, or is nil after
// -h printed the synopsis. Otherwise the caller defers done.
func startAdmin[O adminOptions](ctx context.Context, args []string, stderr io.Writer, parse func([]string, io.Writer) (O, error)) (o O, adm *kadm.Client, actx context.Context, done func(), err error) {
	o, err = parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return o, nil, nil, nil, nil
	}
	if err != nil {
		return o, nil, nil, nil, usageError{err}
	}
	conn := o.connection()
	adm, actx, done, err = conn.connect(ctx)
	if err != nil {
		return o, nil, nil, nil, err
	}
	return o, adm, actx, done, nil
}

// explainTimeout turns the context error of a cluster that never answered
// into one that says so; other errors pass through.
func (c *adminConn) explainTimeout(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("no answer from %s within %v (--brokers, --timeout): %w", c.brokers, c.timeout, err)
	}
	return err
}

// newAdminFlagSet returns a flag set for an admin subcommand that reports
// errors instead of exiting and prints synopsis above the flag list on -h.
func newAdminFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseInterspersed parses args, in which flags and positional arguments
// may be mixed, and returns the positional ones. The flag package stops at
// the first positional argument; but "group describe g --members" should
// work as kafka-consumer-groups users expect, so parsing resumes after each
// one. A "--" ends the flags: everything after it is positional, which is
// how to name a group that starts with "-".
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if consumed := args[:len(args)-len(rest)]; len(consumed) > 0 && consumed[len(consumed)-1] == "--" {
			return append(positional, rest...), nil
		}
		if len(rest) == 0 {
			return positional, nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// groupHints says, for the Kafka errors an operator meets with this tool,
// what they mean for the group, in the operator's terms. It is a list, not
// a map, so that the first match is always the same one.
var groupHints = []struct {
	err  error
	hint string
}{
	{kerr.NonEmptyGroup, "group has active members"},
	{kerr.GroupIDNotFound, "group does not exist"},
	// A commit from outside the group, which has no member id or
	// generation, gets these while the group has members.
	{kerr.UnknownMemberID, "group has active members; stop them first"},
	{kerr.IllegalGeneration, "group has active members; stop them first"},
	{kerr.RebalanceInProgress, "group has active members; stop them first"},
	{kerr.StaleMemberEpoch, "group has active members; stop them first"},
	{kerr.FencedInstanceID, "group has active members; stop them first"},
	{kerr.GroupAuthorizationFailed, "not authorized to access the group"},
	{kerr.TopicAuthorizationFailed, "not authorized to access the topic"},
}

// explain prefixes err with its hint, if it has one.
func explain(err error) error {
	for _, h := range groupHints {
		if errors.Is(err, h.err) {
			return fmt.Errorf("%s (%w)", h.hint, err)
		}
	}
	return err
}

// dash returns s, or "-" if s is empty, so that table columns stay aligned
// and a blank is visibly "nothing".
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// newTable returns a tabwriter for the aligned tables of the group tool.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

const listSynopsis = `usage: spotstream group list [flags]

List the consumer groups of the cluster, sorted by name: their state,
protocol type ("consumer" for Kafka consumers, "connect" for Kafka Connect)
and number of members. MEMBERS is "-" for a group that could not be
described, such as a group of the KIP-848 consumer protocol.

Flags (-flag and --flag both work):
`

// listOptions are the flags of "spotstream group list".
type listOptions struct {
	conn adminConn
	json bool
}

func (o listOptions) connection() adminConn { return o.conn }

// parseListOptions parses the command line of "group list".
func parseListOptions(args []string, stderr io.Writer) (listOptions, error) {
	o := listOptions{conn: defaultAdminConn()}
	fs := newAdminFlagSet("group list", listSynopsis, stderr)
	o.conn.register(fs)
	registerOutput(fs, &o.json, "json prints one JSON object per group")
	if err := parseFlags(fs, args); err != nil {
		return o, err
	}
	return o, o.conn.validate()
}

// groupList runs "spotstream group list".
func groupList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, adm, ctx, done, err := startAdmin(ctx, args, stderr, parseListOptions)
	if adm == nil {
		return err
	}
	defer done()
	// A broker that does not answer leaves its groups out; the rest are
	// still worth printing, followed by the error.
	listed, listErr := adm.ListGroups(ctx)
	if listErr != nil && len(listed) == 0 {
		return o.conn.explainTimeout(fmt.Errorf("list groups: %w", listErr))
	}
	var described kadm.DescribedGroups
	if len(listed) > 0 {
		// Describing is only for the member counts; without them the list
		// is still useful, so a failure shows as "-".
		described, _ = adm.DescribeGroups(ctx, listed.Groups()...)
	}
	if err := printGroupList(stdout, groupListRows(listed, described), o.json); err != nil {
		return err
	}
	if listErr != nil {
		return fmt.Errorf("list groups: some brokers did not answer: %w", listErr)
	}
	return nil
}

// groupListRow is one line of "group list".
type groupListRow struct {
	Group        string `json:"group"`
	State        string `json:"state"`
	ProtocolType string `json:"protocol_type"`
	Members      int    `json:"members"` // -1: the group could not be described
}

// groupListRows joins the listed groups with their descriptions, sorted by
// name. The described state wins, being the more recent.
func groupListRows(listed kadm.ListedGroups, described kadm.DescribedGroups) []groupListRow {
	rows := make([]groupListRow, 0, len(listed))
	for _, l := range listed.Sorted() {
		row := groupListRow{Group: l.Group, State: l.State, ProtocolType: l.ProtocolType, Members: -1}
		if d, ok := described[l.Group]; ok && d.Err == nil {
			row.Members = len(d.Members)
			row.State = d.State
			if d.ProtocolType != "" {
				row.ProtocolType = d.ProtocolType
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// printGroupList prints the rows as a table, or as one JSON object a line.
func printGroupList(w io.Writer, rows []groupListRow, asJSON bool) error {
	if asJSON {
		for _, r := range rows {
			if err := writeJSON(w, r); err != nil {
				return err
			}
		}
		return nil
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "GROUP\tSTATE\tPROTOCOL-TYPE\tMEMBERS")
	for _, r := range rows {
		members := "-"
		if r.Members >= 0 {
			members = fmt.Sprint(r.Members)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Group, dash(r.State), dash(r.ProtocolType), members)
	}
	return tw.Flush()
}

// sortedPartitions returns the keys of a partition map in order.
func sortedPartitions[V any](ps map[int32]V) []int32 {
	out := make([]int32, 0, len(ps))
	for p := range ps {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// joinPartitions formats partitions as "0,1,2".
func joinPartitions(ps []int32) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = fmt.Sprint(p)
	}
	return strings.Join(s, ",")
}
