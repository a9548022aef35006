package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

func TestRunGroupDispatch(t *testing.T) {
	for _, tc := range []struct {
		args           string
		wantErr        string
		stdout, stderr string // expected to be contained
	}{
		{args: "", wantErr: "missing subcommand", stderr: "reset-offsets"},
		{args: "frobnicate", wantErr: `unknown subcommand "frobnicate"`, stderr: "usage: spotstream group"},
		{args: "-h", stdout: "usage: spotstream group <subcommand>"},
		{args: "help", stdout: "describe"},
		{args: "list -h", stderr: "usage: spotstream group list"},
		{args: "describe -h", stderr: "LOG-END-OFFSET"},
		{args: "reset-offsets -h", stderr: "--to-datetime"},
		{args: "delete --help", stderr: "NON_EMPTY_GROUP"},
		{args: "describe", wantErr: "no group given"},
		{args: "delete", wantErr: "no group given"},
		{args: "reset-offsets g --topic t", wantErr: "which offsets?"},
		{args: "list extra", wantErr: `unexpected argument "extra"`},
	} {
		var stdout, stderr bytes.Buffer
		err := runGroup(context.Background(), strings.Fields(tc.args), &stdout, &stderr)
		switch {
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%q: error %v, want one containing %q", tc.args, err, tc.wantErr)
		case tc.wantErr == "" && err != nil:
			t.Errorf("%q: %v", tc.args, err)
		case !strings.Contains(stdout.String(), tc.stdout):
			t.Errorf("%q: stdout %q, want it to contain %q", tc.args, stdout.String(), tc.stdout)
		case !strings.Contains(stderr.String(), tc.stderr):
			t.Errorf("%q: stderr %q, want it to contain %q", tc.args, stderr.String(), tc.stderr)
		}
	}
}

func TestParseInterspersed(t *testing.T) {
	for _, tc := range []struct {
		args       string
		positional []string
		members    bool
		brokers    string
	}{
		{args: "g", positional: []string{"g"}},
		{args: "g --members", positional: []string{"g"}, members: true},
		{args: "--members g h", positional: []string{"g", "h"}, members: true},
		{args: "g --brokers b:1 h --members", positional: []string{"g", "h"}, members: true, brokers: "b:1"},
		{args: "g -- --members -x", positional: []string{"g", "--members", "-x"}},
		{args: "--members -- -g", positional: []string{"-g"}, members: true},
		{args: "", positional: nil},
	} {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		members := fs.Bool("members", false, "")
		brokers := fs.String("brokers", "", "")
		got, err := parseInterspersed(fs, strings.Fields(tc.args))
		if err != nil || !slices.Equal(got, tc.positional) || *members != tc.members || *brokers != tc.brokers {
			t.Errorf("%q: positional %q, members %v, brokers %q, error %v; want %q, %v, %q",
				tc.args, got, *members, *brokers, err, tc.positional, tc.members, tc.brokers)
		}
	}
}

