package log

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkAppend measures appends of 1 KiB and 16 KiB batches to a
// preallocated log, without syncing and with a Flush every N appends.
func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{1 << 10, 16 << 10} {
		for _, every := range []int{0, 1, 16} {
			name := fmt.Sprintf("batch=%dKiB/flush=never", size>>10)
			if every > 0 {
				name = fmt.Sprintf("batch=%dKiB/flush=every%d", size>>10, every)
			}
			b.Run(name, func(b *testing.B) {
				cfg := Config{SegmentBytes: 128 << 20, Preallocate: true, Logger: quietLogger}
				l := mustOpen(b, b.TempDir(), cfg)
				defer l.Close()
				batch := makeBatch(b, 1, size-61-10, 0)
				b.SetBytes(int64(len(batch)))
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if _, err := l.Append(batch); err != nil {
						b.Fatal(err)
					}
					if i++; every > 0 && i%every == 0 {
						if _, err := l.Flush(); err != nil {
							b.Fatal(err)
						}
					}
				}
			})
		}
	}
}

// BenchmarkRead measures fetch-style reads at random offsets of a 64 MiB
// log of 1 KiB batches. Only the result buffer should be allocated.
func BenchmarkRead(b *testing.B) {
	cfg := Config{SegmentBytes: 16 << 20, Logger: quietLogger}
	l := mustOpen(b, b.TempDir(), cfg)
	defer l.Close()
	batch := makeBatch(b, 4, 230, 0)
	for l.Size() < 64<<20 {
		if _, err := l.Append(batch); err != nil {
			b.Fatal(err)
		}
	}
	end := l.EndOffset()
	for _, maxBytes := range []int{1 << 10, 64 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("max=%dKiB", maxBytes>>10), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			b.ReportAllocs()
			var n int64
			for b.Loop() {
				buf, err := l.Read(rng.Int64N(end), maxBytes, end)
				if err != nil {
					b.Fatal(err)
				}
				n += int64(len(buf))
			}
			b.SetBytes(n / int64(b.N))
		})
	}
	b.Run("tail", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := l.Read(end-1, 1<<20, end); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRecover measures crash recovery of a 32 MiB active segment:
// checksumming every batch and rebuilding the indexes.
func BenchmarkRecover(b *testing.B) {
	dir := b.TempDir()
	cfg := Config{Logger: quietLogger}
	l := mustOpen(b, dir, cfg)
	batch := makeBatch(b, 1, 1024-61-10, 0)
	for l.Size() < 32<<20 {
		if _, err := l.Append(batch); err != nil {
			b.Fatal(err)
		}
	}
	size := l.Size()
	crash(l)
	b.SetBytes(size)
	for b.Loop() {
		l := mustOpen(b, dir, cfg)
		crash(l)
	}
}
