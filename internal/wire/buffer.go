package wire

import (
	"math/bits"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// keptBufferBytes is the largest encoding buffer a connection keeps between
// responses. Larger responses (fetches) borrow from responseBuffers, so that
// an idle consumer's connection does not pin megabytes.
const keptBufferBytes = 1 << 20

// responseBuffers recycles the buffers of large responses across
// connections: a fetch response is megabytes, and allocating one per fetch
// (zeroed, then grown by doubling as kmsg appends to it) costs more CPU
// than sending it.
var responseBuffers sync.Pool // of *[]byte

// borrowBuffer returns an empty buffer with room for at least n bytes.
func borrowBuffer(n int) *[]byte {
	if b, ok := responseBuffers.Get().(*[]byte); ok {
		if cap(*b) >= n {
			*b = (*b)[:0]
			return b
		}
		// Too small for this response: let the collector have it, and
		// allocate a size that serves this one and the ones like it.
	}
	b := make([]byte, 0, 1<<bits.Len(uint(n-1)))
	return &b
}

// returnBuffer gives b back for another response.
func returnBuffer(b *[]byte) { responseBuffers.Put(b) }

// sizeHint estimates the encoded size of resp, frame included, so that it
// is encoded into a buffer of the right size at once. Only fetch responses
// are large, and their size is that of the records they carry; the
// estimate is generous on the rest, and the encoder grows the buffer if it
// falls short.
func sizeHint(resp kmsg.Response) int {
	fetch, ok := resp.(*kmsg.FetchResponse)
	if !ok {
		return 0
	}
	n := 128
	for i := range fetch.Topics {
		t := &fetch.Topics[i]
		n += 32 + len(t.Topic)
		for j := range t.Partitions {
			p := &t.Partitions[j]
			n += 96 + len(p.RecordBatches) + 24*len(p.AbortedTransactions)
		}
	}
	for i := range fetch.Brokers {
		n += 32 + len(fetch.Brokers[i].Host)
	}
	return n
}
