package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestZeroConfigServe runs `spotstream serve` with no arguments, as a new
// user would, and checks it serves on 127.0.0.1:9092 within 5 seconds with
// its data in ./spotstream-data.
func TestZeroConfigServe(t *testing.T) {
	if ln, err := net.Listen("tcp", "127.0.0.1:9092"); err != nil {
		t.Fatalf("port 9092 is taken (%v): this test runs the zero-config broker there", err)
	} else {
		ln.Close()
	}
	dir := t.TempDir()
	cmd := exec.Command(spotstreamBinary(t), "serve")
	cmd.Dir = dir
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	for pingBroker("127.0.0.1:9092") != nil {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("not serving 5s after start\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("serving %v after start", time.Since(start).Round(time.Millisecond))
	createTopic(t, "127.0.0.1:9092", "zero", 1, nil)
	if _, err := os.Stat(filepath.Join(dir, "spotstream-data", "zero-0")); err != nil {
		t.Fatalf("data not in ./spotstream-data: %v", err)
	}
}

// TestTwoBrokersOnOneMachine starts two single-node brokers that differ
// only in listeners and log.dirs: they must not collide on any port, and
// each is its own cluster.
func TestTwoBrokersOnOneMachine(t *testing.T) {
	a := startProcess(t)
	b := startProcess(t)
	createTopic(t, a.Addr(), "only-on-a", 1, nil)
	createTopic(t, b.Addr(), "only-on-b", 1, nil)
	for _, c := range []struct {
		p           *process
		has, hasNot string
	}{{a, "only-on-a", "only-on-b"}, {b, "only-on-b", "only-on-a"}} {
		cl := newClient(t, c.p.Addr())
		produceAll(t, cl, []*kgo.Record{{Topic: c.has, Value: []byte("x")}})
		topics := listTopics(t, c.p.Addr())
		if !topics[c.has] || topics[c.hasNot] {
			t.Fatalf("broker %s lists %v", c.p.Addr(), topics)
		}
	}
}

// TestSIGTERMUnderLoad stops a broker with SIGTERM while an acks=all
// producer is writing: the broker finishes what is in flight and exits 0
// with every log closed cleanly; after a restart every acknowledged record
// is there.
func TestSIGTERMUnderLoad(t *testing.T) {
	p := startProcess(t)
	const topic = "sigterm"
	createTopic(t, p.Addr(), topic, 2, nil)
	producer := newClient(t, p.Addr(), kgo.DefaultProduceTopic(topic), kgo.RecordRetries(1_000_000),
		kgo.RecordDeliveryTimeout(60*time.Second), kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }))

	var mu sync.Mutex
	acked := map[string]bool{}
	var wg sync.WaitGroup
	ctx, stopProducing := context.WithCancel(context.Background())
	produced := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			wg.Add(1)
			v := fmt.Sprint(i)
			produced = i + 1
			producer.Produce(context.Background(), &kgo.Record{Value: []byte(v)}, func(r *kgo.Record, err error) {
				defer wg.Done()
				if err == nil {
					mu.Lock()
					acked[v] = true
					mu.Unlock()
				}
			})
		}
	}()
	waitFor(t, 30*time.Second, "acknowledgements", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) > 2000
	})
	if err := p.stop(); err != nil {
		t.Fatalf("exit after SIGTERM: %v, want 0\n%s", err, p.Output())
	}
	for _, part := range []string{"sigterm-0", "sigterm-1"} {
		if _, err := os.Stat(filepath.Join(p.dataDir, part, ".clean-shutdown")); err != nil {
			t.Fatalf("%s not closed cleanly: %v", part, err)
		}
	}
	p.restart()
	stopProducing()
	wg.Wait()
	got := consumeN(t, p.Addr(), topic, len(acked))
	seen := map[string]bool{}
	for _, r := range got {
		seen[string(r.Value)] = true
	}
	for v := range acked {
		if !seen[v] {
			t.Fatalf("acknowledged record %s lost across SIGTERM", v)
		}
	}
	t.Logf("%d records produced, %d acknowledged, none lost", produced, len(acked))
}

// TestBadConfigurationExits checks that an invalid value stops the broker
// with a non-zero status and a message naming the key, and that an
// unknown key is only a warning.
func TestBadConfigurationExits(t *testing.T) {
	bin := spotstreamBinary(t)
	dir := t.TempDir()
	out, err := exec.Command(bin, "serve", "--override", "num.partitions=many", "--override", "log.dirs="+dir).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("invalid value: err %v, want a non-zero exit\n%s", err, out)
	}
	if !strings.Contains(string(out), "num.partitions") {
		t.Fatalf("error does not name the key:\n%s", out)
	}

	p := startProcess(t, "no.such.key=1")
	if !strings.Contains(p.Output(), "no.such.key") {
		t.Fatalf("no warning for an unknown key:\n%s", p.Output())
	}
}
