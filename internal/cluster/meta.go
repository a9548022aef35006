package cluster

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// MetaFile is the name of the file that ties a log directory to a broker
// and a cluster. Its format is Kafka's meta.properties (Java properties,
// key=value lines, '#' comments):
//
//	version=1
//	broker.id=3
//	cluster.id=Zx8vXq3tRAm1x7Zp0wKk2Q
//	directory.id=b2Vx0H1vQ0mJ3Y4x7bq0Aw
//	coordinator.lease=694d8b3ef6a4b20b
//
// directory.id is Kafka's (KIP-858): random per directory, made when the
// directory is first used, so that a fresh disk mounted under an old
// broker id is told apart from the disk that held the broker's data.
// coordinator.lease is ours: the etcd lease (hex, as etcdctl prints it) of
// the broker's latest session, which a restarted broker adopts (see
// [Store.Register]). Kafka ignores it; node.id (Kafka's KRaft name for
// broker.id) is read as broker.id. Other keys are ignored and not kept on
// rewrite.
const MetaFile = "meta.properties"

// Meta is the content of a log directory's meta.properties.
type Meta struct {
	BrokerID  int32
	ClusterID string
	// Lease is the lease of the broker's latest session; 0 if none.
	Lease clientv3.LeaseID
	// DirectoryID identifies this one directory (FormatID form); "" in a
	// file written before directory ids existed. CheckMeta leaves it
	// empty: it differs between directories.
	DirectoryID string
}

// ReadMeta reads dir's meta.properties. It returns false (and no error) if
// the file does not exist: a new directory.
func ReadMeta(dir string) (Meta, bool, error) {
	path := filepath.Join(dir, MetaFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Meta{}, false, nil
	}
	if err != nil {
		return Meta{}, false, fmt.Errorf("cluster: reading %s: %w", path, err)
	}
	m, err := parseMeta(b)
	if err != nil {
		return Meta{}, false, fmt.Errorf("cluster: %s: %w", path, err)
	}
	return m, true, nil
}

func parseMeta(b []byte) (Meta, error) {
	props := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return Meta{}, fmt.Errorf("%w: line %q is not key=value", ErrMalformed, line)
		}
		props[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	if err := sc.Err(); err != nil {
		return Meta{}, err
	}
	if v := props["version"]; v != "0" && v != "1" {
		return Meta{}, fmt.Errorf("%w: unsupported version %q", ErrMalformed, v)
	}
	id, ok := props["broker.id"]
	if !ok {
		id, ok = props["node.id"]
	}
	if !ok {
		return Meta{}, fmt.Errorf("%w: no broker.id", ErrMalformed)
	}
	n, err := strconv.ParseInt(id, 10, 32)
	if err != nil || n < 0 {
		return Meta{}, fmt.Errorf("%w: broker.id %q", ErrMalformed, id)
	}
	m := Meta{BrokerID: int32(n), ClusterID: props["cluster.id"]}
	if d := props["directory.id"]; d != "" {
		if _, err := ParseID(d); err != nil {
			return Meta{}, fmt.Errorf("%w: directory.id %q", ErrMalformed, d)
		}
		m.DirectoryID = d
	}
	if l := props["coordinator.lease"]; l != "" {
		lease, err := strconv.ParseInt(l, 16, 64)
		if err != nil {
			return Meta{}, fmt.Errorf("%w: coordinator.lease %q", ErrMalformed, l)
		}
		m.Lease = clientv3.LeaseID(lease)
	}
	return m, nil
}

