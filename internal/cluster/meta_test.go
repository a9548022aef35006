package cluster_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spotstream/spotstream/internal/cluster"
)

func TestMetaRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if _, ok, err := cluster.ReadMeta(dir); ok || err != nil {
		t.Fatalf("ReadMeta of a new directory: %v, %v", ok, err)
	}
	want := cluster.Meta{BrokerID: 3, ClusterID: "Zx8vXq3tRAm1x7Zp0wKk2Q", Lease: 0x694d8b3ef6a4b20b}
	for range 2 { // the second write replaces the first
		if err := cluster.WriteMeta(dir, want); err != nil {
			t.Fatal(err)
		}
	}
	got, ok, err := cluster.ReadMeta(dir)
	if err != nil || !ok || got != want {
		t.Fatalf("ReadMeta = %+v, %v, %v; want %+v", got, ok, err, want)
	}
	b, _ := os.ReadFile(filepath.Join(dir, cluster.MetaFile))
	for _, line := range []string{"version=1\n", "broker.id=3\n", "cluster.id=Zx8vXq3tRAm1x7Zp0wKk2Q\n", "coordinator.lease=694d8b3ef6a4b20b\n"} {
		if !strings.Contains(string(b), line) {
			t.Errorf("meta.properties lacks %q:\n%s", line, b)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d files; want meta.properties alone", len(entries))
	}
	if err := cluster.WriteMeta(dir, cluster.Meta{BrokerID: 1}); err == nil {
		t.Error("WriteMeta without a cluster id succeeded")
	}
}

// TestWriteMetaNewDirectory: log.dirs may name a directory that does not
// exist yet; the broker writes meta.properties before opening replicas.
func TestWriteMetaNewDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "log-dir")
	want := cluster.Meta{BrokerID: 0, ClusterID: "c"}
	if err := cluster.WriteMeta(dir, want); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := cluster.ReadMeta(dir); err != nil || !ok || got != want {
		t.Fatalf("ReadMeta = %+v, %v, %v; want %+v", got, ok, err, want)
	}
}

func TestReadMetaKafkaFormat(t *testing.T) {
	for _, tc := range []struct {
		content string
		want    cluster.Meta
		err     bool
	}{
		{content: "#\n#Tue Nov 21 10:00:00 UTC 2026\nversion=0\nbroker.id=7\ncluster.id=abc\n", want: cluster.Meta{BrokerID: 7, ClusterID: "abc"}},
		{content: "node.id=2\nversion=1\ndirectory.id=b2Vx0H1vQ0mJ3Y4x7bq0Aw\ncluster.id=abc\n", want: cluster.Meta{BrokerID: 2, ClusterID: "abc", DirectoryID: "b2Vx0H1vQ0mJ3Y4x7bq0Aw"}},
		{content: "node.id=2\nversion=1\ndirectory.id=xyz\ncluster.id=abc\n", err: true},
		{content: "version=2\nbroker.id=1\n", err: true},
		{content: "version=1\ncluster.id=abc\n", err: true},
		{content: "version=1\nbroker.id=x\n", err: true},
		{content: "version=1\nbroker.id=1\ncoordinator.lease=zz\n", err: true},
		{content: "garbage\n", err: true},
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, cluster.MetaFile), []byte(tc.content), 0o644); err != nil {
			t.Fatal(err)
		}
		got, ok, err := cluster.ReadMeta(dir)
		if tc.err {
			if !errors.Is(err, cluster.ErrMalformed) {
				t.Errorf("%q: err = %v; want ErrMalformed", tc.content, err)
			}
			continue
		}
		if err != nil || !ok || got != tc.want {
			t.Errorf("%q: %+v, %v, %v; want %+v", tc.content, got, ok, err, tc.want)
		}
	}
}

func TestCheckMeta(t *testing.T) {
	write := func(m cluster.Meta) string {
		dir := t.TempDir()
		if err := cluster.WriteMeta(dir, m); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	fresh := t.TempDir()
	a := write(cluster.Meta{BrokerID: 1, ClusterID: "A"})
	aLease := write(cluster.Meta{BrokerID: 1, ClusterID: "A", Lease: 42})

	m, ok, err := cluster.CheckMeta([]string{fresh, a, aLease}, "A")
	if err != nil || !ok || m != (cluster.Meta{BrokerID: 1, ClusterID: "A", Lease: 42}) {
		t.Fatalf("consistent dirs: %+v, %v, %v", m, ok, err)
	}
	if _, ok, err := cluster.CheckMeta([]string{fresh}, "A"); ok || err != nil {
		t.Fatalf("new dirs only: %v, %v", ok, err)
	}

	other := write(cluster.Meta{BrokerID: 1, ClusterID: "B"})
	_, _, err = cluster.CheckMeta([]string{a, other}, "A")
	if !errors.Is(err, cluster.ErrClusterMismatch) || !strings.Contains(err.Error(), other) ||
		!strings.Contains(err.Error(), "cluster B") || !strings.Contains(err.Error(), "cluster A") {
		t.Fatalf("dir of another cluster: %v", err)
	}
	if _, _, err := cluster.CheckMeta([]string{a, other}, ""); !errors.Is(err, cluster.ErrClusterMismatch) {
		t.Fatalf("dirs of two clusters: %v", err)
	}
	two := write(cluster.Meta{BrokerID: 2, ClusterID: "A"})
	if _, _, err := cluster.CheckMeta([]string{a, two}, "A"); !errors.Is(err, cluster.ErrBrokerIDMismatch) {
		t.Fatalf("dirs of two brokers: %v", err)
	}
}

// TestDirectoryIDs checks that a directory keeps the id its meta.properties
// records, that one without gets a new id, and that two directories with
// the same id (one copied from the other) are refused.
func TestDirectoryIDs(t *testing.T) {
	kept, fresh := t.TempDir(), t.TempDir()
	const id = "b2Vx0H1vQ0mJ3Y4x7bq0Aw"
	if err := cluster.WriteMeta(kept, cluster.Meta{BrokerID: 1, ClusterID: "abc", DirectoryID: id}); err != nil {
		t.Fatal(err)
	}
	ids, err := cluster.DirectoryIDs([]string{kept, fresh})
	if err != nil {
		t.Fatal(err)
	}
	if ids[0] != id || ids[1] == "" || ids[1] == id {
		t.Fatalf("directory ids %q: want %s then a new id", ids, id)
	}
	if _, err := cluster.ParseID(ids[1]); err != nil {
		t.Fatalf("new directory id: %v", err)
	}
	again, err := cluster.DirectoryIDs([]string{fresh})
	if err != nil || again[0] == ids[1] {
		t.Fatalf("an unrecorded directory id must not be stable before WriteMeta: %q, %v", again, err)
	}

	copied := t.TempDir()
	if err := cluster.WriteMeta(copied, cluster.Meta{BrokerID: 1, ClusterID: "abc", DirectoryID: id}); err != nil {
		t.Fatal(err)
	}
	if _, err := cluster.DirectoryIDs([]string{kept, copied}); !errors.Is(err, cluster.ErrBrokerIDMismatch) {
		t.Fatalf("two directories with one id: %v, want ErrBrokerIDMismatch", err)
	}
	m, ok, err := cluster.CheckMeta([]string{kept}, "abc")
	if err != nil || !ok || m.DirectoryID != "" {
		t.Fatalf("CheckMeta merges directories: %+v %v %v; want no directory id", m, ok, err)
	}
}
