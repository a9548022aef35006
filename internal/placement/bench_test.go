package placement

import (
	"fmt"
	"testing"
)

// twelveBrokers is 3 zones x 4 brokers, one on-demand per zone.
func twelveBrokers() []Broker {
	var out []Broker
	for i := range 12 {
		b := Broker{ID: int32(i), Rack: fmt.Sprintf("z%d", i%3), Capacity: "spot"}
		if i < 3 {
			b.Capacity = "on-demand"
		}
		out = append(out, b)
	}
	return out
}

func BenchmarkAssign(b *testing.B) {
	brokers := twelveBrokers()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Assign(brokers, nil, 10_000, 3, 1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRepair repairs 30,000 replicas (10,000 partitions at rf 3) after
// a broker died and an empty one joined in another zone: 2,222 dead
// replicas replaced in the dead broker's zone, then replicas moved to the
// new broker.
func BenchmarkRepair(b *testing.B) {
	brokers := twelveBrokers()
	parts := assignedParts(b, brokers, 10_000)
	brokers[5] = Broker{ID: 12, Rack: brokers[6].Rack, Capacity: "spot"}
	b.ReportAllocs()
	for b.Loop() {
		if moves := Repair(brokers, parts, 1, 0); len(moves) < 2222+1600 {
			b.Fatalf("%d moves", len(moves))
		}
	}
}

// BenchmarkRepairLarge adds 10 empty brokers to 100 holding 30,000
// replicas.
func BenchmarkRepairLarge(b *testing.B) {
	var brokers []Broker
	for i := range 100 {
		brokers = append(brokers, Broker{ID: int32(i), Rack: fmt.Sprintf("z%d", i%3), Capacity: []string{"on-demand", "spot"}[min(i%10, 1)]})
	}
	parts := assignedParts(b, brokers, 10_000)
	for i := range 10 {
		brokers = append(brokers, Broker{ID: int32(100 + i), Rack: fmt.Sprintf("z%d", i%3), Capacity: "spot"})
	}
	b.ReportAllocs()
	for b.Loop() {
		if moves := Repair(brokers, parts, 1, 0); len(moves) < 2000 {
			b.Fatalf("%d moves", len(moves))
		}
	}
}

func assignedParts(b *testing.B, brokers []Broker, n int) []Partition {
	lists, err := Assign(brokers, nil, n, 3, 1)
	if err != nil {
		b.Fatal(err)
	}
	parts := make([]Partition, len(lists))
	for i, l := range lists {
		parts[i] = Partition{"t", int32(i), l}
	}
	return parts
}

// BenchmarkRepairBalanced repairs 30,000 replicas that need nothing, with
// a broker that holds every partition (the only one in its zone): the cost
// of the periodic check.
func BenchmarkRepairBalanced(b *testing.B) {
	brokers := twelveBrokers()[:10]
	brokers = append(brokers, Broker{ID: 99, Rack: "alone", Capacity: "spot"})
	parts := assignedParts(b, brokers, 10_000)
	b.ReportAllocs()
	for b.Loop() {
		if moves := Repair(brokers, parts, 1, 0); len(moves) > 0 {
			b.Fatalf("%d moves", len(moves))
		}
	}
}
