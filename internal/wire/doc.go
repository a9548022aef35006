// Package wire owns the Kafka wire protocol at the connection level: it
// accepts TCP connections, frames requests, decodes request headers and
// bodies, hands each request to a [Handler], and writes the responses back in
// request order.
//
// # Framing
//
// Every request and response is a frame: a big-endian int32 size followed by
// that many bytes. A request frame holds:
//
//	api_key        int16
//	api_version    int16
//	correlation_id int32
//	client_id      nullable string (int16 length, -1 = null)   absent for ControlledShutdown v0
//	tagged_fields  (flexible versions only)
//	body           the request, as encoded by kmsg
//
// A response frame holds the correlation id, tagged fields when the request
// was flexible (never for ApiVersions, whose response header stays v0 so that
// a client can read it before it knows which versions the broker speaks), and
// the body.
//
// # Pipelining and ordering
//
// A client may send many requests before reading any response, and Kafka
// requires the responses in request order. Each connection has two
// goroutines, both owned by [Server.Serve] and stopped when the connection
// closes:
//
//   - the reader decodes frames and calls [Handler.Handle] for each, in
//     order, on its own goroutine. Handle does the ordered part of the work
//     (appending a produce batch to a log, for example) and returns a
//     [Reply], which is either ready or a function that waits for the
//     rest (a group commit, a long poll).
//   - the writer takes replies in the same order, waits for each, encodes it
//     and writes it. It flushes its buffered writer only when no further
//     reply is ready, so a burst of pipelined responses costs few syscalls.
//
// A bounded queue between the two limits the requests in flight on one
// connection; when it is full the reader stops reading, and TCP pushes back
// on the client.
//
// # Bad input
//
// A frame larger than the configured maximum, an unknown API key, an
// unsupported version (other than ApiVersions, which answers
// UNSUPPORTED_VERSION with the versions it does support) or a body that does
// not decode closes the connection, as Kafka does, after the replies already
// queued have been written. None of them can crash the broker.
package wire