func TestParseGroupCommands(t *testing.T) {
	parsers := map[string]func([]string) error{
		"list": func(a []string) error { _, err := parseListOptions(a, io.Discard); return err },
		"describe": func(a []string) error {
			o, err := parseDescribeOptions(a, io.Discard)
			if err == nil && len(o.groups) == 0 {
				err = errors.New("no groups parsed")
			}
			return err
		},
		"delete": func(a []string) error { _, err := parseDeleteOptions(a, io.Discard); return err },
	}
	for _, tc := range []struct {
		cmd, args string
		wantErr   string
	}{
		{cmd: "list", args: ""},
		{cmd: "list", args: "--json --brokers a:1,b:2 --timeout 5s"},
		{cmd: "list", args: "--brokers ,", wantErr: "--bootstrap-server: no broker given"},
		{cmd: "list", args: "--timeout 0s", wantErr: "--timeout: must be positive"},
		{cmd: "list", args: "--members", wantErr: "not defined"},
		{cmd: "describe", args: "g --members --json"},
		{cmd: "describe", args: "--json g h"},
		{cmd: "describe", args: "g --output json"},
		{cmd: "list", args: "--output=table --bootstrap-server a:1"},
		{cmd: "list", args: "--output yaml", wantErr: "want table or json"},
		{cmd: "describe", args: "--members", wantErr: "no group given"},
		{cmd: "describe", args: "g --bootstrap-server=", wantErr: "--bootstrap-server"},
		{cmd: "describe", args: "g --nope", wantErr: "not defined"},
		{cmd: "delete", args: "g h g"},
		{cmd: "delete", args: "--timeout 1s", wantErr: "no group given"},
		{cmd: "delete", args: "g --timeout -1s", wantErr: "--timeout"},
	} {
		err := parsers[tc.cmd](strings.Fields(tc.args))
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s %q: %v", tc.cmd, tc.args, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s %q: error %v, want one containing %q", tc.cmd, tc.args, err, tc.wantErr)
		}
	}
	if o, err := parseDeleteOptions([]string{"b", "a", "b"}, io.Discard); err != nil || !slices.Equal(o.groups, []string{"a", "b"}) {
		t.Errorf("delete b a b: groups %q, error %v; want [a b]", o.groups, err)
	}
	if _, err := parseDescribeOptions([]string{"--", ""}, io.Discard); err == nil || !strings.Contains(err.Error(), "empty group name") {
		t.Errorf("describe '': error %v, want empty group name", err)
	}
}

func TestGroupList(t *testing.T) {
	listed := kadm.ListedGroups{
		"zeta":   {Group: "zeta", ProtocolType: "consumer", State: "Empty"},
		"alpha":  {Group: "alpha", ProtocolType: "consumer", State: "PreparingRebalance"},
		"kip848": {Group: "kip848", ProtocolType: "consumer", State: "Stable"},
		"conn":   {Group: "conn", ProtocolType: "connect", State: "Stable"},
	}
	described := kadm.DescribedGroups{
		"zeta":   {Group: "zeta", State: "Empty", ProtocolType: "consumer"},
		"alpha":  {Group: "alpha", State: "Stable", ProtocolType: "consumer", Members: make([]kadm.DescribedGroupMember, 2)},
		"kip848": {Group: "kip848", Err: kerr.GroupIDNotFound},
		"conn":   {Group: "conn", State: "Stable", ProtocolType: "connect", Members: make([]kadm.DescribedGroupMember, 1)},
	}
	rows := groupListRows(listed, described)
	var b bytes.Buffer
	if err := printGroupList(&b, rows, false); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"GROUP   STATE   PROTOCOL-TYPE  MEMBERS\n" +
		"alpha   Stable  consumer       2\n" +
		"conn    Stable  connect        1\n" +
		"kip848  Stable  consumer       -\n" +
		"zeta    Empty   consumer       0\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	if err := printGroupList(&b, rows[:1], true); err != nil {
		t.Fatal(err)
	}
	if want := `{"group":"alpha","state":"Stable","protocol_type":"consumer","members":2}` + "\n"; b.String() != want {
		t.Errorf("JSON %q, want %q", b.String(), want)
	}
	b.Reset()
	if err := printGroupList(&b, groupListRows(nil, nil), false); err != nil || b.String() != "GROUP  STATE  PROTOCOL-TYPE  MEMBERS\n" {
		t.Errorf("no groups: %q, %v", b.String(), err)
	}
}

