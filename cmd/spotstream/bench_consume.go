package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

const consumeSynopsis = `usage: spotstream bench consume [flags]

Consume records from a topic and measure throughput. Without --group, every
partition is read directly from its start; with --group, the records are
consumed as a member of that group, from its committed offsets (or the start),
and the offsets are committed. The run stops after --records records, or
fails (exit status 1) when none has arrived for --timeout before that. Rates
are over the whole run, from before the client connects to the last record;
the time to the first record shows how much of it was startup (and joining
the group). The JSON result adds steady rates, which leave the startup out.

The end-to-end latency of a record is the time from its timestamp (set by
the producer, CreateTime) to its arrival here. It means what it says only for
records produced while the consumer runs, on a machine with the same clock:
start with --start end alongside "bench produce".

Examples:
  spotstream bench consume --topic bench
  spotstream bench consume --topic bench --group bench-readers --records 500000
  spotstream bench consume --topic bench --start end --records 1000000 &
  spotstream bench produce --topic bench --records 1000000 --rate 50000

Flags (-flag and --flag both work):
`

// commitTimeout bounds the final offset commit of a group consumer.
const commitTimeout = 5 * time.Second

// consumeOptions are the flags of "spotstream bench consume".
type consumeOptions struct {
	brokers       string
	topic         string
	records       int64 // 0: the records present at start
	group         string
	fetchMaxBytes int // 0: franz-go's default
	timeout       time.Duration
	fromEnd       bool // start at the end offsets instead of the log start
	json          bool
}

// defaultConsumeOptions returns the options of a run with no flags.
func defaultConsumeOptions() consumeOptions {
	return consumeOptions{
		brokers: "127.0.0.1:9092",
		topic:   "bench",
		timeout: 10 * time.Second,
	}
}

// register defines the flags on fs, with o's values as defaults.
func (o *consumeOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.brokers, "bootstrap-server", o.brokers, "comma-separated seed brokers, host:port")
	fs.StringVar(&o.brokers, "brokers", o.brokers, "alias of --bootstrap-server")
	fs.StringVar(&o.topic, "topic", o.topic, "topic to consume")
	fs.Int64Var(&o.records, "records", o.records, "records to consume; 0: all records present at start")
	fs.StringVar(&o.group, "group", o.group, "consume as a member of this consumer group; empty: read partitions directly")
	fs.IntVar(&o.fetchMaxBytes, "fetch-max-bytes", o.fetchMaxBytes, "most bytes per fetch response; 0: franz-go's default (50 MiB)")
	fs.DurationVar(&o.timeout, "timeout", o.timeout, "give up when no record arrives for this long")
	fs.Func("start", "where to start without a committed offset: start (the log start) or end (records produced from now on; needs --records)", func(v string) error {
		switch v {
		case "start":
			o.fromEnd = false
		case "end":
			o.fromEnd = true
		default:
			return errors.New(`want "start" or "end"`)
		}
		return nil
	})
	fs.BoolVar(&o.json, "json", o.json, "also print the result as one JSON object")
}

// parseConsumeOptions parses the command line of "bench consume".
func parseConsumeOptions(args []string, stderr io.Writer) (consumeOptions, error) {
	o := defaultConsumeOptions()
	fs := newFlagSet("consume", consumeSynopsis, stderr)
	o.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return o, err
	}
	return o, o.validate()
}

// validate checks the options for consistency.
func (o *consumeOptions) validate() error {
	if err := checkCommon(o.brokers, o.topic); err != nil {
		return err
	}
	switch {
	case o.records < 0:
		return errors.New("--records: negative")
	case o.fetchMaxBytes < 0 || o.fetchMaxBytes > 1<<30:
		return errors.New("--fetch-max-bytes: must be between 0 and 1 GiB")
	case o.timeout <= 0:
		return errors.New("--timeout: must be positive")
	case o.fromEnd && o.records == 0:
		return errors.New("--start end: needs --records, as no record is present at start")
	}
	return nil
}

// clientOptions returns the franz-go configuration of the consuming client.
func (o *consumeOptions) clientOptions() []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(splitBrokers(o.brokers)...),
		kgo.ClientID("spotstream-bench"),
		kgo.ConsumeTopics(o.topic),
	}
	if o.fromEnd {
		opts = append(opts, kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))
	} else {
		opts = append(opts, kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	}
	if o.group != "" {
		opts = append(opts, kgo.ConsumerGroup(o.group))
	}
	if o.fetchMaxBytes > 0 {
		opts = append(opts, kgo.FetchMaxBytes(int32(o.fetchMaxBytes)))
	}
	return opts
}

// benchConsume runs "spotstream bench consume".
func benchConsume(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseConsumeOptions(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	target := o.records
	if target == 0 {
		if target, err = recordsPresent(ctx, o); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "consuming the %d records present in %q\n", target, o.topic)
	}
	run := &consumeRun{opts: o, target: target, stderr: stderr, hist: newHistogram()}
	res, runErr := run.run(ctx)
	if err := printConsumeResult(stdout, res, o.json); err != nil {
		return err
	}
	return runErr
}

