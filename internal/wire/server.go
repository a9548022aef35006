package wire

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Config tunes a [Server].
type Config struct {
	// MaxRequestSize is the largest request frame accepted
	// (socket.request.max.bytes); a larger one closes the connection.
	MaxRequestSize int32
	// MaxInFlight bounds the requests read from one connection whose
	// responses are not yet written. Zero means 128.
	MaxInFlight int
	// IdleTimeout closes a connection that sends nothing for this long
	// (connections.max.idle.ms). Zero means never.
	IdleTimeout time.Duration
	// DrainTimeout bounds how long Serve waits, after its context ends,
	// for queued responses to be written. Zero means 10s.
	DrainTimeout time.Duration
	// Logger receives connection-level events. Nil means slog.Default.
	Logger *slog.Logger
}

// Server accepts Kafka connections and serves them with a Handler.
type Server struct {
	cfg     Config
	handler Handler
	log     *slog.Logger
	nextID  atomic.Uint64

	mu    sync.Mutex
	conns map[*conn]struct{} // guarded by mu
}

// NewServer returns a server that serves requests with h.
func NewServer(cfg Config, h Handler) *Server {
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 128
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 10 * time.Second
	}
	if cfg.MaxRequestSize <= 0 {
		cfg.MaxRequestSize = 100 << 20
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Server{cfg: cfg, handler: h, log: log, conns: make(map[*conn]struct{})}
}

// Serve accepts connections on ln until ctx ends, then stops reading new
// requests, writes the responses of the requests already read (waiting at
// most DrainTimeout), closes every connection and returns. It closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	var wg sync.WaitGroup
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()

	var acceptErr error
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				acceptErr = fmt.Errorf("wire: accept: %w", err)
			}
			break
		}
		c := s.newConn(nc)
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.serve()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
	ln.Close()

	// Drain: readers stop at their next frame boundary, writers finish
	// what was queued. Connections that do not finish in time are cut.
	s.mu.Lock()
	for c := range s.conns {
		c.stopReading()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(s.cfg.DrainTimeout):
		s.mu.Lock()
		for c := range s.conns {
			c.abort()
		}
		s.mu.Unlock()
		<-done
	}
	return acceptErr
}

func (s *Server) newConn(nc net.Conn) *conn {
	c := newConn(s, nc)
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	return c
}

// ConnCount returns the number of open connections.
func (s *Server) ConnCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}
