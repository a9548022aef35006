package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

const produceSynopsis = `usage: spotstream bench produce [flags]

Produce records to a topic and measure throughput and latency. The latency of
a record is the time from the Produce call (which blocks while --in-flight
records are outstanding) to its acknowledgement. The run stops after
--records records or --duration, whichever comes first; with only --duration,
there is no record limit.

Examples:
  spotstream bench produce --records 1000000 --record-size 1024
  spotstream bench produce --duration 60s --rate 20000 --warmup 100000 --json

The command fails (exit status 1) if any record failed.

Flags (-flag and --flag both work):
`

const (
	// drainGrace bounds how long an interrupted run waits for the records
	// already handed to the client.
	drainGrace = 5 * time.Second
	// maxPrintedErrors is how many produce errors are printed as they
	// happen; all of them are counted.
	maxPrintedErrors = 5
)

// produceOptions are the flags of "spotstream bench produce".
type produceOptions struct {
	brokers           string
	topic             string
	partitions        int
	replicationFactor int
	create            bool
	records           int // 0: no limit (needs duration)
	duration          time.Duration
	recordSize        int
	acks              string
	idempotent        bool
	inFlight          int
	maxRequests       int // produce requests in flight per broker without idempotence
	linger            time.Duration
	batchMaxBytes     int // 0: franz-go's default
	compression       string
	rate              float64 // records per second; 0: no limit
	warmup            int
	json              bool
}

// defaultProduceOptions returns the options of a run with no flags.
func defaultProduceOptions() produceOptions {
	return produceOptions{
		brokers:           "127.0.0.1:9092",
		topic:             "bench",
		partitions:        6,
		replicationFactor: -1,
		create:            true,
		records:           1_000_000,
		recordSize:        1024,
		acks:              "all",
		idempotent:        true,
		inFlight:          256,
		maxRequests:       5,
		compression:       "none",
	}
}

// register defines the flags on fs, with o's values as defaults.
func (o *produceOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.brokers, "bootstrap-server", o.brokers, "comma-separated seed brokers, host:port")
	fs.StringVar(&o.brokers, "brokers", o.brokers, "alias of --bootstrap-server")
	fs.StringVar(&o.topic, "topic", o.topic, "topic to produce to")
	fs.IntVar(&o.partitions, "partitions", o.partitions, "partitions of the topic if it is created")
	fs.IntVar(&o.replicationFactor, "replication-factor", o.replicationFactor, "replication factor of the topic if it is created; -1: the broker's default")
	fs.BoolVar(&o.create, "create", o.create, "create the topic if it does not exist")
	fs.IntVar(&o.records, "records", o.records, "records to produce; 0: no limit (needs --duration)")
	fs.DurationVar(&o.duration, "duration", o.duration, "stop after this long; 0: no limit")
	fs.IntVar(&o.recordSize, "record-size", o.recordSize, "bytes of each record's value")
	fs.StringVar(&o.acks, "acks", o.acks, "acknowledgements: all, 1 or 0")
	fs.BoolVar(&o.idempotent, "idempotent", o.idempotent, "idempotent producer; forced off unless --acks all")
	fs.IntVar(&o.inFlight, "in-flight", o.inFlight, "records buffered or in flight at once")
	fs.IntVar(&o.maxRequests, "max-requests-in-flight", o.maxRequests,
		"produce requests in flight per broker when idempotence is off (max.in.flight.requests.per.connection); idempotent producers use 5")
	fs.DurationVar(&o.linger, "linger", o.linger, "how long a partition waits to fill a batch")
	fs.IntVar(&o.batchMaxBytes, "batch-max-bytes", o.batchMaxBytes, "largest record batch; 0: franz-go's default (1000012)")
	fs.StringVar(&o.compression, "compression", o.compression, "codec: none, gzip, snappy, lz4 or zstd")
	fs.Float64Var(&o.rate, "rate", o.rate, "records per second at most; 0: as fast as possible")
	fs.IntVar(&o.warmup, "warmup", o.warmup, "first records left out of the result")
	fs.BoolVar(&o.json, "json", o.json, "also print the result as one JSON object")
}

