package cluster

import "testing"

func TestParseBrokerIDRecordKey(t *testing.T) {
	k, err := newKeyspace("ns")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key  string
		want parsedKey
	}{
		{"/ns/broker-ids/1001", parsedKey{kind: kindBrokerIDRecord, broker: 1001}},
		{"/ns/broker-ids/0", parsedKey{kind: kindBrokerIDRecord, broker: 0}},
		{"/ns/brokers/7", parsedKey{kind: kindBroker, broker: 7}},
		{"/ns/broker-ids/007", parsedKey{}},
		{"/ns/broker-ids/-1", parsedKey{}},
		{"/ns/broker-ids/", parsedKey{}},
		{"/other/broker-ids/1", parsedKey{}},
	}
	for _, tt := range tests {
		if got := k.parse(tt.key); got != tt.want {
			t.Errorf("parse(%q) = %+v, want %+v", tt.key, got, tt.want)
		}
	}
	if got := k.brokerIDRecord(1001); got != "/ns/broker-ids/1001" || k.parse(got).broker != 1001 {
		t.Errorf("brokerIDRecord(1001) = %q", got)
	}
}

func TestPickID(t *testing.T) {
	rec := func(rack string) *idRecord { return &idRecord{Rack: rack} }
	tests := []struct {
		name    string
		max     int32
		rack    string
		live    []int32
		history map[int32]*idRecord
		want    int32
		reused  bool
	}{
		{name: "empty cluster", max: 1000, rack: "a", want: 1001},
		{name: "configured ids do not count", max: 1000, rack: "a", live: []int32{0, 1, 1001},
			history: map[int32]*idRecord{0: rec("a"), 1: rec("a"), 1001: rec("b")}, want: 1002},
		{name: "dead broker of the same rack", max: 1000, rack: "a",
			history: map[int32]*idRecord{1001: rec("b"), 1002: rec("a"), 1003: rec("a")}, want: 1002, reused: true},
		{name: "live broker of the same rack is skipped", max: 1000, rack: "a", live: []int32{1002},
			history: map[int32]*idRecord{1001: rec("b"), 1002: rec("a"), 1003: rec("a")}, want: 1003, reused: true},
		{name: "empty rack matches empty rack", max: 1000, rack: "",
			history: map[int32]*idRecord{1001: rec("a"), 1002: rec("")}, want: 1002, reused: true},
		{name: "empty rack does not match a rack", max: 1000, rack: "",
			history: map[int32]*idRecord{1001: rec("a")}, want: 1002},
		{name: "another rack gets a new id above every record", max: 1000, rack: "c",
			history: map[int32]*idRecord{1001: rec("a"), 1002: rec("b")}, want: 1003},
		{name: "a new id fills a gap", max: 1000, rack: "c", live: []int32{1003},
			history: map[int32]*idRecord{1001: rec("a"), 1003: rec("b")}, want: 1002},
		{name: "live id without a record is not new", max: 1000, rack: "a", live: []int32{1001}, want: 1002},
		{name: "unreadable record is neither reused nor new", max: 1000, rack: "a",
			history: map[int32]*idRecord{1001: nil}, want: 1002},
		{name: "record at or below the maximum is not reused", max: 1000, rack: "a",
			history: map[int32]*idRecord{1000: rec("a")}, want: 1001},
		{name: "reserved maximum 0", max: 0, rack: "a", live: []int32{0}, want: 1},
		{name: "smaller maximum", max: 10, rack: "a", history: map[int32]*idRecord{11: rec("b")}, want: 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			live := map[int32]bool{}
			for _, id := range tt.live {
				live[id] = true
			}
			id, reused, ok := pickID(tt.max, tt.rack, live, tt.history)
			if !ok || id != tt.want || reused != tt.reused {
				t.Errorf("pickID = %d, reused %v, ok %v; want %d, reused %v", id, reused, ok, tt.want, tt.reused)
			}
		})
	}
	if id, _, ok := pickID(1<<31-1, "a", nil, nil); ok {
		t.Errorf("pickID above the largest int32 = %d", id)
	}
}
