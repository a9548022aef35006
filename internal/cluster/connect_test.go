package cluster_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/spotstream/spotstream/internal/cluster"
	"github.com/spotstream/spotstream/internal/cluster/clustertest"
	"github.com/spotstream/spotstream/internal/etcdlog"
)

// TestConnectWaitsForQuorum: a client of an etcd that does not answer yet
// (its members are still starting) waits for as long as ctx allows, and
// says so.
func TestConnectWaitsForQuorum(t *testing.T) {
	etcdlog.SetWaitInterval(t, 50*time.Millisecond)
	ctx, cancel := context.WithTimeout(testCtx(t), 300*time.Millisecond)
	defer cancel()
	var log clustertest.LogBuffer
	_, err := cluster.Connect(ctx, []string{unusedEndpoint(t)}, "wait",
		cluster.WithLogger(slog.New(slog.NewTextHandler(&log, nil))))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Connect to nothing: %v; want DeadlineExceeded", err)
	}
	if !strings.Contains(log.String(), "waiting for etcd to answer") {
		t.Errorf("no log line about the wait:\n%s", log.String())
	}
}

// unusedEndpoint returns the URL of a loopback port nothing listens on.
func unusedEndpoint(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return "http://" + ln.Addr().String()
}
