#!/usr/bin/env bash
# Single-broker benchmark: builds spotstream, starts one broker with its
# defaults on a fresh data directory, and runs the produce and consume
# matrix of docs/benchmarks.md. Extra arguments are passed to the broker as
# overrides, e.g. scripts/bench-single-broker.sh log.flush.on.ack=false
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
bin=$work/spotstream
go build -o "$bin" ./cmd/spotstream
port=${PORT:-19092}
overrides=(--override "listeners=PLAINTEXT://127.0.0.1:$port" --override "log.dirs=$work/data")
for o in "$@"; do overrides+=(--override "$o"); done

"$bin" serve "${overrides[@]}" >"$work/broker.log" 2>&1 &
broker=$!
trap 'kill $broker 2>/dev/null; wait $broker 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do
	"$bin" bench produce --brokers "127.0.0.1:$port" --topic warmup --records 1 >/dev/null 2>&1 && break
	sleep 0.1
done

b=(--brokers "127.0.0.1:$port")
for size in 100 1024; do
	records=$((size == 100 ? 3000000 : 1000000))
	for acks in 1 all; do
		echo "== produce acks=$acks record-size=$size"
		"$bin" bench produce "${b[@]}" --topic "t$size" --records "$records" --record-size "$size" --acks "$acks" --warmup 50000 2>/dev/null
	done
	echo "== produce acks=all record-size=$size in-flight=4096"
	"$bin" bench produce "${b[@]}" --topic "t$size" --records "$records" --record-size "$size" --acks all --in-flight 4096 --warmup 50000 2>/dev/null
	echo "== consume record-size=$size (everything above)"
	"$bin" bench consume "${b[@]}" --topic "t$size" 2>/dev/null
	rate=$((size == 100 ? 100000 : 50000))
	echo "== end-to-end latency record-size=$size at $rate records/s"
	"$bin" bench consume "${b[@]}" --topic "t$size" --start end --records "$((rate * 20))" >"$work/e2e.out" 2>/dev/null &
	consumer=$!
	sleep 2 # the consumer must be at the end before the producer starts
	"$bin" bench produce "${b[@]}" --topic "t$size" --records "$((rate * 20))" --record-size "$size" --rate "$rate" 2>/dev/null
	wait $consumer
	cat "$work/e2e.out"
done