// parseProduceOptions parses the command line of "bench produce". It notes
// on stderr a flag it overrides.
func parseProduceOptions(args []string, stderr io.Writer) (produceOptions, error) {
	o := defaultProduceOptions()
	fs := newFlagSet("produce", produceSynopsis, stderr)
	o.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return o, err
	}
	if o.duration > 0 && !flagWasSet(fs, "records") {
		o.records = 0
	}
	if o.acks != "all" && o.idempotent {
		if flagWasSet(fs, "idempotent") {
			fmt.Fprintf(stderr, "note: --idempotent needs --acks all; producing without idempotence\n")
		}
		o.idempotent = false
	}
	return o, o.validate()
}

// validate checks the options for consistency.
func (o *produceOptions) validate() error {
	if err := checkCommon(o.brokers, o.topic); err != nil {
		return err
	}
	if _, err := parseAcks(o.acks); err != nil {
		return err
	}
	if _, err := parseCompression(o.compression); err != nil {
		return err
	}
	switch {
	case o.records < 0:
		return errors.New("--records: negative")
	case o.duration < 0:
		return errors.New("--duration: negative")
	case o.records == 0 && o.duration == 0:
		return errors.New("no limit: set --records or --duration")
	case o.warmup < 0 || (o.records > 0 && o.warmup >= o.records):
		return fmt.Errorf("--warmup %d: must be at least 0 and below --records %d", o.warmup, o.records)
	case o.recordSize < 0:
		return errors.New("--record-size: negative")
	case o.inFlight < 1:
		return errors.New("--in-flight: must be at least 1")
	case o.maxRequests < 1:
		return errors.New("--max-requests-in-flight: must be at least 1")
	case o.linger < 0 || o.linger > time.Minute:
		return errors.New("--linger: must be between 0 and 1m")
	case o.batchMaxBytes < 0 || o.batchMaxBytes > 1<<30:
		return errors.New("--batch-max-bytes: must be between 0 and 1 GiB")
	case o.rate < 0:
		return errors.New("--rate: negative")
	case o.partitions < 1 || o.partitions > 1<<31-1:
		return errors.New("--partitions: must be at least 1")
	case o.replicationFactor < -1 || o.replicationFactor == 0 || o.replicationFactor > 1<<15-1:
		return errors.New("--replication-factor: must be -1 or at least 1")
	}
	return nil
}

// parseAcks maps the --acks flag to franz-go's setting.
func parseAcks(s string) (kgo.Acks, error) {
	switch s {
	case "all", "-1":
		return kgo.AllISRAcks(), nil
	case "1":
		return kgo.LeaderAck(), nil
	case "0":
		return kgo.NoAck(), nil
	}
	return kgo.Acks{}, fmt.Errorf("--acks %q: want all, 1 or 0", s)
}

