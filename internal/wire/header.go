package wire

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Header is a decoded request header.
type Header struct {
	APIKey        int16
	APIVersion    int16
	CorrelationID int32
	// ClientID is the client's self-chosen name; empty when null.
	ClientID string
}

// ErrMalformed marks a request that cannot be decoded. The connection that
// sent it is closed.
var ErrMalformed = errors.New("wire: malformed request")

// apiVersionsKey is the one API whose unsupported versions are answered
// rather than punished, and whose response header is never flexible.
const apiVersionsKey = 18

// parseHeader decodes the fixed part of a request header and returns the rest
// of the frame (tagged fields and body). The tagged fields cannot be skipped
// until the version is known to be flexible, which needs the body type.
func parseHeader(frame []byte) (Header, []byte, error) {
	if len(frame) < 8 {
		return Header{}, nil, fmt.Errorf("%w: header of %d bytes", ErrMalformed, len(frame))
	}
	h := Header{
		APIKey:        int16(binary.BigEndian.Uint16(frame[0:])),
		APIVersion:    int16(binary.BigEndian.Uint16(frame[2:])),
		CorrelationID: int32(binary.BigEndian.Uint32(frame[4:])),
	}
	rest := frame[8:]
	if h.APIKey == 7 && h.APIVersion == 0 { // ControlledShutdown v0 has no client id
		return h, rest, nil
	}
	if len(rest) < 2 {
		return h, nil, fmt.Errorf("%w: missing client id", ErrMalformed)
	}
	n := int16(binary.BigEndian.Uint16(rest))
	rest = rest[2:]
	if n >= 0 {
		if int(n) > len(rest) {
			return h, nil, fmt.Errorf("%w: client id of %d bytes in %d", ErrMalformed, n, len(rest))
		}
		h.ClientID = string(rest[:n])
		rest = rest[n:]
	} else if n != -1 {
		return h, nil, fmt.Errorf("%w: client id length %d", ErrMalformed, n)
	}
	return h, rest, nil
}

// skipTags skips a tagged-field section (KIP-482): an unsigned varint count,
// then for each field a varint tag, a varint size and the bytes.
func skipTags(b []byte) ([]byte, error) {
	count, n := binary.Uvarint(b)
	if n <= 0 {
		return nil, fmt.Errorf("%w: bad tagged field count", ErrMalformed)
	}
	b = b[n:]
	for range count {
		if _, n = binary.Uvarint(b); n <= 0 {
			return nil, fmt.Errorf("%w: bad tag", ErrMalformed)
		}
		b = b[n:]
		size, n := binary.Uvarint(b)
		if n <= 0 || size > uint64(len(b)-n) {
			return nil, fmt.Errorf("%w: bad tagged field size", ErrMalformed)
		}
		b = b[n+int(size):]
	}
	return b, nil
}

// decodeBody decodes the request body for a header whose key and version the
// caller has accepted.
func decodeBody(h Header, rest []byte) (kmsg.Request, error) {
	req := kmsg.RequestForKey(h.APIKey)
	if req == nil {
		return nil, fmt.Errorf("%w: unknown api key %d", ErrMalformed, h.APIKey)
	}
	req.SetVersion(h.APIVersion)
	if req.IsFlexible() {
		var err error
		if rest, err = skipTags(rest); err != nil {
			return nil, err
		}
	}
	// Unsafe reading aliases strings and byte slices to the frame, which
	// each request owns alone; it saves copying record batches.
	if err := req.(kmsg.UnsafeReadFrom).UnsafeReadFrom(rest); err != nil {
		return nil, fmt.Errorf("%w: %s v%d: %v", ErrMalformed, kmsg.NameForKey(h.APIKey), h.APIVersion, err)
	}
	return req, nil
}

// appendResponse appends a whole response frame (size, header, body) to dst.
func appendResponse(dst []byte, correlationID int32, resp kmsg.Response) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(correlationID))
	if resp.IsFlexible() && resp.Key() != apiVersionsKey {
		dst = append(dst, 0) // no tagged fields
	}
	dst = resp.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}
