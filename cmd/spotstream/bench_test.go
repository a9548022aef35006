package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestHistIndexBounds(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	check := func(v uint64) {
		t.Helper()
		i := histIndex(v)
		if i < 0 || i >= histBuckets {
			t.Fatalf("histIndex(%d) = %d, outside [0, %d)", v, i, histBuckets)
		}
		lo, hi := histBounds(i)
		if v < lo || v > hi {
			t.Fatalf("histIndex(%d) = %d with bounds [%d, %d]", v, i, lo, hi)
		}
		if width := float64(hi - lo + 1); width/float64(lo) > 1.0/histSubBuckets+1e-12 && lo >= histExact {
			t.Fatalf("bucket %d [%d, %d] is %.4f of its lower bound wide", i, lo, hi, width/float64(lo))
		}
	}
	for v := range uint64(4096) {
		check(v)
	}
	for range 100_000 {
		check(r.Uint64N(math.MaxInt64))
		check(uint64(1) << r.IntN(63))
	}
	check(math.MaxInt64)
}

func TestHistBucketsAreContiguous(t *testing.T) {
	var next uint64
	for i := range histBuckets {
		lo, hi := histBounds(i)
		if lo != next || hi < lo {
			t.Fatalf("bucket %d is [%d, %d], want it to start at %d", i, lo, hi, next)
		}
		next = hi + 1
	}
	if next != 1<<63 {
		t.Fatalf("buckets end at %d, want 2^63", next)
	}
}