// recordsPresent returns how many records the consumer described by o
// would find now: the sum over the topic's partitions of the end offset
// minus where it starts, the group's committed offset or else the log start.
// Transaction markers and compacted-away records make it an upper bound.
func recordsPresent(ctx context.Context, o consumeOptions) (int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(splitBrokers(o.brokers)...), kgo.ClientID("spotstream-bench"))
	if err != nil {
		return 0, fmt.Errorf("new client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	starts, err := listOffsets(ctx, adm.ListStartOffsets, o.topic)
	if err != nil {
		return 0, fmt.Errorf("list start offsets of %q: %w", o.topic, err)
	}
	ends, err := listOffsets(ctx, adm.ListEndOffsets, o.topic)
	if err != nil {
		return 0, fmt.Errorf("list end offsets of %q: %w", o.topic, err)
	}
	committed, err := groupOffsets(ctx, adm, o.group)
	if err != nil {
		return 0, err
	}
	var total int64
	ends.Each(func(end kadm.ListedOffset) {
		start, _ := starts.Lookup(end.Topic, end.Partition)
		commit := int64(-1)
		if c, ok := committed.Lookup(end.Topic, end.Partition); ok {
			commit = c.At
		}
		total += pending(start.Offset, end.Offset, commit)
	})
	return total, nil
}

// groupOffsets returns the committed offsets of group: none if group is
// empty or unknown to the cluster.
func groupOffsets(ctx context.Context, adm *kadm.Client, group string) (kadm.OffsetResponses, error) {
	if group == "" {
		return nil, nil
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if err == nil {
		err = committed.Error()
	}
	switch {
	case errors.Is(err, kerr.GroupIDNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("fetch offsets of group %q: %w", group, err)
	}
	return committed, nil
}

// listOffsets calls one of kadm's List*Offsets for topic and checks every
// partition's error.
func listOffsets(ctx context.Context, list func(context.Context, ...string) (kadm.ListedOffsets, error), topic string) (kadm.ListedOffsets, error) {
	offsets, err := list(ctx, topic)
	if err == nil {
		err = offsets.Error()
	}
	return offsets, err
}

// pending returns how many offsets lie between where a consumer starts in a
// partition and its end offset. It starts at the committed offset
// (negative: none) unless that is below the log start offset, where a
// consumer resetting to the start would go.
func pending(start, end, committed int64) int64 {
	from := max(start, committed)
	return max(end-from, 0)
}

// stopReason says why a consume run ended.
type stopReason int

const (
	reachedTarget stopReason = iota
	idleTimeout
	interrupted
	fetchFailed
)

// consumeRun is one consume benchmark.
type consumeRun struct {
	opts   consumeOptions
	target int64
	stderr io.Writer

	mu     sync.Mutex // guards the fields below, read by progress lines
	win    window
	n      int64
	bytes  int64
	first  time.Time  // when the first records arrived
	firstN int64      // how many records the first poll returned
	firstB int64      // and their bytes
	last   time.Time  // when the last record arrived
	hist   *histogram // end-to-end latency: record timestamp to arrival
	reason stopReason
	err    error // why fetching failed
}

// consumeResult is the outcome of a consume run, as printed.
type consumeResult struct {
	Records       int64   `json:"records"`
	Bytes         int64   `json:"bytes"`
	MB            float64 `json:"mb"`
	MBPerSec      float64 `json:"mb_per_sec"`
	RecordsPerSec float64 `json:"records_per_sec"`
	ElapsedSec    float64 `json:"elapsed_sec"`
	FirstRecordMs float64 `json:"first_record_ms"`
	// The steady rates leave out the startup and the first poll's records:
	// they are over the records polled after the first poll, from then on.
	SteadyMBPerSec      float64 `json:"steady_mb_per_sec"`
	SteadyRecordsPerSec float64 `json:"steady_records_per_sec"`
	// EndToEndMs is the distribution of arrival time minus record
	// timestamp.
	EndToEndMs  latencySummary `json:"end_to_end_latency_ms"`
	Target      int64          `json:"target"`
	TimedOut    bool           `json:"timed_out"`
	Interrupted bool           `json:"interrupted"`
}

// run consumes until the target, the idle timeout, a fetch error or ctx
// ends the run, and returns the result and, unless the target was reached,
// an error saying why not.
func (c *consumeRun) run(ctx context.Context) (consumeResult, error) {
	start := time.Now()
	if c.target == 0 {
		return c.result(start), nil
	}
	cl, err := kgo.NewClient(c.opts.clientOptions()...)
	if err != nil {
		return c.result(start), fmt.Errorf("new client: %w", err)
	}
	defer cl.Close()
	c.win = window{start: start} // no progress line runs yet
	stop := startProgress(progressInterval, c.printProgress)
	c.pollLoop(ctx, cl, start)
	stop()
	res := c.result(start)
	if c.opts.group != "" {
		c.commit(cl)
	}
	return res, c.stopError()
}

// commit commits the offsets of every record polled, so that the next run
// with the same group starts after them. Autocommitting alone would leave
// the last poll uncommitted.
func (c *consumeRun) commit(cl *kgo.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		fmt.Fprintf(c.stderr, "warning: commit offsets of group %q: %v\n", c.opts.group, err)
	}
}

// pollLoop polls until the target is reached or something else ends the
// run, and records why it ended.
func (c *consumeRun) pollLoop(ctx context.Context, cl *kgo.Client, start time.Time) {
	lastActivity, got := start, int64(0)
	for got < c.target {
		pollCtx, cancel := context.WithDeadline(ctx, lastActivity.Add(c.opts.timeout))
		fetches := cl.PollRecords(pollCtx, int(min(c.target-got, 1<<30)))
		cancel()
		now := time.Now()
		n := fetches.NumRecords()
		if n > 0 {
			got += int64(n)
			lastActivity = now
			c.add(now, fetches)
		}
		if err := fetchError(fetches); err != nil {
			c.stop(fetchFailed, err)
			return
		}
		if ctx.Err() != nil {
			c.stop(interrupted, nil)
			return
		}
		if n == 0 && !now.Before(lastActivity.Add(c.opts.timeout)) {
			c.stop(idleTimeout, nil)
			return
		}
	}
	c.stop(reachedTarget, nil)
}

// fetchError returns the first error in fetches, ignoring the ones a
// poll's own context injects when it ends.
func fetchError(fetches kgo.Fetches) error {
	for _, fe := range fetches.Errors() {
		if errors.Is(fe.Err, context.Canceled) || errors.Is(fe.Err, context.DeadlineExceeded) {
			continue
		}
		if fe.Topic == "" {
			return fmt.Errorf("fetch: %w", fe.Err)
		}
		return fmt.Errorf("fetch %s/%d: %w", fe.Topic, fe.Partition, fe.Err)
	}
	return nil
}

// add counts the records of fetches, which arrived at now.
func (c *consumeRun) add(now time.Time, fetches kgo.Fetches) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n, size int64
	fetches.EachRecord(func(r *kgo.Record) {
		n++
		size += int64(len(r.Key) + len(r.Value))
		c.hist.record(max(now.Sub(r.Timestamp), 0))
	})
	if c.n == 0 {
		c.first, c.firstN, c.firstB = now, n, size
	}
	c.n += n
	c.bytes += size
	c.last = now
	c.win.n += n
	c.win.bytes += size
}

// stop records why the run ended.
func (c *consumeRun) stop(reason stopReason, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reason, c.err = reason, err
}

// stopError returns nil if the run reached its target, or why it did not.
func (c *consumeRun) stopError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.reason {
	case idleTimeout:
		return fmt.Errorf("no record for %v: consumed %d of %d records", c.opts.timeout, c.n, c.target)
	case interrupted:
		return errInterrupted
	case fetchFailed:
		return c.err
	}
	return nil
}

