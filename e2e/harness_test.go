// Package e2e tests spotstream the way its users run it: real broker
// processes (or in-process brokers started through the same code path as
// the binary), real Kafka clients over TCP, real SIGKILLs.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// builtBinaries are the spotstream binaries, without and with the race
// detector, each built once for the whole test run.
var builtBinaries [2]struct {
	once sync.Once
	path string
	err  error
}

// spotstreamBinary builds cmd/spotstream (with the race detector when the
// tests run with it) into a directory removed at the end of the run.
func spotstreamBinary(t *testing.T) string { return buildBinary(t, raceEnabled) }

// plainBinary builds cmd/spotstream without the race detector, for the
// tests that time a large cluster: six race-instrumented brokers on two
// cores measure the detector, not the broker. Every other test runs the
// instrumented binary.
func plainBinary(t *testing.T) string { return buildBinary(t, false) }

func buildBinary(t *testing.T, race bool) string {
	t.Helper()
	b := &builtBinaries[0]
	if race {
		b = &builtBinaries[1]
	}
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "spotstream-e2e-bin")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, "spotstream")
		args := []string{"build", "-o", b.path}
		if race {
			args = append(args, "-race")
		}
		args = append(args, "../cmd/spotstream")
		out, err := exec.Command("go", args...).CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// freePorts returns n distinct loopback ports that were free a moment ago.
// They are held open together, so that none is handed out twice; ports
// that processes bind only later (an etcd quorum's) must come from one call.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// process is a broker running as a child process.
type process struct {
	t       *testing.T
	binary  func(*testing.T) string // builds (once) the binary to run
	dataDir string
	port    int
	args    []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	output *syncBuffer
	exited chan struct{}
	err    error // the exit status, once exited is closed
}

// startProcess starts `spotstream serve` on a fresh port and data directory
// with the given extra overrides, and waits until it accepts Kafka clients.
func startProcess(t *testing.T, overrides ...string) *process {
	t.Helper()
	p := launchProcess(t, overrides...)
	p.waitReady()
	return p
}

// launchProcess starts `spotstream serve` like startProcess but does not
// wait for it to serve: brokers that embed the members of one etcd quorum
// can only become ready together.
func launchProcess(t *testing.T, overrides ...string) *process {
	t.Helper()
	return launchProcessOn(t, freePort(t), overrides...)
}

// launchProcessOn is launchProcess on a given client port.
func launchProcessOn(t *testing.T, port int, overrides ...string) *process {
	t.Helper()
	return launchBinaryOn(t, spotstreamBinary, port, overrides...)
}

// launchBinaryOn is launchProcessOn with the binary that binary builds.
func launchBinaryOn(t *testing.T, binary func(*testing.T) string, port int, overrides ...string) *process {
	t.Helper()
	p := &process{t: t, binary: binary, dataDir: t.TempDir(), port: port}
	p.args = []string{"serve",
		"--override", "listeners=PLAINTEXT://127.0.0.1:" + fmt.Sprint(p.port),
		"--override", "log.dirs=" + p.dataDir,
	}
	for _, o := range overrides {
		p.args = append(p.args, "--override", o)
	}
	p.launch()
	t.Cleanup(func() {
		p.kill()
		p.keepLog()
	})
	return p
}

// keepLog writes the broker's output to $SPOTSTREAM_E2E_LOG_DIR, when
// set, as <test>-<port>.log: the whole story of a run, for the failures
// that only a timeline explains.
func (p *process) keepLog() {
	dir := os.Getenv("SPOTSTREAM_E2E_LOG_DIR")
	if dir == "" {
		return
	}
	name := strings.NewReplacer("/", "_", " ", "_").Replace(p.t.Name())
	path := filepath.Join(dir, fmt.Sprintf("%s-%d.log", name, p.port))
	if err := os.WriteFile(path, []byte(p.Output()), 0o644); err != nil {
		p.t.Logf("keeping the log of broker %s: %v", p.Addr(), err)
	}
}

// Addr is the broker's client address.
func (p *process) Addr() string { return fmt.Sprintf("127.0.0.1:%d", p.port) }

func (p *process) start() {
	p.t.Helper()
	p.launch()
	p.waitReady()
}

// launch starts the process without waiting for it to serve.
func (p *process) launch() {
	p.t.Helper()
	p.mu.Lock()
	cmd := exec.Command(p.binary(p.t), p.args...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		p.mu.Unlock()
		p.t.Fatal(err)
	}
	p.cmd, p.output, p.exited = cmd, out, make(chan struct{})
	exited := p.exited
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(exited)
	}()
}

// waitReady waits until the broker answers a Metadata request.
func (p *process) waitReady() {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-p.exited:
			p.t.Fatalf("broker exited during startup: %v\n%s", p.err, p.Output())
		default:
		}
		if err := pingBroker(p.Addr()); err == nil {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("broker not ready after 30s\n%s", p.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitExit waits up to timeout for the process to exit on its own and
// returns its exit status; the test fails if it is still running.
func (p *process) waitExit(timeout time.Duration) error {
	p.t.Helper()
	p.mu.Lock()
	exited := p.exited
	p.mu.Unlock()
	select {
	case <-exited:
	case <-time.After(timeout):
		p.t.Fatalf("broker still running %v after start, want it to exit\n%s", timeout, p.Output())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *process) kill() {
	p.signal(syscall.SIGKILL)
	<-p.exited
}

// stop sends SIGTERM and waits for the exit, returning its status.
func (p *process) stop() error {
	p.signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		p.t.Fatalf("broker did not exit 30s after SIGTERM\n%s", p.Output())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

func (p *process) signal(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.exited:
	default:
		p.cmd.Process.Signal(sig)
	}
}

// restart starts the broker again on the same data directory and port.
func (p *process) restart() { p.start() }

// Output returns what the broker printed.
func (p *process) Output() string {
	p.mu.Lock()
	out := p.output
	p.mu.Unlock()
	return out.String()
}

// syncBuffer collects a process's output from its two pipes, which exec
// copies from separate goroutines, while the test may read it at any time.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// pingBroker asks a broker for metadata once.
func pingBroker(addr string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RetryTimeout(time.Second), kgo.RequestRetries(0))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = kadm.NewClient(cl).BrokerMetadata(ctx)
	return err
}

// newClient returns a franz-go client for addr, closed when the test ends.
func newClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// createTopic creates a topic and fails the test on error.
func createTopic(t *testing.T, addr, topic string, partitions int32, configs map[string]*string) {
	t.Helper()
	adm := kadm.NewClient(newClient(t, addr))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, partitions, 1, configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("creating topic %q: %v", topic, err)
	}
}

// topicName returns a topic name unique to the test.
func topicName(t *testing.T) string {
	return strings.NewReplacer("/", "-", " ", "_").Replace(t.Name())
}

// listTopics returns the topics a broker knows.
func listTopics(t *testing.T, addr string) map[string]bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	details, err := kadm.NewClient(newClient(t, addr)).ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for name := range details {
		out[name] = true
	}
	return out
}
