package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// ErrTooLarge is returned when a batch decompresses to more than the
// allowed bound.
var ErrTooLarge = errors.New("record: decompressed batch too large")

// xerialMagic starts snappy payloads written by the Java client, which
// frames snappy blocks the way the xerial snappy-java library does.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

// xerialHeaderSize is the magic plus two int32 version fields.
const xerialHeaderSize = 16

// decompress returns the records section of a batch in plain form, failing
// with ErrTooLarge rather than producing more than limit bytes.
func decompress(c Codec, p []byte, limit int) ([]byte, error) {
	var (
		out []byte
		err error
	)
	switch c {
	case CodecNone:
		return p, nil
	case CodecGzip:
		out, err = gunzip(p, limit)
	case CodecSnappy:
		out, err = unsnappy(p, limit)
	case CodecLZ4:
		out, err = readLimited(lz4.NewReader(bytes.NewReader(p)), limit)
	case CodecZstd:
		out, err = unzstd(p, limit)
	default:
		return nil, corruptf("unknown compression codec %d", int8(c))
	}
	switch {
	case err == nil:
		return out, nil
	case errors.Is(err, ErrTooLarge):
		return nil, fmt.Errorf("%w: %s payload exceeds %d bytes", ErrTooLarge, c, limit)
	default:
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, c, err)
	}
}

// readLimited reads r to the end, failing with ErrTooLarge once more than
// limit bytes come out.
func readLimited(r io.Reader, limit int) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > limit {
		return nil, ErrTooLarge
	}
	return b, nil
}

func gunzip(p []byte, limit int) ([]byte, error) {
	r, err := gzip.NewReader(bytes.NewReader(p))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return readLimited(r, limit)
}

// unsnappy decodes a raw snappy block or xerial-framed snappy chunks.
// Snappy blocks declare their decoded length up front, so the bound is
// checked before anything is allocated.
func unsnappy(p []byte, limit int) ([]byte, error) {
	if !bytes.HasPrefix(p, xerialMagic) {
		return unsnappyBlock(nil, p, limit)
	}
	if len(p) < xerialHeaderSize {
		return nil, errors.New("short xerial header")
	}
	p = p[xerialHeaderSize:]
	var out []byte
	for len(p) > 0 {
		if len(p) < 4 {
			return nil, errors.New("short xerial chunk length")
		}
		n := binary.BigEndian.Uint32(p)
		p = p[4:]
		if uint64(n) > uint64(len(p)) {
			return nil, fmt.Errorf("xerial chunk of %d bytes with %d left", n, len(p))
		}
		var err error
		if out, err = unsnappyBlock(out, p[:n], limit); err != nil {
			return nil, err
		}
		p = p[n:]
	}
	return out, nil
}

// unsnappyBlock appends the decoding of block to dst, keeping the total
// within limit.
func unsnappyBlock(dst, block []byte, limit int) ([]byte, error) {
	n, err := snappy.DecodedLen(block)
	if err != nil {
		return nil, err
	}
	if n > limit-len(dst) {
		return nil, ErrTooLarge
	}
	if dst == nil {
		d, err := snappy.Decode(make([]byte, n), block)
		return d, err
	}
	start := len(dst)
	dst = append(dst, make([]byte, n)...)
	if _, err := snappy.Decode(dst[start:], block); err != nil {
		return nil, err
	}
	return dst, nil
}

// zstdMaxWindow bounds the window a zstd frame may ask for; producers use
// a few MiB at most, and a hostile frame must not make us allocate more.
const zstdMaxWindow = 64 << 20

// zstdPool holds streaming decoders: creating one is expensive, and a
// stream (unlike DecodeAll) lets readLimited stop at the bound.
var zstdPool = sync.Pool{
	New: func() any {
		d, err := zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(1), // synchronous: no goroutines to leak from the pool
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(zstdMaxWindow),
			zstd.WithDecodeBuffersBelow(0), // never decode the whole input in one go
		)
		if err != nil {
			// Only invalid options make NewReader fail.
			panic(fmt.Sprintf("record: zstd decoder: %v", err))
		}
		return d
	},
}

func unzstd(p []byte, limit int) ([]byte, error) {
	d := zstdPool.Get().(*zstd.Decoder)
	if err := d.Reset(bytes.NewReader(p)); err != nil {
		return nil, err
	}
	out, err := readLimited(d, limit)
	if d.Reset(nil) == nil {
		zstdPool.Put(d)
	}
	return out, err
}
