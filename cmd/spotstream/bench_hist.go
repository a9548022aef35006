package main

import (
	"math"
	"math/bits"
	"time"
)

// Histogram layout. Durations are counted in nanoseconds. Values below
// 2^histSubBits are counted exactly, one bucket each. Every larger power of
// two [2^k, 2^(k+1)) is split into 2^(histSubBits-1) equal buckets, so a
// bucket is at most 1/2^(histSubBits-1) of its lower bound wide and its
// midpoint is within 1/2^histSubBits (0.39%) of any value it holds: the
// log-linear scheme of HdrHistogram with about 2.4 significant digits.
const (
	histSubBits    = 8
	histExact      = 1 << histSubBits       // values counted exactly: [0, 256) ns
	histSubBuckets = 1 << (histSubBits - 1) // buckets per power of two above that
	// histBuckets covers every non-negative int64: the largest shift is
	// 63 - histSubBits.
	histBuckets = histExact + (63-histSubBits)*histSubBuckets
)

// histogram counts durations in log-linear buckets. Memory is fixed (about
// 57 KiB) whatever the number of samples, so a --duration run of any length
// fits; quantiles are within 0.4% of the true sample. Count, sum, min and
// max are exact. The zero value is not ready for use: see newHistogram.
// A histogram is not safe for concurrent use.
type histogram struct {
	counts []uint64
	n      uint64
	sum    time.Duration // overflows after 292 years of summed latency
	min    time.Duration
	max    time.Duration
}

// newHistogram returns an empty histogram.
func newHistogram() *histogram {
	return &histogram{counts: make([]uint64, histBuckets)}
}

// record adds one duration; negative durations count as zero.
func (h *histogram) record(d time.Duration) {
	d = max(d, 0)
	h.counts[histIndex(uint64(d))]++
	if h.n == 0 || d < h.min {
		h.min = d
	}
	h.max = max(h.max, d)
	h.n++
	h.sum += d
}

// count returns the number of recorded durations.
func (h *histogram) count() uint64 { return h.n }

// mean returns the exact mean, or 0 for an empty histogram.
func (h *histogram) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return h.sum / time.Duration(h.n)
}

// quantile returns the duration below or at which a fraction q (0 to 1) of
// the samples lie, using the nearest-rank definition: the sample of rank
// ceil(q*n). The first and last ranks are the exact min and max; others are
// the midpoint of the sample's bucket, clamped to the min and max.
// An empty histogram returns 0.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	switch {
	case rank <= 1:
		return h.min
	case rank >= h.n:
		return h.max
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, hi := histBounds(i)
			mid := time.Duration(lo + (hi-lo)/2)
			return min(max(mid, h.min), h.max)
		}
	}
	return h.max // unreachable: the counts add up to n
}

// histIndex returns the bucket that counts v nanoseconds.
func histIndex(v uint64) int {
	if v < histExact {
		return int(v)
	}
	shift := bits.Len64(v) - histSubBits // >= 1
	mantissa := v >> shift               // in [histExact/2, histExact)
	return histExact + (shift-1)*histSubBuckets + int(mantissa-histSubBuckets)
}

// histBounds returns the smallest and largest value that bucket i counts.
func histBounds(i int) (lo, hi uint64) {
	if i < histExact {
		return uint64(i), uint64(i)
	}
	k := i - histExact
	shift := k/histSubBuckets + 1
	mantissa := uint64(k%histSubBuckets + histSubBuckets)
	return mantissa << shift, (mantissa+1)<<shift - 1
}
