package main

// This file holds "spotstream broker": drain and undrain a broker while it
// keeps running. A drain is the broker's dynamic config broker.drain, set
// and cleared with IncrementalAlterConfigs, so Kafka's own tools
// (kafka-configs --entity-type brokers) can do the same; waiting reads
// Metadata and DescribeConfigs.

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

const brokerUsage = `usage: spotstream broker <subcommand> [arguments]

  drain     move a broker's leaderships away while it keeps running as a
            follower (and, unless --leadership-only, give it no new
            replicas and add temporary ones where its loss would leave
            fewer live replicas than min.insync.replicas)
  undrain   undo a drain

Run 'spotstream broker <subcommand> -h' for flags.
`

const drainSynopsis = `usage: spotstream broker drain ID [flags]

Drain broker ID: the controller moves the leadership of its partitions to
other in-sync replicas and gives it no new one; the broker keeps serving as
a follower and stays in the ISRs while it runs, so that its loss later
costs nothing. The drain is the broker's dynamic config broker.drain: it
survives the broker's restarts until "spotstream broker undrain ID".

Exit status: 0 when the drain is set (with --wait, once the broker leads
no partition another in-sync replica could lead), 1 on an error (unknown
broker, no answer, --wait timed out), 2 on bad usage.

Flags (-flag and --flag both work):
`

const undrainSynopsis = `usage: spotstream broker undrain ID [flags]

Undo a drain of broker ID set with "spotstream broker drain". A drain the
broker set itself on an interruption notice lasts as long as the broker
process. Exit status: 0 on success, 1 on an error, 2 on bad usage.

Flags (-flag and --flag both work):
`

// drainConfig is the broker's dynamic config that holds an operator's
// drain (cluster.DrainConfig on the broker side).
const drainConfig = "broker.drain"

// brokerSubcommands are the subcommands of "spotstream broker".
var brokerSubcommands = map[string]subcommand{
	"drain": func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		return brokerDrain(ctx, args, stdout, stderr, true)
	},
	"undrain": func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		return brokerDrain(ctx, args, stdout, stderr, false)
	},
}

// drainOptions are the flags and argument of "spotstream broker
// drain|undrain".
type drainOptions struct {
	conn           adminConn
	json           bool
	id             int32
	leadershipOnly bool
	wait           bool
}

func (o drainOptions) connection() adminConn { return o.conn }

func parseDrainOptions(drain bool) func([]string, io.Writer) (drainOptions, error) {
	return func(args []string, stderr io.Writer) (drainOptions, error) {
		o := drainOptions{conn: defaultAdminConn()}
		name, synopsis := "broker undrain", undrainSynopsis
		if drain {
			name, synopsis = "broker drain", drainSynopsis
		}
		fs := newAdminFlagSet(name, synopsis, stderr)
		o.conn.register(fs)
		registerOutput(fs, &o.json, "json prints the outcome as one JSON object")
		if drain {
			fs.BoolVar(&o.leadershipOnly, "leadership-only", false, "move leadership only: the broker keeps taking new replicas and no temporary replica is added")
			fs.BoolVar(&o.wait, "wait", false, "wait until the broker leads no partition that another in-sync replica could lead (bounded by --timeout)")
		}
		pos, err := parseInterspersed(fs, args)
		if err != nil {
			return o, err
		}
		if len(pos) != 1 {
			return o, fmt.Errorf("want one broker id, got %d arguments", len(pos))
		}
		id, err := strconv.ParseInt(pos[0], 10, 32)
		if err != nil || id < 0 {
			return o, fmt.Errorf("broker id %q: not a broker id", pos[0])
		}
		o.id = int32(id)
		if err := o.conn.validate(); err != nil {
			return o, err
		}
		return o, nil
	}
}

// drainResult is what drain and undrain print.
type drainResult struct {
	Broker int32  `json:"broker"`
	Drain  string `json:"drain"`
	// Leaderships are the partitions the broker still leads that another
	// in-sync replica could lead (after --wait: none).
	Leaderships int `json:"leaderships"`
}

