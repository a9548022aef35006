// Package clustertest gives tests an etcd to coordinate through: one
// embedded member per test binary, started on first use, with a fresh
// namespace per test, so that tests share the member without seeing each
// other's keys. No etcd binary is needed.
//
// A package whose tests use it stops the member and removes its directory
// by calling Main from TestMain:
//
//	func TestMain(m *testing.M) { clustertest.Main(m) }
//
// Without Main the member's directory is left in $TMPDIR.
package clustertest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/storage/wal"

	"github.com/spotstream/spotstream/internal/cluster"
	"github.com/spotstream/spotstream/internal/etcdmember"
)

var (
	once     sync.Once
	member   *etcdmember.Member // the shared member, once started
	dir      string             // its data directory
	startErr error

	namespaces atomic.Int64 // makes namespaces unique
)

// Logger is the logger clustertest gives etcd and the stores it opens:
// errors only, so that tests that break sessions on purpose stay quiet.
var Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))

// Etcd returns the client endpoints of the test binary's etcd member,
// starting it on first use (tens of milliseconds). The member has no fsync
// (a test member loses nothing that matters when the machine crashes) and
// allows etcdmember.MaxTxnOps operations per transaction.
func Etcd(t testing.TB) []string {
	t.Helper()
	once.Do(start)
	if startErr != nil {
		t.Fatalf("clustertest: %v", startErr)
	}
	return member.Endpoints()
}

func start() {
	dir, startErr = os.MkdirTemp("", "spotstream-clustertest-")
	if startErr != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	member, startErr = etcdmember.Start(ctx, etcdmember.Config{
		Dir:           dir,
		Name:          "clustertest",
		UnsafeNoFsync: true,
		Logger:        Logger,
	})
	if startErr != nil {
		os.RemoveAll(dir)
	}
}

// Namespace returns a namespace no other test of the binary uses, named
// after the test so that `etcdctl get --prefix` tells them apart.
func Namespace(t testing.TB) string {
	name := strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '.' || r == '_' || r == '-' {
			return r
		}
		return '_'
	}, t.Name())
	if len(name) > 80 {
		name = name[:80]
	}
	return fmt.Sprintf("test-%s-%d", name, namespaces.Add(1))
}

// Store connects to the binary's member in a new namespace and closes the
// store when the test ends. opts come after clustertest's own (Logger), so
// they may override them.
func Store(t testing.TB, opts ...cluster.Option) *cluster.Store {
	t.Helper()
	endpoints := Etcd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := cluster.Connect(ctx, endpoints, Namespace(t), append([]cluster.Option{cluster.WithLogger(Logger)}, opts...)...)
	if err != nil {
		t.Fatalf("clustertest: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Main runs the tests, then stops the shared member (if a test started it)
// and removes its directory.
func Main(m *testing.M) {
	// Smaller WAL segments than etcd's 64 MB: test members write little,
	// and preallocating less keeps $TMPDIR small while tests run. Set before
	// any member starts, as etcd's own tests do.
	wal.SegmentSizeBytes = 4 << 20
	code := m.Run()
	if member != nil {
		member.Close()
	}
	if dir != "" {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}
