package wire

import (
	"context"
	"net"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Handler serves decoded requests. The broker implements it.
type Handler interface {
	// Versions reports the range of versions served for an API key, and
	// false for keys that are not served at all. Requests outside the
	// range close the connection, except ApiVersions (see Handle).
	Versions(key int16) (minVersion, maxVersion int16, ok bool)

	// Handle is called on the connection's reader goroutine, in request
	// order, so it must return quickly: work that waits (for a group
	// commit, for new data, for replicas) belongs in the function of a
	// [Later] reply. The request's frame belongs to the request, and its
	// body may alias it; Handle and the reply may keep references to it.
	//
	// An ApiVersions request whose version is above the supported range is
	// passed with a version 0 body and its real version in the header: the
	// handler answers it with UNSUPPORTED_VERSION at version 0, as Kafka
	// does, so the client can retry with a version both sides know.
	Handle(req *Request) Reply
}

// Request is one decoded request.
type Request struct {
	Header
	// Body is the decoded request; its version is the header's, except
	// for an unsupported ApiVersions request (see [Handler.Handle]).
	Body kmsg.Request
	// Conn describes the connection the request arrived on.
	Conn *ConnInfo
}

// ConnInfo describes a client connection.
type ConnInfo struct {
	ID         uint64
	RemoteAddr net.Addr
	LocalAddr  net.Addr
}

// Reply is the handler's answer to a request: a response now, a response
// later, or none (acks=0 produce requests).
type Reply struct {
	resp kmsg.Response
	wait func(ctx context.Context) kmsg.Response
}

// Respond returns a reply that is ready. A nil response sends nothing.
func Respond(resp kmsg.Response) Reply { return Reply{resp: resp} }

// Later returns a reply whose response is produced by wait, called on the
// connection's writer goroutine once every earlier response has been
// written. ctx ends when the connection dies; the response is then dropped.
// A nil response from wait sends nothing.
func Later(wait func(ctx context.Context) kmsg.Response) Reply { return Reply{wait: wait} }

// NoResponse is the reply to a request that gets no response.
var NoResponse = Reply{}

func (r Reply) response(ctx context.Context) kmsg.Response {
	if r.wait != nil {
		return r.wait(ctx)
	}
	return r.resp
}
