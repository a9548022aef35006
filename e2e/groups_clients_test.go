package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kadm"
)

// The same group scenario for sarama, segmentio/kafka-go and librdkafka
// (kcat): three members share six partitions 2/2/2 and consume everything;
// one member goes away (closed, or SIGKILLed for kcat) and the other two own
// 3/3 within moveBound and consume what is produced next.

// checkMove waits for the two survivors to own 3/3 and checks how long the
// move took since start.
func checkMove(t *testing.T, addr, group string, start time.Time, how string) kadm.DescribedGroup {
	t.Helper()
	d := waitAssignment(t, addr, group, 2, 3)
	moved := time.Since(start)
	t.Logf("partitions of the %s member moved in %v (bound %v)", how, moved, moveBound)
	if moved > moveBound {
		t.Errorf("partitions moved in %v, more than session timeout + slack (%v)", moved, moveBound)
	}
	return d
}

// saramaMember is a sarama ConsumerGroup running Consume in a loop.
type saramaMember struct {
	name   string
	cg     sarama.ConsumerGroup
	cancel context.CancelFunc
	done   chan struct{}
	closed sync.Once

	mu       sync.Mutex
	memberID string
	claims   []int32 // the current session's claims
	sessions int
	errs     []string
}

func startSaramaMember(t *testing.T, addr, group, topic, name string, l *ledger) *saramaMember {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_6_0_0
	cfg.ClientID = name
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Interval = 500 * time.Millisecond
	cfg.Consumer.Group.Session.Timeout = groupSession
	cfg.Consumer.Group.Heartbeat.Interval = groupHeartbeat
	cfg.Consumer.Group.Rebalance.Timeout = groupRebalance
	cfg.Consumer.Group.Rebalance.Retry.Backoff = 200 * time.Millisecond
	cfg.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRange()}
	cfg.Consumer.MaxWaitTime = 200 * time.Millisecond
	cfg.Consumer.Return.Errors = true
	cg, err := sarama.NewConsumerGroup([]string{addr}, group, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &saramaMember{name: name, cg: cg, cancel: cancel, done: make(chan struct{})}
	go func() {
		for err := range cg.Errors() {
			m.noteErr("%v", err)
		}
	}()
	go func() {
		defer close(m.done)
		for ctx.Err() == nil {
			err := cg.Consume(ctx, []string{topic}, saramaHandler{m, l, topic})
			if errors.Is(err, sarama.ErrClosedConsumerGroup) {
				return
			}
			if err != nil {
				m.noteErr("Consume: %v", err)
			}
		}
	}()
	t.Cleanup(func() { m.close(t) })
	return m
}

// close leaves the group (sarama sends LeaveGroup on Close).
func (m *saramaMember) close(t *testing.T) {
	m.closed.Do(func() {
		m.cancel()
		if err := m.cg.Close(); err != nil {
			t.Errorf("%s: Close: %v", m.name, err)
		}
		<-m.done
	})
}

func (m *saramaMember) noteErr(format string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.errs = append(m.errs, fmt.Sprintf(format, args...))
}

func (m *saramaMember) owns() (string, []int32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.memberID, slices.Clone(m.claims)
}

func (m *saramaMember) String() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return fmt.Sprintf("%s(member %s claims %v sessions %d errors %v)", m.name, m.memberID, m.claims, m.sessions, m.errs)
}

// saramaHandler records each session's claims and every message, and
// marks messages for sarama's autocommit.
type saramaHandler struct {
	m     *saramaMember
	l     *ledger
	topic string
}

func (h saramaHandler) Setup(s sarama.ConsumerGroupSession) error {
	h.m.mu.Lock()
	defer h.m.mu.Unlock()
	h.m.memberID = s.MemberID()
	h.m.claims = slices.Sorted(slices.Values(s.Claims()[h.topic]))
	h.m.sessions++
	return nil
}

func (h saramaHandler) Cleanup(sarama.ConsumerGroupSession) error {
	h.m.mu.Lock()
	defer h.m.mu.Unlock()
	h.m.claims = nil
	return nil
}