// describedLag returns kadm.Lag's answer for a Stable group: members m1
// (static, instance "i1") owning t/0 and t/1, m2 owning u/0, and m3 owning
// nothing; t/0 committed, t/1 not (log start 5), u/0 with its end offset
// unlisted; and t/2 committed but owned by nobody.
func describedLag() kadm.DescribedGroupLag {
	instance := "i1"
	members := []kadm.DescribedGroupMember{
		{MemberID: "m1", InstanceID: &instance, ClientID: "c1", ClientHost: "/10.0.0.1"},
		{MemberID: "m2", ClientID: "c2", ClientHost: "/10.0.0.2"},
		{MemberID: "m3", ClientID: "c3", ClientHost: "/10.0.0.3"},
	}
	listed := func(t string, p int32, o int64) kadm.ListedOffset {
		return kadm.ListedOffset{Topic: t, Partition: p, Offset: o, Timestamp: -1, LeaderEpoch: -1}
	}
	commit := func(t string, p int32, at int64) kadm.Offset {
		return kadm.Offset{Topic: t, Partition: p, At: at, LeaderEpoch: -1}
	}
	missing := errors.New("missing from list offsets")
	lag := kadm.GroupLag{
		"t": {
			0: {Member: &members[0], Topic: "t", Partition: 0, Commit: commit("t", 0, 40), Start: listed("t", 0, 0), End: listed("t", 0, 100), Lag: 60},
			1: {Member: &members[0], Topic: "t", Partition: 1, Commit: commit("t", 1, -1), Start: listed("t", 1, 5), End: listed("t", 1, 25), Lag: 20},
			2: {Topic: "t", Partition: 2, Commit: commit("t", 2, 7), Start: listed("t", 2, 0), End: listed("t", 2, 7), Lag: 0},
		},
		"u": {
			0: {Member: &members[1], Topic: "u", Partition: 0, Commit: commit("u", 0, 3),
				Start: kadm.ListedOffset{Topic: "u", Err: missing}, End: kadm.ListedOffset{Topic: "u", Err: missing}, Lag: -1, Err: missing},
		},
	}
	return kadm.DescribedGroupLag{
		Group:        "app",
		Coordinator:  kadm.BrokerDetail{NodeID: 2, Host: "b2", Port: 9092},
		State:        "Stable",
		ProtocolType: "consumer",
		Protocol:     "cooperative-sticky",
		Members:      members,
		Lag:          lag,
	}
}

func TestDescribeGroup(t *testing.T) {
	r, err := newGroupReport("app", kadm.DescribedGroupLags{"app": describedLag()})
	if err != nil {
		t.Fatal(err)
	}
	header := "group app: state Stable, protocol type consumer, protocol cooperative-sticky, coordinator 2 (b2:9092), 3 members\n"
	for _, tc := range []struct {
		name          string
		members, json bool
		want          string
	}{
		{name: "partitions", want: header +
			"TOPIC  PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG  MEMBER-ID  CLIENT-ID  HOST\n" +
			"t      0          40              100             60   m1         c1         /10.0.0.1\n" +
			"t      1          -               25              20   m1         c1         /10.0.0.1\n" +
			"t      2          7               7               0    -          -          -\n" +
			"u      0          3               -               -    m2         c2         /10.0.0.2\n" +
			"error: u/0: missing from list offsets\n" +
			"total lag 80\n"},
		{name: "members", members: true, want: header +
			"MEMBER-ID  INSTANCE-ID  CLIENT-ID  HOST       ASSIGNMENT\n" +
			"m1         i1           c1         /10.0.0.1  t:0,1\n" +
			"m2         -            c2         /10.0.0.2  u:0\n" +
			"m3         -            c3         /10.0.0.3  -\n"},
		{name: "json", json: true, members: true, want: `{"group":"app","state":"Stable","protocol_type":"consumer","protocol":"cooperative-sticky",` +
			`"coordinator":{"node_id":2,"host":"b2","port":9092},"members":[` +
			`{"member_id":"m1","instance_id":"i1","client_id":"c1","host":"/10.0.0.1","assignment":{"t":[0,1]}},` +
			`{"member_id":"m2","instance_id":"","client_id":"c2","host":"/10.0.0.2","assignment":{"u":[0]}},` +
			`{"member_id":"m3","instance_id":"","client_id":"c3","host":"/10.0.0.3","assignment":{}}],"partitions":[` +
			`{"topic":"t","partition":0,"current_offset":40,"log_start_offset":0,"log_end_offset":100,"lag":60,"member_id":"m1","client_id":"c1","host":"/10.0.0.1"},` +
			`{"topic":"t","partition":1,"current_offset":-1,"log_start_offset":5,"log_end_offset":25,"lag":20,"member_id":"m1","client_id":"c1","host":"/10.0.0.1"},` +
			`{"topic":"t","partition":2,"current_offset":7,"log_start_offset":0,"log_end_offset":7,"lag":0,"member_id":"","client_id":"","host":""},` +
			`{"topic":"u","partition":0,"current_offset":3,"log_start_offset":-1,"log_end_offset":-1,"lag":-1,"member_id":"m2","client_id":"c2","host":"/10.0.0.2","error":"missing from list offsets"}],` +
			`"total_lag":80}` + "\n"},
	} {
		var b bytes.Buffer
		if err := printGroupReport(&b, r, tc.members, tc.json); err != nil {
			t.Fatal(err)
		}
		if b.String() != tc.want {
			t.Errorf("%s:\n%s\nwant:\n%s", tc.name, b.String(), tc.want)
		}
	}
}

