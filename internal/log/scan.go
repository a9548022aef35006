package log

import (
	"fmt"
	"io"
	"os"

	"github.com/spotstream/spotstream/internal/record"
)

// scanChunk is how much a headerScanner reads at once: one pread covers
// the headers of all the small batches between two index entries at the
// default interval.
const scanChunk = 4096

// headerScanner walks the batch headers of a segment file from a batch
// start up to a logical end, reading in chunks and never reading batch
// bodies it does not need. It holds its buffer, so a scanner declared as a
// local variable costs no allocation; set it up with reset.
type headerScanner struct {
	f    *os.File
	pos  int64 // position of the next header
	end  int64 // end of the valid data
	wpos int64 // file position of buf[0]
	wlen int   // valid bytes in buf
	buf  [scanChunk]byte
}

// reset points the scanner at the batch starting at pos in f, whose data
// ends at end.
func (sc *headerScanner) reset(f *os.File, pos, end int64) {
	sc.f, sc.pos, sc.end, sc.wpos, sc.wlen = f, pos, end, 0, 0
}

// seek moves the scanner to the batch starting at pos.
func (sc *headerScanner) seek(pos int64) { sc.pos = pos }

// next returns the header of the batch at the scanner's position and that
// position, and moves past the batch. It returns io.EOF at the end, and an
// error wrapping ErrCorrupt if the bytes there are not a batch header or
// the batch runs past the end.
func (sc *headerScanner) next() (record.Header, int64, error) {
	pos := sc.pos
	if pos >= sc.end {
		return record.Header{}, pos, io.EOF
	}
	if sc.end-pos < record.HeaderSize {
		return record.Header{}, pos, fmt.Errorf("%w: %s: %d bytes at position %d, too few for a batch header",
			ErrCorrupt, sc.f.Name(), sc.end-pos, pos)
	}
	if pos < sc.wpos || pos+record.HeaderSize > sc.wpos+int64(sc.wlen) {
		n := int(min(scanChunk, sc.end-pos))
		if _, err := sc.f.ReadAt(sc.buf[:n], pos); err != nil {
			sc.wlen = 0
			return record.Header{}, pos, fmt.Errorf("log: read %s at %d: %w", sc.f.Name(), pos, err)
		}
		sc.wpos, sc.wlen = pos, n
	}
	h, err := record.ReadHeader(sc.buf[pos-sc.wpos : sc.wlen])
	if err != nil {
		return record.Header{}, pos, fmt.Errorf("%w: %s at position %d: %w", ErrCorrupt, sc.f.Name(), pos, err)
	}
	if int64(h.Size()) > sc.end-pos {
		return record.Header{}, pos, fmt.Errorf("%w: %s: batch of %d bytes at position %d runs past %d",
			ErrCorrupt, sc.f.Name(), h.Size(), pos, sc.end)
	}
	sc.pos = pos + int64(h.Size())
	return h, pos, nil
}

// chunkReader reads whole batches sequentially for recovery, a large chunk
// at a time, so that checksumming a segment costs few system calls.
type chunkReader struct {
	f    *os.File
	buf  []byte // file bytes starting at wpos
	wpos int64
}

// recoveryChunk is the read size of a chunkReader.
const recoveryChunk = 1 << 20

// read returns the n bytes at pos, which the caller knows are in the file.
// The result is valid until the next call.
func (r *chunkReader) read(pos int64, n int, fileSize int64) ([]byte, error) {
	if pos >= r.wpos && pos+int64(n) <= r.wpos+int64(len(r.buf)) {
		return r.buf[pos-r.wpos:][:n], nil
	}
	want := max(n, int(min(recoveryChunk, fileSize-pos)))
	if cap(r.buf) < want {
		r.buf = make([]byte, max(want, recoveryChunk))
	}
	r.buf = r.buf[:want]
	if _, err := r.f.ReadAt(r.buf, pos); err != nil {
		r.buf = r.buf[:0]
		return nil, fmt.Errorf("log: read %s at %d: %w", r.f.Name(), pos, err)
	}
	r.wpos = pos
	return r.buf[:n], nil
}
