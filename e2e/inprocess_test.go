package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/spotstream/spotstream/internal/broker"
	"github.com/spotstream/spotstream/internal/config"
)

// inProcess is a broker running inside the test process, started through
// the same code path as `spotstream serve`.
type inProcess struct {
	b      *broker.Broker
	cancel context.CancelFunc
	done   chan error
}

// Addr is the broker's client address.
func (p *inProcess) Addr() string { return p.b.Addr().String() }

// startBroker starts an in-process broker with its own embedded coordinator
// and data directory, on a free loopback port, plus the given key=value
// overrides. It stops (cleanly) when the test ends.
func startBroker(t *testing.T, overrides ...string) *inProcess {
	t.Helper()
	dir := t.TempDir()
	props := map[string]string{
		"listeners": "PLAINTEXT://127.0.0.1:0",
		"log.dirs":  dir,
	}
	for _, o := range overrides {
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			t.Fatalf("override %q is not key=value", o)
		}
		props[k] = v
	}
	cfg, _, err := config.NewBroker(props)
	if err != nil {
		t.Fatal(err)
	}
	level := slog.LevelWarn
	if testing.Verbose() {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("test", t.Name())
	ctx, cancel := context.WithCancel(context.Background())
	p := &inProcess{b: broker.New(cfg, logger), cancel: cancel, done: make(chan error, 1)}
	go func() { p.done <- p.b.Run(ctx) }()
	select {
	case <-p.b.Ready():
	case err := <-p.done:
		t.Fatalf("broker stopped during startup: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("broker not ready after 30s")
	}
	t.Cleanup(func() {
		if err := p.stop(); err != nil {
			t.Errorf("broker shutdown: %v", err)
		}
	})
	return p
}

// stop shuts the broker down cleanly and returns Run's result.
func (p *inProcess) stop() error {
	p.cancel()
	select {
	case err, ok := <-p.done:
		if !ok {
			return nil
		}
		close(p.done)
		return err
	case <-time.After(30 * time.Second):
		return fmt.Errorf("broker did not stop within 30s")
	}
}