// TestDescribeEmptyGroup runs kadm's own lag calculation over an Empty
// group's commits, to pin down the semantics the describe help documents:
// a committed partition lags by end minus commit, an uncommitted partition
// of a committed topic by end minus log start, and neither has a member.
func TestDescribeEmptyGroup(t *testing.T) {
	group := kadm.DescribedGroup{Group: "idle", State: "Empty", ProtocolType: "consumer", Coordinator: kadm.BrokerDetail{NodeID: 1}}
	commits := kadm.OffsetResponses{"t": {
		0: {Offset: kadm.Offset{Topic: "t", Partition: 0, At: 10, LeaderEpoch: -1}},
		1: {Offset: kadm.Offset{Topic: "t", Partition: 1, At: 50, LeaderEpoch: -1}}, // past the end: lag 0
	}}
	starts := listedOffsets(map[string][]int64{"t": {0, 0, 30}})
	ends := listedOffsets(map[string][]int64{"t": {25, 40, 45}})
	lag := kadm.CalculateGroupLagWithStartOffsets(group, commits, starts, ends)
	r, err := newGroupReport("idle", kadm.DescribedGroupLags{"idle": {
		Group: group.Group, State: group.State, ProtocolType: group.ProtocolType, Coordinator: group.Coordinator, Lag: lag,
	}})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := printGroupReport(&b, r, false, false); err != nil {
		t.Fatal(err)
	}
	want := "group idle: state Empty, protocol type consumer, protocol -, coordinator 1, 0 members\n" +
		"TOPIC  PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG  MEMBER-ID  CLIENT-ID  HOST\n" +
		"t      0          10              25              15   -          -          -\n" +
		"t      1          50              40              0    -          -          -\n" +
		"t      2          -               45              15   -          -          -\n" +
		"total lag 30\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	if err := printGroupReport(&b, r, true, false); err != nil || !strings.HasSuffix(b.String(), "MEMBER-ID  INSTANCE-ID  CLIENT-ID  HOST  ASSIGNMENT\n") {
		t.Errorf("members of an empty group: %q, %v", b.String(), err)
	}
}