// brokerDrain runs "spotstream broker drain" (drain true) or "undrain".
func brokerDrain(ctx context.Context, args []string, stdout, stderr io.Writer, drain bool) error {
	o, adm, ctx, done, err := startAdmin(ctx, args, stderr, parseDrainOptions(drain))
	if adm == nil {
		return err
	}
	defer done()
	meta, err := adm.Metadata(ctx)
	if err != nil {
		return o.conn.explainTimeout(fmt.Errorf("metadata: %w", err))
	}
	if drain && !slices.ContainsFunc(meta.Brokers, func(b kadm.BrokerDetail) bool { return b.NodeID == o.id }) {
		return fmt.Errorf("broker %d is not in the cluster (brokers: %v)", o.id, brokerIDs(meta.Brokers))
	}
	mode := "full"
	if o.leadershipOnly {
		mode = "leadership"
	}
	alter := kadm.AlterConfig{Op: kadm.SetConfig, Name: drainConfig, Value: &mode}
	if !drain {
		mode = "none"
		alter = kadm.AlterConfig{Op: kadm.DeleteConfig, Name: drainConfig}
	}
	resps, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{alter}, o.id)
	if err == nil {
		err = resps[0].Err
		if err != nil && resps[0].ErrMessage != "" {
			err = fmt.Errorf("%w: %s", err, resps[0].ErrMessage)
		}
	}
	if err != nil {
		return o.conn.explainTimeout(fmt.Errorf("setting %s of broker %d: %w", drainConfig, o.id, err))
	}
	res := drainResult{Broker: o.id, Drain: mode}
	for {
		meta, err := adm.Metadata(ctx)
		if err != nil {
			return o.conn.explainTimeout(fmt.Errorf("metadata: %w", err))
		}
		drained, err := drainedBrokers(ctx, adm, meta.Brokers)
		if err != nil {
			return o.conn.explainTimeout(err)
		}
		res.Leaderships = movableLeaderships(meta, o.id, drained)
		if !o.wait || res.Leaderships == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("broker %d still leads %d partitions that another in-sync replica could lead after --timeout %v", o.id, res.Leaderships, o.conn.timeout)
		case <-time.After(200 * time.Millisecond):
		}
	}
	if o.json {
		return writeJSON(stdout, res)
	}
	_, err = fmt.Fprintf(stdout, "broker %d: drain %s; leads %d partitions another in-sync replica could lead\n", res.Broker, res.Drain, res.Leaderships)
	return err
}

// brokerIDs returns the ids of brokers, sorted.
func brokerIDs(brokers kadm.BrokerDetails) []int32 {
	ids := make([]int32, 0, len(brokers))
	for _, b := range brokers {
		ids = append(ids, b.NodeID)
	}
	slices.Sort(ids)
	return ids
}

// drainedBrokers returns the brokers whose broker.drain is set.
func drainedBrokers(ctx context.Context, adm *kadm.Client, brokers kadm.BrokerDetails) (map[int32]bool, error) {
	out := map[int32]bool{}
	rcs, err := adm.DescribeBrokerConfigs(ctx, brokerIDs(brokers)...)
	if err != nil {
		return nil, fmt.Errorf("describe broker configs: %w", err)
	}
	for _, rc := range rcs {
		if rc.Err != nil {
			return nil, fmt.Errorf("describe configs of broker %s: %w", rc.Name, rc.Err)
		}
		for _, c := range rc.Configs {
			if c.Key == drainConfig && c.Value != nil && *c.Value != "" && *c.Value != "none" {
				if id, err := strconv.ParseInt(rc.Name, 10, 32); err == nil {
					out[int32(id)] = true
				}
			}
		}
	}
	return out, nil
}

// movableLeaderships counts the partitions broker id leads whose ISR holds
// another broker that is not drained.
func movableLeaderships(meta kadm.Metadata, id int32, drained map[int32]bool) int {
	n := 0
	for _, t := range meta.Topics {
		for _, p := range t.Partitions {
			if p.Leader == id && slices.ContainsFunc(p.ISR, func(o int32) bool { return o != id && !drained[o] }) {
				n++
			}
		}
	}
	return n
}
