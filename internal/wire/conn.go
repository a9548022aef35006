package wire

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// conn is one client connection: a reader goroutine (serve) and a writer
// goroutine (writeLoop), joined by the pending queue.
type conn struct {
	srv  *Server
	nc   net.Conn
	info ConnInfo
	log  *slog.Logger

	// ctx ends when the connection is finished or broken; Later replies
	// see it.
	ctx    context.Context
	cancel context.CancelFunc

	pending chan pendingReply // reader -> writer, in request order

	stopOnce sync.Once
	stopping chan struct{} // closed when the server drains
}

type pendingReply struct {
	correlationID int32
	version       int16
	reply         Reply
}

func newConn(s *Server, nc net.Conn) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	id := s.nextID.Add(1)
	return &conn{
		srv:      s,
		nc:       nc,
		info:     ConnInfo{ID: id, RemoteAddr: nc.RemoteAddr(), LocalAddr: nc.LocalAddr()},
		log:      s.log.With("conn", id, "remote", nc.RemoteAddr().String()),
		ctx:      ctx,
		cancel:   cancel,
		pending:  make(chan pendingReply, s.cfg.MaxInFlight),
		stopping: make(chan struct{}),
	}
}

// stopReading makes the reader stop at the next frame boundary; queued
// replies are still written.
func (c *conn) stopReading() {
	c.stopOnce.Do(func() {
		close(c.stopping)
		// Unblock a reader waiting for the next frame. A frame already
		// being read is cut too, which is fine: it was not yet accepted.
		c.nc.SetReadDeadline(time.Now())
	})
}

func (c *conn) draining() bool {
	select {
	case <-c.stopping:
		return true
	default:
		return false
	}
}

// abort cuts the connection at once.
func (c *conn) abort() {
	c.cancel()
	c.nc.Close()
}

// serve runs the reader on the calling goroutine and the writer on another,
// and returns when both are done and the connection is closed.
func (c *conn) serve() {
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop()
	}()

	err := c.readLoop()
	close(c.pending)
	if err != nil && !c.draining() {
		// The client is gone or misbehaved: replies still waiting are
		// abandoned rather than written to nobody.
		c.cancel()
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, io.ErrUnexpectedEOF):
		case errors.Is(err, os.ErrDeadlineExceeded):
			c.log.Debug("closing idle connection")
		case errors.Is(err, syscall.ECONNRESET):
			// Clients that exit without closing (kcat -L) reset
			// their connections: nothing for an operator to act on.
			c.log.Debug("client reset the connection")
		default:
			c.log.Warn("closing connection", "err", err)
		}
	}
	<-writerDone
	c.cancel()
	c.nc.Close()
}

// readLoop reads, decodes and dispatches frames until the connection ends,
// the server drains, or a request is unacceptable.
func (c *conn) readLoop() error {
	br := bufio.NewReaderSize(c.nc, 64<<10)
	var sizeBuf [4]byte
	for {
		select {
		case <-c.stopping:
			return nil
		case <-c.ctx.Done():
			return nil
		default:
		}
		if t := c.srv.cfg.IdleTimeout; t > 0 {
			c.nc.SetReadDeadline(time.Now().Add(t))
		}
		if _, err := io.ReadFull(br, sizeBuf[:]); err != nil {
			return err
		}
		size := int32(binary.BigEndian.Uint32(sizeBuf[:]))
		if size < 0 || size > c.srv.cfg.MaxRequestSize {
			return fmt.Errorf("wire: request of %d bytes exceeds socket.request.max.bytes (%d)", size, c.srv.cfg.MaxRequestSize)
		}
		frame := make([]byte, size)
		if _, err := io.ReadFull(br, frame); err != nil {
			return err
		}
		p, err := c.decode(frame)
		if err != nil {
			return err
		}
		select {
		case c.pending <- p:
		case <-c.ctx.Done():
			return nil
		}
	}
}

// decode turns a frame into a dispatched request and its pending reply.
func (c *conn) decode(frame []byte) (pendingReply, error) {
	h, rest, err := parseHeader(frame)
	if err != nil {
		return pendingReply{}, err
	}
	minV, maxV, ok := c.srv.handler.Versions(h.APIKey)
	if !ok {
		return pendingReply{}, fmt.Errorf("%w: unsupported api key %d (%s)", ErrMalformed, h.APIKey, kmsg.NameForKey(h.APIKey))
	}
	var body kmsg.Request
	switch {
	case h.APIVersion >= minV && h.APIVersion <= maxV:
		if body, err = decodeBody(h, rest); err != nil {
			return pendingReply{}, err
		}
	case h.APIKey == apiVersionsKey:
		// The body of a version we do not know cannot be decoded; the
		// handler answers at version 0 with UNSUPPORTED_VERSION.
		body = &kmsg.ApiVersionsRequest{Version: 0}
	default:
		return pendingReply{}, fmt.Errorf("%w: %s v%d not supported (v%d-v%d)", ErrMalformed, kmsg.NameForKey(h.APIKey), h.APIVersion, minV, maxV)
	}
	req := &Request{Header: h, Body: body, Conn: &c.info}
	return pendingReply{correlationID: h.CorrelationID, version: body.GetVersion(), reply: c.srv.handler.Handle(req)}, nil
}

// writeLoop writes replies in request order until the reader closes the
// queue, flushing only when no further reply is ready.
func (c *conn) writeLoop() {
	bw := bufio.NewWriterSize(c.nc, 64<<10)
	var buf []byte
	broken := false
	for p := range c.pending {
		if broken {
			continue // drain so the reader never blocks on a dead writer
		}
		resp := p.reply.response(c.ctx)
		if resp == nil {
			continue
		}
		resp.SetVersion(p.version)
		if hint := sizeHint(resp); hint > keptBufferBytes {
			large := borrowBuffer(hint)
			*large = appendResponse(*large, p.correlationID, resp)
			broken = c.write(bw, *large)
			returnBuffer(large)
			continue
		}
		buf = appendResponse(buf[:0], p.correlationID, resp)
		broken = c.write(bw, buf)
		if cap(buf) > keptBufferBytes {
			buf = nil // the estimate fell short: do not pin what grew
		}
	}
	if !broken {
		if err := bw.Flush(); err != nil {
			c.fail(err)
		}
	}
}

// write writes one response frame, flushing when no other response is
// queued behind it, and reports whether the connection broke.
func (c *conn) write(bw *bufio.Writer, frame []byte) (broken bool) {
	if _, err := bw.Write(frame); err != nil {
		return c.fail(err)
	}
	if len(c.pending) == 0 {
		if err := bw.Flush(); err != nil {
			return c.fail(err)
		}
	}
	return false
}

// fail records a write error and breaks the connection so the reader stops.
func (c *conn) fail(err error) bool {
	if !errors.Is(err, net.ErrClosed) {
		c.log.Debug("write failed", "err", err)
	}
	c.abort()
	return true
}