// printProgress prints the progress line of the window ending at now.
func (c *consumeRun) printProgress(now time.Time) {
	c.mu.Lock()
	w, d := c.win.roll(now)
	total := c.n
	c.mu.Unlock()
	fmt.Fprintf(c.stderr, "%d records consumed, %.1f records/s (%.2f MB/s), %d of %d in total\n",
		w.n, perSecond(float64(w.n), d), perSecond(float64(w.bytes)/mib, d), total, c.target)
}

// result summarizes the run, which began at start.
func (c *consumeRun) result(start time.Time) consumeResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	var elapsed, toFirst time.Duration
	if c.n > 0 {
		elapsed, toFirst = c.last.Sub(start), c.first.Sub(start)
	}
	mb := float64(c.bytes) / mib
	steadyN, steadyMB := float64(c.n-c.firstN), float64(c.bytes-c.firstB)/mib
	return consumeResult{
		Records:             c.n,
		Bytes:               c.bytes,
		MB:                  round(mb, 2),
		MBPerSec:            round(perSecond(mb, elapsed), 2),
		RecordsPerSec:       round(perSecond(float64(c.n), elapsed), 1),
		ElapsedSec:          round(elapsed.Seconds(), 3),
		FirstRecordMs:       round(millis(toFirst), 3),
		SteadyMBPerSec:      round(perSecond(steadyMB, elapsed-toFirst), 2),
		SteadyRecordsPerSec: round(perSecond(steadyN, elapsed-toFirst), 1),
		EndToEndMs:          summarize(c.hist),
		Target:              c.target,
		TimedOut:            c.reason == idleTimeout,
		Interrupted:         c.reason == interrupted,
	}
}

// printConsumeResult prints the result line, and the JSON object if asked.
func printConsumeResult(w io.Writer, res consumeResult, asJSON bool) error {
	l := res.EndToEndMs
	_, err := fmt.Fprintf(w, "%d records consumed, %.2f MB, %.2f MB/s, %.1f records/s, elapsed %.3f s, first record after %.2f ms, "+
		"end-to-end latency p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms\n",
		res.Records, res.MB, res.MBPerSec, res.RecordsPerSec, res.ElapsedSec, res.FirstRecordMs, l.P50, l.P99, l.P999, l.Max)
	if err != nil || !asJSON {
		return err
	}
	return writeJSON(w, res)
}