func TestDescribeGroupErrors(t *testing.T) {
	lags := kadm.DescribedGroupLags{
		"dead":      {Group: "dead", State: "Dead"},
		"notfound":  {Group: "notfound", DescribeErr: kerr.GroupIDNotFound},
		"nofetch":   {Group: "nofetch", State: "Stable", FetchErr: kerr.GroupIDNotFound},
		"denied":    {Group: "denied", DescribeErr: kerr.GroupAuthorizationFailed},
		"fetchfail": {Group: "fetchfail", State: "Empty", FetchErr: kerr.CoordinatorLoadInProgress},
	}
	for name, want := range map[string]string{
		"dead":      `group "dead" does not exist`,
		"notfound":  `group "notfound" does not exist`,
		"nofetch":   `group "nofetch" does not exist`,
		"denied":    `describe group "denied": not authorized to access the group (GROUP_AUTHORIZATION_FAILED`,
		"fetchfail": `fetch offsets of group "fetchfail": COORDINATOR_LOAD_IN_PROGRESS`,
		"absent":    `group "absent": missing from the cluster's answer`,
	} {
		_, err := newGroupReport(name, lags)
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: error %v, want one starting %q", name, err, want)
		}
	}
	// A Dead group that still has offsets exists as far as an operator is
	// concerned: Kafka keeps offsets of groups with no members.
	withOffsets := kadm.DescribedGroupLags{"g": {Group: "g", State: "Dead", Lag: kadm.GroupLag{"t": {0: {Topic: "t", Lag: 1}}}}}
	if _, err := newGroupReport("g", withOffsets); err != nil {
		t.Errorf("Dead group with offsets: %v", err)
	}
}

func TestPrintDeleteResults(t *testing.T) {
	deleted := kadm.DeleteGroupResponses{
		"a":    {Group: "a"},
		"busy": {Group: "busy", Err: kerr.NonEmptyGroup},
		"gone": {Group: "gone", Err: kerr.GroupIDNotFound, ErrMessage: "no such group"},
	}
	var b bytes.Buffer
	err := printDeleteResults(&b, []string{"a", "busy", "gone", "lost"}, deleted, errors.New("broker 3 down"))
	want := "group a: deleted\n" +
		"group busy: not deleted: group has active members (NON_EMPTY_GROUP: The group is not empty.)\n" +
		"group gone: not deleted: group does not exist (GROUP_ID_NOT_FOUND: The group id does not exist.): no such group\n" +
		"group lost: not deleted: no answer: broker 3 down\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	if err == nil || err.Error() != "3 of 4 groups not deleted" {
		t.Errorf("error %v, want 3 of 4 groups not deleted", err)
	}
	b.Reset()
	if err := printDeleteResults(&b, []string{"a"}, deleted, nil); err != nil || b.String() != "group a: deleted\n" {
		t.Errorf("all deleted: %q, %v", b.String(), err)
	}
}

func TestExplain(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{kerr.NonEmptyGroup, "group has active members (NON_EMPTY_GROUP"},
		{fmt.Errorf("commit: %w", kerr.UnknownMemberID), "group has active members; stop them first (commit: UNKNOWN_MEMBER_ID"},
		{kerr.RebalanceInProgress, "group has active members; stop them first"},
		{kerr.CoordinatorNotAvailable, "COORDINATOR_NOT_AVAILABLE"},
	} {
		got := explain(tc.err)
		if !strings.HasPrefix(got.Error(), tc.want) || !errors.Is(got, tc.err) {
			t.Errorf("explain(%v) = %v, want it to start %q and wrap the error", tc.err, got, tc.want)
		}
	}
}

func TestExplainTimeout(t *testing.T) {
	c := adminConn{brokers: "k:9092", timeout: 3 * time.Second}
	err := c.explainTimeout(fmt.Errorf("list: %w", context.DeadlineExceeded))
	if !strings.Contains(err.Error(), "no answer from k:9092 within 3s") || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("explainTimeout: %v", err)
	}
	if other := errors.New("x"); c.explainTimeout(other) != other {
		t.Error("explainTimeout changed an unrelated error")
	}
}

// listedOffsets builds kadm's listing of the given offsets, partition i of
// a topic having the i-th offset.
func listedOffsets(offsets map[string][]int64) kadm.ListedOffsets {
	l := kadm.ListedOffsets{}
	for t, os := range offsets {
		l[t] = map[int32]kadm.ListedOffset{}
		for p, o := range os {
			l[t][int32(p)] = kadm.ListedOffset{Topic: t, Partition: int32(p), Offset: o, Timestamp: -1, LeaderEpoch: -1}
		}
	}
	return l
}