func TestHistogramExactBelow256ns(t *testing.T) {
	h := newHistogram()
	for v := range 200 {
		h.record(time.Duration(v + 1))
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0, 1}, {0.5, 100}, {0.995, 199}, {1, 200}} {
		if got := h.quantile(tc.q); got != tc.want {
			t.Errorf("quantile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
}

// TestHistogramQuantiles compares the histogram with the exact quantiles of
// a sorted sample spread over six orders of magnitude.
func TestHistogramQuantiles(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	h := newHistogram()
	var sample []time.Duration
	var sum time.Duration
	for range 200_000 {
		d := time.Duration(math.Exp(r.NormFloat64()*2) * float64(time.Millisecond))
		h.record(d)
		sample = append(sample, d)
		sum += d
	}
	slices.Sort(sample)
	for _, q := range []float64{0, 0.001, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 0.9999, 1} {
		rank := max(int(math.Ceil(q*float64(len(sample)))), 1)
		want := sample[rank-1]
		got := h.quantile(q)
		if rel := math.Abs(float64(got-want)) / float64(want); rel > 1.0/histExact {
			t.Errorf("quantile(%v) = %v, want %v within 0.39%% (off by %.3f%%)", q, got, want, rel*100)
		}
	}
	if h.count() != uint64(len(sample)) || h.min != sample[0] || h.max != sample[len(sample)-1] {
		t.Errorf("count, min, max = %d, %v, %v; want %d, %v, %v",
			h.count(), h.min, h.max, len(sample), sample[0], sample[len(sample)-1])
	}
	if want := sum / time.Duration(len(sample)); h.mean() != want {
		t.Errorf("mean = %v, want %v", h.mean(), want)
	}
}

func TestHistogramEdges(t *testing.T) {
	h := newHistogram()
	if h.quantile(0.5) != 0 || h.mean() != 0 || h.count() != 0 {
		t.Errorf("empty histogram: quantile %v, mean %v, count %d; want zeros", h.quantile(0.5), h.mean(), h.count())
	}
	h.record(-time.Second) // a clock step; counted as zero
	h.record(time.Hour)
	if h.min != 0 || h.max != time.Hour || h.quantile(0.5) != 0 || h.quantile(1) != time.Hour {
		t.Errorf("min %v, max %v, p50 %v, p100 %v; want 0, 1h, 0, 1h", h.min, h.max, h.quantile(0.5), h.quantile(1))
	}
	if p51 := h.quantile(0.51); p51 > time.Hour || p51 < time.Hour-time.Hour/histExact {
		t.Errorf("p51 = %v, want within 0.39%% below 1h", p51)
	}
}

// TestPacerRate simulates a sender that oversleeps by up to 2 ms and checks
// the token bucket's promise: at most rate*w + burst sends in any window w,
// and the target rate over the run.
func TestPacerRate(t *testing.T) {
	for _, rate := range []float64{0.5, 10, 1000, 250_000} {
		t.Run(fmt.Sprint(rate), func(t *testing.T) {
			r := rand.New(rand.NewPCG(7, 8))
			now := time.Unix(0, 0)
			p := newPacer(rate, now)
			var sends []time.Time
			for range 5000 {
				if d := p.reserve(now); d > 0 {
					now = now.Add(d + time.Duration(r.Int64N(int64(2*time.Millisecond))))
				}
				sends = append(sends, now)
			}
			for _, w := range []time.Duration{time.Millisecond, 100 * time.Millisecond, 10 * time.Second} {
				limit := int(rate*w.Seconds()+p.burst) + 1
				for i, j := 0, 0; j < len(sends); j++ {
					for sends[j].Sub(sends[i]) >= w {
						i++
					}
					if j-i+1 > limit {
						t.Fatalf("%d sends within %v, want at most %d", j-i+1, w, limit)
					}
				}
			}
			elapsed := sends[len(sends)-1].Sub(sends[0]).Seconds()
			if got := float64(len(sends)-int(p.burst)) / elapsed; got > rate*1.001 || got < rate*0.9 {
				t.Errorf("rate %.1f/s, want %.1f/s", got, rate)
			}
		})
	}
}

func TestPacerStallDoesNotFlood(t *testing.T) {
	now := time.Unix(0, 0)
	p := newPacer(1000, now)
	for range 100 {
		now = now.Add(p.reserve(now))
	}
	now = now.Add(time.Minute) // the broker stalled the sender
	free := 0
	for p.reserve(now) == 0 {
		free++
	}
	if free != int(p.burst) {
		t.Errorf("%d sends right after a stall, want the burst %v", free, p.burst)
	}
}

func TestNilPacer(t *testing.T) {
	p := newPacer(0, time.Now())
	if p != nil {
		t.Fatalf("newPacer(0) = %+v, want nil", p)
	}
	if err := p.wait(context.Background()); err != nil {
		t.Errorf("nil pacer wait: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.wait(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("nil pacer wait on a done context: %v, want context.Canceled", err)
	}
}

func TestParseProduceOptions(t *testing.T) {
	for _, tc := range []struct {
		args    string
		check   func(produceOptions) bool
		note    string // expected on stderr
		wantErr string
	}{
		{args: "", check: func(o produceOptions) bool {
			return o.records == 1_000_000 && o.idempotent && o.acks == "all" && o.topic == "bench"
		}},
		{args: "--duration 30s", check: func(o produceOptions) bool { return o.records == 0 && o.duration == 30*time.Second }},
		{args: "--duration 30s --records 5", check: func(o produceOptions) bool { return o.records == 5 }},
		{args: "--acks 1", check: func(o produceOptions) bool { return !o.idempotent }},
		{args: "--acks 0 --idempotent", check: func(o produceOptions) bool { return !o.idempotent }, note: "--idempotent needs --acks all"},
		{args: "--compression zstd --rate 100 --warmup 10 --records 11", check: func(o produceOptions) bool { return o.rate == 100 }},
		{args: "--records 0", wantErr: "no limit"},
		{args: "--acks 2", wantErr: "--acks"},
		{args: "--compression brotli", wantErr: "--compression"},
		{args: "--warmup 10 --records 10", wantErr: "--warmup"},
		{args: "--in-flight 0", wantErr: "--in-flight"},
		{args: "--replication-factor 0", wantErr: "--replication-factor"},
		{args: "--brokers ,", wantErr: "--bootstrap-server"},
		{args: "extra", wantErr: "unexpected argument"},
		{args: "--nope", wantErr: "not defined"},
		{args: "-h", wantErr: flag.ErrHelp.Error()},
	} {
		var stderr bytes.Buffer
		o, err := parseProduceOptions(strings.Fields(tc.args), &stderr)
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: error %v, want one containing %q", tc.args, err, tc.wantErr)
			}
		case err != nil:
			t.Errorf("%q: %v", tc.args, err)
		case !tc.check(o):
			t.Errorf("%q: unexpected options %+v", tc.args, o)
		case !strings.Contains(stderr.String(), tc.note):
			t.Errorf("%q: stderr %q, want it to contain %q", tc.args, stderr.String(), tc.note)
		}
	}
}

func TestParseConsumeOptions(t *testing.T) {
	o, err := parseConsumeOptions(strings.Fields("--group g --records 7 --timeout 1s"), io.Discard)
	if err != nil || o.group != "g" || o.records != 7 || o.timeout != time.Second {
		t.Errorf("options %+v, error %v", o, err)
	}
	for _, args := range []string{"--timeout 0s", "--records -1", "--fetch-max-bytes -1", "--topic="} {
		if _, err := parseConsumeOptions(strings.Fields(args), io.Discard); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

func TestClientOptionsAreValid(t *testing.T) {
	for _, args := range []string{"", "--acks 0 --compression gzip --batch-max-bytes 16384 --linger 5ms"} {
		o, err := parseProduceOptions(strings.Fields(args), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		cl, err := kgo.NewClient(o.clientOptions()...) // validates; connects lazily
		if err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		cl.Close()
	}
	c := defaultConsumeOptions()
	c.group, c.fetchMaxBytes = "g", 1<<20
	cl, err := kgo.NewClient(c.clientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	cl.Close()
}

func TestSplitBrokers(t *testing.T) {
	for in, want := range map[string][]string{
		"a:1":              {"a:1"},
		" a:1, b:2 ,,c:3 ": {"a:1", "b:2", "c:3"},
		"":                 nil,
	} {
		if got := splitBrokers(in); !slices.Equal(got, want) {
			t.Errorf("splitBrokers(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPending(t *testing.T) {
	for _, tc := range []struct{ start, end, committed, want int64 }{
		{0, 100, -1, 100}, // no commit: from the start
		{40, 100, -1, 60}, // truncated log
		{0, 100, 30, 70},  // from the commit
		{50, 100, 30, 50}, // commit below the log start: reset to it
		{0, 100, 100, 0},  // all consumed
		{0, 100, 120, 0},  // commit past the end (truncated partition)
		{0, 0, -1, 0},     // empty
		{10, 10, -1, 0},   // empty after deletion
	} {
		if got := pending(tc.start, tc.end, tc.committed); got != tc.want {
			t.Errorf("pending(%d, %d, %d) = %d, want %d", tc.start, tc.end, tc.committed, got, tc.want)
		}
	}
}

func TestPayload(t *testing.T) {
	p := payload(1000)
	if len(p) != 1000 || !bytes.Equal(p, payload(1000)) {
		t.Fatalf("payload: length %d or not repeatable", len(p))
	}
	letters := map[byte]bool{}
	for _, b := range p {
		if b < 'A' || b > 'Z' {
			t.Fatalf("payload byte %q is not a capital letter", b)
		}
		letters[b] = true
	}
	if len(letters) != 26 {
		t.Errorf("payload uses %d letters, want 26", len(letters))
	}
	if len(payload(0)) != 0 {
		t.Errorf("payload(0) is not empty")
	}
}

func TestIsAbort(t *testing.T) {
	for err, want := range map[error]bool{
		context.Canceled:                         true,
		fmt.Errorf("x: %w", kgo.ErrClientClosed): true,
		kerr.MessageTooLarge:                     false,
		kgo.ErrRecordTimeout:                     false,
		kerr.NotEnoughReplicasAfterAppend:        false,
	} {
		if got := isAbort(err); got != want {
			t.Errorf("isAbort(%v) = %v, want %v", err, got, want)
		}
	}
}

func TestFetchErrorAndCount(t *testing.T) {
	now := time.Unix(100, 0)
	rec := func(k, v string, age time.Duration) *kgo.Record {
		return &kgo.Record{Key: []byte(k), Value: []byte(v), Timestamp: now.Add(-age)}
	}
	fetches := kgo.Fetches{{Topics: []kgo.FetchTopic{{Topic: "t", Partitions: []kgo.FetchPartition{
		{Partition: 0, Records: []*kgo.Record{rec("", "abc", 2*time.Millisecond), rec("k", "de", 4*time.Millisecond)}},
		{Partition: 1, Err: context.DeadlineExceeded},
	}}}}}
	c := &consumeRun{hist: newHistogram()}
	c.add(now, fetches)
	if c.n != 2 || c.bytes != 6 {
		t.Errorf("add counted %d records, %d bytes; want 2, 6", c.n, c.bytes)
	}
	if got := c.hist.max; got != 4*time.Millisecond {
		t.Errorf("largest end-to-end latency %v, want 4ms", got)
	}
	if err := fetchError(fetches); err != nil {
		t.Errorf("fetchError with only a poll deadline: %v", err)
	}
	fetches[0].Topics[0].Partitions[1].Err = kerr.TopicAuthorizationFailed
	if err := fetchError(fetches); !errors.Is(err, kerr.TopicAuthorizationFailed) || !strings.Contains(err.Error(), "t/1") {
		t.Errorf("fetchError = %v, want TOPIC_AUTHORIZATION_FAILED on t/1", err)
	}
}

func TestWindowRoll(t *testing.T) {
	t0 := time.Unix(100, 0)
	w := window{start: t0}
	w.add(10, 2*time.Millisecond)
	w.add(30, 4*time.Millisecond)
	done, d := w.roll(t0.Add(2 * time.Second))
	if done.n != 2 || done.bytes != 40 || done.avgLatency() != 3*time.Millisecond || done.latMax != 4*time.Millisecond || d != 2*time.Second {
		t.Errorf("rolled window %+v over %v", done, d)
	}
	if w.n != 0 || !w.start.Equal(t0.Add(2*time.Second)) {
		t.Errorf("next window %+v, want empty from t0+2s", w)
	}
}

func TestPrintProduceResult(t *testing.T) {
	var b bytes.Buffer
	res := produceResult{Records: 1000, RecordsPerSec: 500, MBPerSec: 0.49, Errors: 2, Aborted: 3,
		LatencyMs: latencySummary{Avg: 1.234, P50: 1, P95: 2, P99: 3, P999: 4, Max: 5.678}}
	if err := printProduceResult(&b, res, true); err != nil {
		t.Fatal(err)
	}
	want := "1000 records sent, 500.00 records/s (0.49 MB/s), avg latency 1.23 ms, p50 1.00 ms, p95 2.00 ms, " +
		"p99 3.00 ms, p99.9 4.00 ms, max latency 5.68 ms, 2 errors, 3 aborted\n" +
		`{"records":1000,"bytes":0,"elapsed_sec":0,"records_per_sec":500,"mb_per_sec":0.49,` +
		`"latency_ms":{"avg":1.234,"p50":1,"p95":2,"p99":3,"p99_9":4,"max":5.678},` +
		`"warmup_records":0,"errors":2,"aborted":3,"interrupted":false}` + "\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestPrintConsumeResult(t *testing.T) {
	var b bytes.Buffer
	res := consumeResult{Records: 1000, MB: 0.98, MBPerSec: 1.96, RecordsPerSec: 2000, ElapsedSec: 0.5, FirstRecordMs: 12.345,
		EndToEndMs: latencySummary{P50: 1.5, P99: 3, P999: 4.25, Max: 7}}
	if err := printConsumeResult(&b, res, false); err != nil {
		t.Fatal(err)
	}
	want := "1000 records consumed, 0.98 MB, 1.96 MB/s, 2000.0 records/s, elapsed 0.500 s, first record after 12.35 ms, " +
		"end-to-end latency p50 1.50 ms, p99 3.00 ms, p99.9 4.25 ms, max 7.00 ms\n"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

func TestRates(t *testing.T) {
	if perSecond(10, 0) != 0 || perSecond(10, 2*time.Second) != 5 {
		t.Error("perSecond")
	}
	if round(1.23456, 2) != 1.23 || millis(1500*time.Microsecond) != 1.5 {
		t.Error("round or millis")
	}
}

func TestRunBenchDispatch(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := runBench(context.Background(), nil, &stdout, &stderr); err == nil || !strings.Contains(stderr.String(), "usage") {
		t.Errorf("no subcommand: %v, stderr %q", err, stderr.String())
	}
	if err := runBench(context.Background(), []string{"fly"}, &stdout, &stderr); err == nil {
		t.Error("unknown subcommand: no error")
	}
	if err := runBench(context.Background(), []string{"produce", "-h"}, &stdout, &stderr); err != nil {
		t.Errorf("produce -h: %v", err)
	}
}
