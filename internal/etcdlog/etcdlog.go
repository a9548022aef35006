// Package etcdlog adapts etcd's logging to the broker's: etcd's server and
// client log through zap, and New turns an slog.Logger into the zap logger
// they take. It also says, every few seconds, that a wait for etcd goes on.
package etcdlog

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// New returns a zap logger (what etcd's server and client log to)
// that forwards to l, one step quieter: etcd is chatty, retries by itself,
// and this package logs what the operator must know. Info and debug entries
// are dropped before they are built; warnings become slog debug, errors
// become slog warnings, panics and fatals slog errors.
func New(l *slog.Logger) *zap.Logger {
	return zap.New(&slogCore{log: l})
}

// slogCore is a zapcore.Core writing to a slog.Logger. It is immutable:
// With returns a copy, so it is safe for concurrent use.
type slogCore struct {
	log    *slog.Logger
	fields []zapcore.Field
}

func slogLevel(l zapcore.Level) slog.Level {
	switch {
	case l < zapcore.WarnLevel:
		return slog.LevelDebug - 4
	case l == zapcore.WarnLevel:
		return slog.LevelDebug
	case l == zapcore.ErrorLevel:
		return slog.LevelWarn
	default:
		return slog.LevelError
	}
}

func (c *slogCore) Enabled(l zapcore.Level) bool {
	return l >= zapcore.WarnLevel && c.log.Enabled(context.Background(), slogLevel(l))
}

func (c *slogCore) With(fields []zapcore.Field) zapcore.Core {
	return &slogCore{log: c.log, fields: append(c.fields[:len(c.fields):len(c.fields)], fields...)}
}

func (c *slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *slogCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range c.fields {
		f.AddTo(enc)
	}
	for _, f := range fields {
		f.AddTo(enc)
	}
	attrs := make([]slog.Attr, 0, len(enc.Fields)+1)
	if e.LoggerName != "" {
		attrs = append(attrs, slog.String("logger", e.LoggerName))
	}
	for k, v := range enc.Fields {
		attrs = append(attrs, slog.Any(k, v))
	}
	level := slogLevel(e.Level)
	if expected(e.Message, enc.Fields) {
		level = slog.LevelDebug
	}
	c.log.LogAttrs(context.Background(), level, e.Message, attrs...)
	return nil
}

// expectedErrors are etcd errors that every start or stop of an embedded
// member logs and that mean nothing is wrong: the listeners' accept loops
// ending at shutdown, and a new member that has not yet written the term
// its storage version check looks for. Shown to an operator as warnings,
// they would teach them to ignore warnings.
var expectedErrors = []struct{ message, errorContains string }{
	{"setting up serving from embedded etcd failed.", "closed"},
	{"failed to update storage version", "missing term information"},
}

// expected reports whether an etcd error entry is one of expectedErrors.
func expected(message string, fields map[string]any) bool {
	for _, x := range expectedErrors {
		if message == x.message && strings.Contains(fmt.Sprint(fields["error"]), x.errorContains) {
			return true
		}
	}
	return false
}

func (c *slogCore) Sync() error { return nil }

// waitInterval is how long a wait for etcd goes unmentioned in the log,
// and then how often it is mentioned again.
var waitInterval = 5 * time.Second

// SetWaitInterval changes how often waits are logged, until the test
// ends: tests shorten it to see the messages.
func SetWaitInterval(t interface{ Cleanup(func()) }, d time.Duration) {
	old := waitInterval
	waitInterval = d
	t.Cleanup(func() { waitInterval = old })
}

// WhileWaiting logs msg at info level every few seconds until the
// returned function is called, so that a broker waiting for its quorum
// says so instead of looking hung.
func WhileWaiting(log *slog.Logger, msg string, args ...any) (stop func()) {
	done := make(chan struct{})
	tick := time.NewTicker(waitInterval)
	go func() {
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				log.Info(msg, args...)
			}
		}
	}()
	return func() { close(done) }
}