func (h saramaHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for {
		select {
		case msg, ok := <-c.Messages():
			if !ok {
				return nil
			}
			h.l.add(h.m.name, msg.Partition, msg.Offset, msg.Value)
			s.MarkMessage(msg, "")
		case <-s.Context().Done():
			return nil
		}
	}
}

// TestGroupSarama runs the scenario with sarama's ConsumerGroup; the
// sessions' claims must agree with DescribeGroups.
func TestGroupSarama(t *testing.T) {
	b := groupBroker(t)
	addr, topic, group := b.Addr(), topicName(t), topicName(t)+"-group"
	createTopic(t, addr, topic, 6, nil)
	l := newLedger()
	want := produceSeq(t, addr, topic, 6, 0, 50)

	var members []*saramaMember
	for i := range 3 {
		members = append(members, startSaramaMember(t, addr, group, topic, fmt.Sprintf("sarama-%d", i+1), l))
	}
	state := func() string { return fmt.Sprint(members) }
	d := waitAssignment(t, addr, group, 3, 2)
	waitCallbacksMatch(t, d, assignees(members)...)
	waitConsumed(t, l, want, state)

	start := time.Now()
	members[1].close(t)
	d = checkMove(t, addr, group, start, "closed")
	waitCallbacksMatch(t, d, members[0], members[2])
	want2 := produceSeq(t, addr, topic, 6, 50, 50)
	waitConsumed(t, l, want2, state)
}

// TestGroupKafkaGo runs the scenario with segmentio/kafka-go Readers with a
// GroupID, committing each message synchronously.
func TestGroupKafkaGo(t *testing.T) {
	b := groupBroker(t)
	addr, topic, group := b.Addr(), topicName(t), topicName(t)+"-group"
	createTopic(t, addr, topic, 6, nil)
	l := newLedger()
	want := produceSeq(t, addr, topic, 6, 0, 50)

	var (
		mu   sync.Mutex
		errs []string
	)
	noteErr := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, fmt.Sprintf(format, args...))
	}
	state := func() string {
		mu.Lock()
		defer mu.Unlock()
		return fmt.Sprintf("reader errors: %v", errs)
	}
	type reader struct {
		r    *kafkago.Reader
		done chan struct{}
	}
	start := func(name string) reader {
		r := kafkago.NewReader(kafkago.ReaderConfig{
			Brokers:           []string{addr},
			GroupID:           group,
			Topic:             topic,
			Dialer:            &kafkago.Dialer{ClientID: name, Timeout: 10 * time.Second},
			SessionTimeout:    groupSession,
			HeartbeatInterval: groupHeartbeat,
			RebalanceTimeout:  groupRebalance,
			JoinGroupBackoff:  200 * time.Millisecond,
			CommitInterval:    0, // synchronous commits
			StartOffset:       kafkago.FirstOffset,
			MaxWait:           200 * time.Millisecond,
			ReadBackoffMin:    50 * time.Millisecond,
			ReadBackoffMax:    200 * time.Millisecond,
			ErrorLogger: kafkago.LoggerFunc(func(msg string, args ...any) {
				noteErr(name+": "+msg, args...)
			}),
		})
		rd := reader{r, make(chan struct{})}
		go func() {
			defer close(rd.done)
			for {
				msg, err := r.FetchMessage(context.Background())
				if errors.Is(err, io.EOF) { // closed
					return
				}
				if err != nil {
					noteErr("%s: FetchMessage: %v", name, err)
					continue
				}
				l.add(name, int32(msg.Partition), msg.Offset, msg.Value)
				if err := r.CommitMessages(context.Background(), msg); err != nil {
					noteErr("%s: CommitMessages: %v", name, err)
				}
			}
		}()
		t.Cleanup(func() { r.Close(); <-rd.done })
		return rd
	}
	var readers []reader
	for i := range 3 {
		readers = append(readers, start(fmt.Sprintf("kafka-go-%d", i+1)))
	}
	waitAssignment(t, addr, group, 3, 2)
	waitConsumed(t, l, want, state)

	begin := time.Now()
	if err := readers[1].r.Close(); err != nil {
		t.Fatalf("closing a reader: %v", err)
	}
	<-readers[1].done
	checkMove(t, addr, group, begin, "closed")
	want2 := produceSeq(t, addr, topic, 6, 50, 50)
	waitConsumed(t, l, want2, state)
	t.Log(state())
}

