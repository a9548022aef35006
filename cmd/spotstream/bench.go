package main

// This file holds "spotstream bench": its dispatch and what the produce and
// consume benchmarks share (flag parsing, progress lines, rates, output).
// The benchmarks themselves are in bench_produce.go and bench_consume.go;
// they speak only the Kafka protocol, through franz-go, so they measure any
// Kafka-compatible cluster, not only spotstream.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"time"
)

const benchUsage = `usage: spotstream bench <produce|consume> [flags]

  produce   write records as fast as possible (or at --rate) and measure
            throughput and the latency of each record's acknowledgement
  consume   read records back and measure throughput

Progress goes to stderr once a second; the result goes to stdout. Ctrl-C
stops the run and prints the result so far.

Run 'spotstream bench produce -h' or 'spotstream bench consume -h' for flags.
`

// mib is the "MB" of every rate printed: Kafka's perf tools divide by
// 1024*1024 too, so the numbers compare.
const mib = 1 << 20

// progressInterval is how often a progress line is printed.
const progressInterval = time.Second

// errInterrupted is returned, after the result is printed, when a signal
// cut the run short.
var errInterrupted = errors.New("interrupted")

// bench runs "spotstream bench <produce|consume> [flags]".
func bench(args []string) error {
	ctx, stop := commandContext()
	defer stop()
	return runBench(ctx, args, os.Stdout, os.Stderr)
}

// benchSubcommands are the benchmarks.
var benchSubcommands = map[string]subcommand{"produce": benchProduce, "consume": benchConsume}

// runBench dispatches to a benchmark. The run stops early, printing what it
// measured so far, when ctx is done.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return dispatch(ctx, args, stdout, stderr, benchUsage, benchSubcommands)
}

// newFlagSet returns a flag set for a bench subcommand that reports errors
// instead of exiting and prints synopsis above the flag list on -h.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("bench "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, which must all be flags. Its errors are usage
// errors (flag.ErrHelp among them, still found by errors.Is).
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

// flagWasSet reports whether the command line set the named flag.
func flagWasSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// splitBrokers splits a comma-separated list of host:port seeds, dropping
// blanks.
func splitBrokers(s string) []string {
	var out []string
	for b := range strings.SplitSeq(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// checkCommon validates the flags every subcommand has.
func checkCommon(brokers, topic string) error {
	if len(splitBrokers(brokers)) == 0 {
		return errors.New("--bootstrap-server: no broker given")
	}
	if topic == "" {
		return errors.New("--topic: empty")
	}
	return nil
}

// window accumulates what happened since the last progress line.
type window struct {
	start  time.Time
	n      int64
	bytes  int64
	latSum time.Duration
	latMax time.Duration
}

// add counts one record of size bytes, acknowledged after lat (zero when
// latency is not measured).
func (w *window) add(size int, lat time.Duration) {
	w.n++
	w.bytes += int64(size)
	w.latSum += lat
	w.latMax = max(w.latMax, lat)
}

// roll returns the window that ends at now and its length, and starts the
// next one.
func (w *window) roll(now time.Time) (window, time.Duration) {
	done := *w
	*w = window{start: now}
	return done, now.Sub(done.start)
}

// avgLatency returns the mean latency of the window's records.
func (w window) avgLatency() time.Duration {
	if w.n == 0 {
		return 0
	}
	return w.latSum / time.Duration(w.n)
}

// startProgress calls report every interval until the returned stop is
// called; stop waits for a report under way, so that no progress line can
// follow the final result.
func startProgress(interval time.Duration, report func(now time.Time)) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				report(now)
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// perSecond returns n per second over d, or 0 if d is not positive.
func perSecond(n float64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return n / d.Seconds()
}

// millis returns d in milliseconds.
func millis(d time.Duration) float64 {
	return float64(d) / float64(time.Millisecond)
}

// round returns x rounded to the given number of decimals, to keep JSON
// output free of meaningless digits.
func round(x float64, decimals int) float64 {
	p := math.Pow10(decimals)
	return math.Round(x*p) / p
}

// writeJSON writes v as one line of JSON.
func writeJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