// parseCompression maps the --compression flag to a franz-go codec.
func parseCompression(s string) (kgo.CompressionCodec, error) {
	switch s {
	case "none":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("--compression %q: want none, gzip, snappy, lz4 or zstd", s)
}

// clientOptions returns the franz-go configuration of the producing client.
// The options must be valid.
func (o *produceOptions) clientOptions() []kgo.Opt {
	acks, _ := parseAcks(o.acks)
	codec, _ := parseCompression(o.compression)
	opts := []kgo.Opt{
		kgo.SeedBrokers(splitBrokers(o.brokers)...),
		kgo.ClientID("spotstream-bench"),
		kgo.DefaultProduceTopic(o.topic),
		kgo.RequiredAcks(acks),
		kgo.MaxBufferedRecords(o.inFlight),
		kgo.ProducerLinger(o.linger),
		kgo.ProducerBatchCompression(codec),
	}
	if !o.idempotent {
		// franz-go sends one request at a time without idempotence; Kafka's
		// producers default to 5, which is what a comparison wants.
		opts = append(opts, kgo.DisableIdempotentWrite(), kgo.MaxProduceRequestsInflightPerBroker(o.maxRequests))
	}
	if o.batchMaxBytes > 0 {
		opts = append(opts, kgo.ProducerBatchMaxBytes(int32(o.batchMaxBytes)))
	}
	return opts
}

// benchProduce runs "spotstream bench produce".
func benchProduce(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseProduceOptions(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(o.clientOptions()...)
	if err != nil {
		return fmt.Errorf("new client: %w", err)
	}
	defer cl.Close()
	if o.create {
		err := ensureTopic(ctx, kadm.NewClient(cl), o.topic, int32(o.partitions), int16(o.replicationFactor), stderr)
		if err != nil {
			return err
		}
	}
	run := newProduceRun(o, cl, stderr)
	res := run.run(ctx)
	if err := printProduceResult(stdout, res, o.json); err != nil {
		return err
	}
	switch {
	case res.Errors > 0:
		return fmt.Errorf("%d records failed", res.Errors)
	case res.Interrupted:
		return errInterrupted
	}
	return nil
}

// ensureTopic creates topic unless it exists.
func ensureTopic(ctx context.Context, adm *kadm.Client, topic string, partitions int32, rf int16, stderr io.Writer) error {
	resp, err := adm.CreateTopic(ctx, partitions, rf, nil, topic)
	switch {
	case errors.Is(err, kerr.TopicAlreadyExists):
		return nil
	case err != nil && resp.ErrMessage != "":
		return fmt.Errorf("create topic %q: %w: %s", topic, err, resp.ErrMessage)
	case err != nil:
		return fmt.Errorf("create topic %q: %w", topic, err)
	}
	fmt.Fprintf(stderr, "created topic %q with %d partitions\n", topic, partitions)
	return nil
}

// payload returns size bytes of random capital letters, as Kafka's
// producer perf test sends: cheap to make once, not a run of one byte that
// compression would make meaningless, nor incompressible noise. The seed is
// fixed so runs compare.
func payload(size int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, size)
	for i := range b {
		b[i] = byte('A' + r.IntN(26))
	}
	return b
}

// produceRun is one produce benchmark: the loop that hands records to the
// client and the promises that count their outcome.
type produceRun struct {
	opts   produceOptions
	cl     *kgo.Client
	value  []byte
	stderr io.Writer

	mu      sync.Mutex // guards the fields below, written by promises
	hist    *histogram // latencies of acknowledged records past the warmup
	bytes   int64      // bytes of the records in hist
	lastAck time.Time  // when the last record in hist was acknowledged
	win     window     // every record acknowledged since the last progress line
	acked   int        // records acknowledged, warmup included
	errors  int        // records that failed
	aborted int        // records the run itself gave up on when interrupted
}

// newProduceRun prepares a run with the given valid options and client.
func newProduceRun(o produceOptions, cl *kgo.Client, stderr io.Writer) *produceRun {
	return &produceRun{
		opts:   o,
		cl:     cl,
		value:  payload(o.recordSize),
		stderr: stderr,
		hist:   newHistogram(),
	}
}

// produceResult is the outcome of a produce run, as printed.
type produceResult struct {
	Records       uint64         `json:"records"` // acknowledged, past the warmup
	Bytes         int64          `json:"bytes"`
	ElapsedSec    float64        `json:"elapsed_sec"`
	RecordsPerSec float64        `json:"records_per_sec"`
	MBPerSec      float64        `json:"mb_per_sec"`
	LatencyMs     latencySummary `json:"latency_ms"`
	Warmup        int            `json:"warmup_records"`
	Errors        int            `json:"errors"`
	Aborted       int            `json:"aborted"`
	Interrupted   bool           `json:"interrupted"`
}

// latencySummary is the latency distribution of a run, in milliseconds.
type latencySummary struct {
	Avg  float64 `json:"avg"`
	P50  float64 `json:"p50"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
}

// summarize returns the latency distribution recorded in h.
func summarize(h *histogram) latencySummary {
	return latencySummary{
		Avg:  round(millis(h.mean()), 3),
		P50:  round(millis(h.quantile(0.50)), 3),
		P95:  round(millis(h.quantile(0.95)), 3),
		P99:  round(millis(h.quantile(0.99)), 3),
		P999: round(millis(h.quantile(0.999)), 3),
		Max:  round(millis(h.max), 3),
	}
}

// run produces until the record limit, the duration or ctx ends the run,
// waits for the outstanding records and returns the result.
func (r *produceRun) run(ctx context.Context) produceResult {
	until := ctx
	if r.opts.duration > 0 {
		var cancel context.CancelFunc
		until, cancel = context.WithTimeout(ctx, r.opts.duration)
		defer cancel()
	}
	r.win = window{start: time.Now()} // no promise can run yet
	stop := startProgress(progressInterval, r.printProgress)
	start, produced := r.produceLoop(ctx, until)
	r.drain(ctx)
	stop()
	return r.result(start, produced, ctx.Err() != nil)
}

// produceLoop hands records to the client until the record limit or until
// the until context is done. Records are produced with ctx, so that only an
// interrupt, not the end of --duration, fails a record waiting for buffer
// space. It returns when the first measured (post-warmup) record was
// produced and how many records were produced.
func (r *produceRun) produceLoop(ctx, until context.Context) (measureStart time.Time, produced int) {
	pace := newPacer(r.opts.rate, time.Now())
	for seq := 0; r.opts.records == 0 || seq < r.opts.records; seq++ {
		if pace.wait(until) != nil {
			break
		}
		start := time.Now()
		if seq == r.opts.warmup {
			measureStart = start
		}
		r.cl.Produce(ctx, &kgo.Record{Value: r.value}, r.promise(seq >= r.opts.warmup, start))
		produced++
	}
	return measureStart, produced
}

// promise returns the callback of a record handed to the client at start;
// measured tells whether it is past the warmup.
func (r *produceRun) promise(measured bool, start time.Time) func(*kgo.Record, error) {
	return func(rec *kgo.Record, err error) {
		now := time.Now()
		lat := now.Sub(start)
		r.mu.Lock()
		defer r.mu.Unlock()
		switch {
		case err == nil:
			size := len(rec.Key) + len(rec.Value)
			r.win.add(size, lat)
			r.acked++
			if measured {
				r.hist.record(lat)
				r.bytes += int64(size)
				r.lastAck = now
			}
		case isAbort(err):
			r.aborted++
		default:
			r.errors++
			if r.errors <= maxPrintedErrors {
				fmt.Fprintf(r.stderr, "produce error: %v\n", err)
			}
		}
	}
}

// isAbort reports whether err failed a record because the run itself gave
// up on it (a signal, closing the client) rather than because of the
// cluster.
func isAbort(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, kgo.ErrClientClosed)
}

// drain waits for the promises of all records handed to the client. If ctx
// is done (interrupted) it waits at most drainGrace; records still
// outstanding then count as aborted when the result is taken.
func (r *produceRun) drain(ctx context.Context) {
	if ctx.Err() == nil && r.cl.Flush(ctx) == nil {
		return
	}
	graceCtx, cancel := context.WithTimeout(context.Background(), drainGrace)
	defer cancel()
	if err := r.cl.Flush(graceCtx); err != nil {
		fmt.Fprintf(r.stderr, "gave up on %d records still in flight\n", r.cl.BufferedProduceRecords())
	}
}

// printProgress prints the progress line of the window ending at now.
func (r *produceRun) printProgress(now time.Time) {
	r.mu.Lock()
	w, d := r.win.roll(now)
	r.mu.Unlock()
	fmt.Fprintf(r.stderr, "%d records sent, %.1f records/s (%.2f MB/s), avg latency %.2f ms, max latency %.2f ms\n",
		w.n, perSecond(float64(w.n), d), perSecond(float64(w.bytes)/mib, d),
		millis(w.avgLatency()), millis(w.latMax))
}

// result summarizes the run. measureStart is when the first measured record
// was produced (zero if none was); produced counts the records handed to the
// client, those whose promise has not run yet count as aborted.
func (r *produceRun) result(measureStart time.Time, produced int, interrupted bool) produceResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := r.hist
	var elapsed time.Duration
	if !measureStart.IsZero() && !r.lastAck.IsZero() {
		elapsed = r.lastAck.Sub(measureStart)
	}
	outstanding := produced - r.acked - r.errors - r.aborted
	return produceResult{
		Records:       h.count(),
		Bytes:         r.bytes,
		ElapsedSec:    round(elapsed.Seconds(), 3),
		RecordsPerSec: round(perSecond(float64(h.count()), elapsed), 1),
		MBPerSec:      round(perSecond(float64(r.bytes)/mib, elapsed), 2),
		LatencyMs:     summarize(h),
		Warmup:        min(r.opts.warmup, produced),
		Errors:        r.errors,
		Aborted:       r.aborted + outstanding,
		Interrupted:   interrupted,
	}
}

// printProduceResult prints the result line, and the JSON object if asked.
func printProduceResult(w io.Writer, res produceResult, asJSON bool) error {
	l := res.LatencyMs
	line := fmt.Sprintf("%d records sent, %.2f records/s (%.2f MB/s), avg latency %.2f ms, "+
		"p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max latency %.2f ms, %d errors",
		res.Records, res.RecordsPerSec, res.MBPerSec, l.Avg, l.P50, l.P95, l.P99, l.P999, l.Max, res.Errors)
	if res.Aborted > 0 {
		line += fmt.Sprintf(", %d aborted", res.Aborted)
	}
	if _, err := fmt.Fprintln(w, line); err != nil {
		return err
	}
	if asJSON {
		return writeJSON(w, res)
	}
	return nil
}