// WriteMeta writes dir's meta.properties atomically: a reader (or a crash)
// sees the old file or the new one, never a mix. The directory must exist.
func WriteMeta(dir string, m Meta) error {
	if m.BrokerID < 0 || m.ClusterID == "" {
		return fmt.Errorf("cluster: writing %s in %s: broker id %d, cluster id %q: both are required", MetaFile, dir, m.BrokerID, m.ClusterID)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "#\n# Written by spotstream. Ties this directory to a broker and a cluster.\nversion=1\nbroker.id=%d\ncluster.id=%s\n", m.BrokerID, m.ClusterID)
	if m.DirectoryID != "" {
		fmt.Fprintf(&b, "directory.id=%s\n", m.DirectoryID)
	}
	if m.Lease != 0 {
		fmt.Fprintf(&b, "coordinator.lease=%x\n", int64(m.Lease))
	}
	// A broker writes meta.properties before it opens any replica, so the
	// directory may not exist yet (log.dirs pointing at a new path).
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cluster: writing %s in %s: %w", MetaFile, dir, err)
	}
	if err := writeFileAtomic(dir, MetaFile, []byte(b.String())); err != nil {
		return fmt.Errorf("cluster: writing %s in %s: %w", MetaFile, dir, err)
	}
	return nil
}

// writeFileAtomic writes dir/name through a temporary file: write, fsync,
// rename over the old file, fsync the directory (so the rename survives a
// crash).
func writeFileAtomic(dir, name string, data []byte) (err error) {
	f, err := os.CreateTemp(dir, name+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// DirectoryIDs returns the directory id of each of dirs, in order: the one
// its meta.properties records, or a new random one for a directory without
// (a fresh disk, or a file from before directory ids). The caller records
// new ids with WriteMeta before it stores anything in those directories.
func DirectoryIDs(dirs []string) ([]string, error) {
	ids := make([]string, len(dirs))
	for i, dir := range dirs {
		m, ok, err := ReadMeta(dir)
		if err != nil {
			return nil, err
		}
		if ok && m.DirectoryID != "" {
			ids[i] = m.DirectoryID
		} else {
			ids[i] = FormatID(NewID())
		}
		if slices.Contains(ids[:i], ids[i]) {
			return nil, fmt.Errorf("%w: log directories %s and %s have the same directory.id %s (a copied directory?)",
				ErrBrokerIDMismatch, dirs[slices.Index(ids[:i], ids[i])], dir, ids[i])
		}
	}
	return ids, nil
}

// CheckMeta reads meta.properties in every log directory and checks that
// they describe one broker of one cluster: a directory of another cluster
// than clusterID (skipped when clusterID is "") fails with
// ErrClusterMismatch, directories with different broker ids with
// ErrBrokerIDMismatch. Directories without the file are new and pass. It
// returns what the directories agree on, and false if none has the file.
// The lease is the first directory's that records one.
func CheckMeta(dirs []string, clusterID string) (Meta, bool, error) {
	var merged Meta
	var from string // the directory merged came from
	for _, dir := range dirs {
		m, ok, err := ReadMeta(dir)
		if err != nil {
			return Meta{}, false, err
		}
		if !ok {
			continue
		}
		if clusterID != "" && m.ClusterID != "" && m.ClusterID != clusterID {
			return Meta{}, false, fmt.Errorf("%w: log directory %s belongs to cluster %s, but the coordinator holds cluster %s",
				ErrClusterMismatch, dir, m.ClusterID, clusterID)
		}
		if from == "" {
			merged, from = m, dir
			merged.DirectoryID = ""
			continue
		}
		if m.BrokerID != merged.BrokerID {
			return Meta{}, false, fmt.Errorf("%w: log directory %s has broker.id %d, but %s has %d",
				ErrBrokerIDMismatch, dir, m.BrokerID, from, merged.BrokerID)
		}
		if m.ClusterID != "" && merged.ClusterID != "" && m.ClusterID != merged.ClusterID {
			return Meta{}, false, fmt.Errorf("%w: log directory %s belongs to cluster %s, but %s to cluster %s",
				ErrClusterMismatch, dir, m.ClusterID, from, merged.ClusterID)
		}
		if merged.ClusterID == "" {
			merged.ClusterID = m.ClusterID
		}
		if merged.Lease == 0 {
			merged.Lease = m.Lease
		}
	}
	return merged, from != "", nil
}