// kcatMember is a `kcat -G` process printing "partition offset value"
// lines, which go to the ledger as they arrive.
type kcatMember struct {
	name   string
	cmd    *exec.Cmd
	stderr *syncBuffer
	exited chan struct{}
}

func startKcatMember(t *testing.T, addr, group, topic, name string, l *ledger) *kcatMember {
	t.Helper()
	path, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatal("kcat is not installed (apt-get install kcat); .ci/run installs it")
	}
	cmd := exec.Command(path, "-b", addr, "-G", group,
		"-X", "client.id="+name,
		"-X", fmt.Sprintf("session.timeout.ms=%d", groupSession.Milliseconds()),
		"-X", fmt.Sprintf("heartbeat.interval.ms=%d", groupHeartbeat.Milliseconds()),
		"-X", "fetch.wait.max.ms=200",
		"-o", "beginning", "-u", "-f", `%p %o %s\n`, topic)
	m := &kcatMember{name: name, cmd: cmd, stderr: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stdout = &lineWriter{onLine: func(line string) {
		p, rest, _ := strings.Cut(line, " ")
		o, value, _ := strings.Cut(rest, " ")
		pn, err1 := strconv.ParseInt(p, 10, 32)
		on, err2 := strconv.ParseInt(o, 10, 64)
		if err1 != nil || err2 != nil {
			l.add(name, -1, -1, []byte(line)) // recorded as bad
			return
		}
		l.add(name, int32(pn), on, []byte(value))
	}}
	cmd.Stderr = m.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(m.exited) }()
	t.Cleanup(m.kill)
	return m
}

// kill sends SIGKILL and waits for the process to be gone.
func (m *kcatMember) kill() {
	select {
	case <-m.exited:
		return
	default:
	}
	m.cmd.Process.Signal(syscall.SIGKILL)
	<-m.exited
}

// lineWriter calls onLine for each complete line written to it.
type lineWriter struct {
	mu      sync.Mutex
	partial []byte
	onLine  func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.onLine(string(w.partial[:i]))
		w.partial = w.partial[i+1:]
	}
}

// TestGroupKcat runs the scenario with three `kcat -G` processes
// (librdkafka's KafkaConsumer); one is SIGKILLed, so its partitions move
// only once the coordinator expires its session.
func TestGroupKcat(t *testing.T) {
	b := groupBroker(t)
	addr, topic, group := b.Addr(), topicName(t), topicName(t)+"-group"
	createTopic(t, addr, topic, 6, nil)
	l := newLedger()
	want := produceSeq(t, addr, topic, 6, 0, 50)

	var members []*kcatMember
	for i := range 3 {
		members = append(members, startKcatMember(t, addr, group, topic, fmt.Sprintf("kcat-%d", i+1), l))
	}
	state := func() string {
		var b strings.Builder
		for _, m := range members {
			fmt.Fprintf(&b, "\n--- %s stderr:\n%s", m.name, m.stderr.String())
		}
		return b.String()
	}
	d := waitAssignment(t, addr, group, 3, 2)
	waitConsumed(t, l, want, state)

	victim := memberByClientID(t, d, "kcat-2")
	start := time.Now()
	members[1].kill()
	d = checkMove(t, addr, group, start, "SIGKILLed")
	for _, m := range d.Members {
		if m.MemberID == victim.MemberID {
			t.Errorf("the killed member %s is still in the group: %s", victim.MemberID, formatGroup(d))
		}
	}
	want2 := produceSeq(t, addr, topic, 6, 50, 50)
	waitConsumed(t, l, want2, state)
}
