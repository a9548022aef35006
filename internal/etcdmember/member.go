// Package etcdmember runs an etcd member inside the broker process: the
// coordination service of a cluster without an external etcd. It owns the
// member's data directory (locked while it runs), its sockets, and the
// member's start and stop; package quorum decides which brokers run one,
// and package cluster is the client of whatever members run.
package etcdmember

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver"

	"github.com/spotstream/spotstream/internal/etcdlog"
)

// Settings of embedded members.
const (
	// MaxTxnOps is the --max-txn-ops of embedded members: a topic
	// of up to MaxTxnOps-1 partitions is created in one
	// transaction. Pass WithMaxTxnOps(MaxTxnOps) to Connect when
	// every member is embedded.
	MaxTxnOps = 4096

	// embeddedCompactionRevisions is how many revisions an embedded member
	// keeps (auto-compaction in revision mode): enough for a watcher that
	// was briefly disconnected to resume, while the history stays small. A
	// watcher that falls further behind reloads (see Cache).
	embeddedCompactionRevisions = "10000"
)

// Socket and lock file names in the data directory.
const (
	clientSocket = "etcd-client.sock"
	peerSocket   = "etcd-peer.sock"
	lockName     = "spotstream-etcd.lock"

	// maxSocketPath is the longest unix socket path we use: sun_path holds
	// 108 bytes on Linux and 104 on macOS, including the terminating NUL.
	maxSocketPath = 103
)

// Config configures an embedded etcd member.
type Config struct {
	// Dir is the member's data directory (required). It is created if
	// needed. One process at a time may use it: Start locks it.
	Dir string
	// Name is the member name, unique in the etcd cluster; "spotstream" if
	// empty.
	Name string

	// ListenClientURLs and ListenPeerURLs are where the member serves
	// clients and other members: "http://127.0.0.1:2379",
	// "unix:///abs/path.sock". When empty, the member listens on unix
	// sockets (see the next paragraph), so that any number of single-node
	// brokers run on one machine without port conflicts and nothing listens
	// on the network.
	//
	// The sockets are Dir/etcd-client.sock and Dir/etcd-peer.sock when
	// those paths fit a unix socket address (103 bytes). Otherwise they go
	// to $TMPDIR/spotstream-<first 16 hex digits of SHA-256 of Dir's
	// absolute path>/ (a private directory, removed on Close): the same Dir
	// always gets the same sockets, different Dirs never share them.
	// Endpoints returns the client socket's URL either way.
	//
	// Unix peer sockets are only good for a single member: etcd dials peers
	// by host:port, so members of a multi-member cluster need http(s) peer
	// URLs.
	ListenClientURLs []string
	ListenPeerURLs   []string
	// AdvertiseClientURLs and AdvertisePeerURLs are the URLs other members
	// and clients use. When empty they are the listen URLs, which must then
	// not be wildcards (0.0.0.0, [::], or no host).
	AdvertiseClientURLs []string
	AdvertisePeerURLs   []string

	// InitialCluster lists the members of a new cluster,
	// "name1=http://10.0.0.1:2380,name2=http://10.0.0.2:2380,...". Empty
	// means a cluster of this member alone. Ignored once Dir holds data.
	InitialCluster string
	// InitialClusterState is "new" (default) to bootstrap a cluster, or
	// "existing" to join one after `etcdctl member add`.
	InitialClusterState string
	// InitialClusterToken keeps members of different clusters apart;
	// "spotstream" if empty.
	InitialClusterToken string

	// HeartbeatInterval and ElectionTimeout are Raft's timing. The defaults
	// are etcd's (100ms, 1s) for a multi-member cluster, and 10ms, 50ms for
	// a single member, which has no peer to wait for: it elects itself
	// within a few ticks of starting. A single member that later gains
	// peers must then be restarted with InitialCluster set (or these set)
	// to get multi-member timing.
	HeartbeatInterval time.Duration
	ElectionTimeout   time.Duration

	// UnsafeNoFsync disables fsync in etcd: a crash may lose or corrupt the
	// member's data. For tests only.
	UnsafeNoFsync bool

	// Logger receives etcd's warnings (at debug level) and errors (at warn
	// level); slog.Default() if nil.
	Logger *slog.Logger
}

// Member is an etcd member running in this process.
type Member struct {
	etcd      *embed.Etcd
	endpoints []string
	lock      *os.File // flock on Dir, held until Close
	tmpDir    string   // private socket directory to remove on Close, or ""
	closeOnce sync.Once
}

// Start starts an etcd member and returns once it serves clients:
// it has joined a quorum, and its cluster has a leader. For a single
// member that takes tens of milliseconds. Members of a new multi-member
// cluster wait for each other, so start them concurrently; ctx bounds the
// wait.
func Start(ctx context.Context, cfg Config) (*Member, error) {
	ec, tmpDir, err := cfg.etcdConfig()
	if err != nil {
		return nil, err
	}
	lock, err := lockFile(filepath.Join(cfg.Dir, lockName))
	if err != nil {
		return nil, err
	}
	e := &Member{lock: lock, tmpDir: tmpDir}
	for _, u := range ec.AdvertiseClientUrls {
		e.endpoints = append(e.endpoints, u.String())
	}
	e.etcd, err = embed.StartEtcd(ec)
	if err != nil {
		e.release()
		return nil, fmt.Errorf("etcdmember: starting etcd member %q in %s: %w", ec.Name, cfg.Dir, err)
	}
	// Members of a new cluster may start in any order, minutes apart: a
	// member waits for its peers as long as ctx allows, and says so.
	stopLogging := etcdlog.WhileWaiting(cfg.logger(), "etcd member waiting for the other members of its cluster to form a quorum",
		"member", ec.Name, "initial.cluster", cfg.InitialCluster)
	defer stopLogging()
	for {
		select {
		case <-e.etcd.Server.ReadyNotify():
			return e, nil
		case err := <-e.etcd.Err():
			e.abort()
			return nil, fmt.Errorf("etcdmember: etcd member %q in %s failed: %w", ec.Name, cfg.Dir, err)
		case <-e.etcd.Server.StopNotify():
			e.abort()
			return nil, fmt.Errorf("etcdmember: etcd member %q in %s stopped while starting", ec.Name, cfg.Dir)
		case <-ctx.Done():
			e.abort()
			return nil, fmt.Errorf("etcdmember: waiting for etcd member %q in %s to serve: %w", ec.Name, cfg.Dir, ctx.Err())
		}
	}
}

func (cfg *Config) logger() *slog.Logger {
	if cfg.Logger == nil {
		return slog.Default()
	}
	return cfg.Logger
}

// abort stops a member that never became ready. embed.Etcd.Close alone
// would wait forever for client servers that only start once the member is
// ready; stopping the server first makes them give up.
func (e *Member) abort() {
	e.etcd.Server.HardStop()
	e.Close()
}

// etcdConfig translates cfg to etcd's configuration. It creates Dir and, if
// needed, the private socket directory, returned so that Close removes it.
func (cfg *Config) etcdConfig() (*embed.Config, string, error) {
	if cfg.Dir == "" {
		return nil, "", errors.New("etcdmember: embedded etcd: Dir is required")
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, "", fmt.Errorf("etcdmember: embedded etcd: %w", err)
	}
	ec := embed.NewConfig()
	ec.Dir = cfg.Dir
	ec.Name = cmp.Or(cfg.Name, "spotstream")
	ec.InitialClusterToken = cmp.Or(cfg.InitialClusterToken, "spotstream")
	ec.ClusterState = cmp.Or(cfg.InitialClusterState, embed.ClusterStateFlagNew)
	ec.MaxTxnOps = MaxTxnOps
	ec.AutoCompactionMode = embed.CompactorModeRevision
	ec.AutoCompactionRetention = embeddedCompactionRevisions
	ec.UnsafeNoFsync = cfg.UnsafeNoFsync
	// The JSON gateway is for curl users; clients speak gRPC.
	ec.EnableGRPCGateway = false
	log := cfg.logger()
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(etcdlog.New(log.With("component", "etcd", "member", ec.Name)))

	single := cfg.InitialCluster == ""
	tick, election := 100*time.Millisecond, time.Second
	if single {
		tick, election = 10*time.Millisecond, 50*time.Millisecond
	}
	if cfg.HeartbeatInterval > 0 {
		tick = cfg.HeartbeatInterval
	}
	if cfg.ElectionTimeout > 0 {
		election = cfg.ElectionTimeout
	}
	ec.TickMs, ec.ElectionMs = uint(tick.Milliseconds()), uint(election.Milliseconds())

	var tmpDir string
	listenClient, listenPeer := cfg.ListenClientURLs, cfg.ListenPeerURLs
	if len(listenClient) == 0 || len(listenPeer) == 0 {
		dir, temp, err := socketDir(cfg.Dir)
		if err != nil {
			return nil, "", err
		}
		if temp {
			tmpDir = dir
		}
		if len(listenClient) == 0 {
			listenClient = []string{"unix://" + filepath.Join(dir, clientSocket)}
		}
		if len(listenPeer) == 0 {
			listenPeer = []string{"unix://" + filepath.Join(dir, peerSocket)}
		}
	}
	var err error
	if ec.ListenClientUrls, ec.AdvertiseClientUrls, err = urlPair("client", listenClient, cfg.AdvertiseClientURLs); err != nil {
		return nil, "", err
	}
	if ec.ListenPeerUrls, ec.AdvertisePeerUrls, err = urlPair("peer", listenPeer, cfg.AdvertisePeerURLs); err != nil {
		return nil, "", err
	}
	if single {
		ec.InitialCluster = ec.InitialClusterFromName(ec.Name)
	} else {
		ec.InitialCluster = cfg.InitialCluster
	}
	return ec, tmpDir, nil
}

// urlPair parses listen and advertise URLs. Advertise defaults to listen,
// unless listen holds a wildcard address, which nobody can dial.
func urlPair(what string, listen, advertise []string) ([]url.URL, []url.URL, error) {
	lu, err := parseURLs(listen)
	if err != nil {
		return nil, nil, fmt.Errorf("etcdmember: embedded etcd: listen %s URLs: %w", what, err)
	}
	if len(advertise) == 0 {
		for _, u := range lu {
			if isWildcard(u) {
				return nil, nil, fmt.Errorf("etcdmember: embedded etcd: listen %s URL %s is a wildcard: set the advertised %s URLs", what, u.String(), what)
			}
		}
		advertise = listen
	}
	au, err := parseURLs(advertise)
	if err != nil {
		return nil, nil, fmt.Errorf("etcdmember: embedded etcd: advertised %s URLs: %w", what, err)
	}
	for i, u := range lu {
		if u.Scheme == "unix" || u.Scheme == "unixs" {
			// etcd's peer listener takes the socket path from the URL's
			// host (its own tests use relative "unix://name:port" sockets);
			// an absolute path parses as the URL's path. Put it where both
			// listeners look.
			lu[i].Host, lu[i].Path = u.Host+u.Path, ""
		}
	}
	return lu, au, nil
}

func parseURLs(ss []string) ([]url.URL, error) {
	us := make([]url.URL, 0, len(ss))
	for _, s := range ss {
		u, err := url.Parse(strings.TrimSpace(s))
		if err != nil {
			return nil, err
		}
		switch u.Scheme {
		case "http", "https", "unix", "unixs":
		default:
			return nil, fmt.Errorf("%s: scheme must be http, https, unix or unixs", s)
		}
		us = append(us, *u)
	}
	return us, nil
}

func isWildcard(u url.URL) bool {
	if u.Scheme == "unix" || u.Scheme == "unixs" {
		return false
	}
	host := u.Hostname()
	ip := net.ParseIP(host)
	return host == "" || ip != nil && ip.IsUnspecified()
}

// socketDir returns the directory for the member's unix sockets: Dir if the
// socket paths fit, else a private directory named after Dir under the
// temporary directory (see Config.ListenClientURLs). temp reports
// the latter.
func socketDir(dir string) (sockDir string, temp bool, err error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", false, fmt.Errorf("etcdmember: embedded etcd: %w", err)
	}
	if len(filepath.Join(abs, peerSocket)) <= maxSocketPath && len(filepath.Join(abs, clientSocket)) <= maxSocketPath {
		return abs, false, nil
	}
	sum := sha256.Sum256([]byte(abs))
	name := "spotstream-" + hex.EncodeToString(sum[:8])
	base := os.TempDir()
	if len(filepath.Join(base, name, clientSocket)) > maxSocketPath {
		base = "/tmp"
	}
	sockDir = filepath.Join(base, name)
	if err := os.Mkdir(sockDir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return "", false, fmt.Errorf("etcdmember: embedded etcd: socket directory: %w", err)
	}
	if err := checkPrivateDir(sockDir); err != nil {
		return "", false, err
	}
	return sockDir, true, nil
}

// Endpoints returns the client URLs of the member, for cluster.Connect.
func (e *Member) Endpoints() []string { return append([]string(nil), e.endpoints...) }

// Err returns a channel that receives the member's fatal errors: the broker
// must stop when one arrives, because its coordination is gone.
func (e *Member) Err() <-chan error { return e.etcd.Err() }

// Close stops the member and releases the data directory. Closing twice is
// harmless.
//
// etcd stops its gRPC server gracefully: it waits for open client streams
// (watches, lease keepalives) to end, for up to its request timeout (5s
// plus two election timeouts) before cutting them. Close the Stores that
// use this member first; streams of other processes' clients can still
// hold Close for those seconds. A leader in a multi-member cluster hands
// leadership to another member before stopping.
func (e *Member) Close() {
	e.closeOnce.Do(func() {
		e.etcd.Close()
		e.release()
	})
}

func (e *Member) release() {
	if e.tmpDir != "" {
		_ = os.Remove(e.tmpDir) // only if empty: the listeners removed their sockets
	}
	_ = e.lock.Close()
}

// Stopped is closed when the member's server stops: by Close, or on its
// own (it was removed from the cluster, or failed).
func (e *Member) Stopped() <-chan struct{} { return e.etcd.Server.StopNotify() }

// MemberID returns the member's id in its cluster.
func (e *Member) MemberID() uint64 { return uint64(e.etcd.Server.MemberID()) }

// HasData reports whether dir holds an etcd member's data: a member
// started there before, and starts from it again.
func HasData(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "member"))
	return err == nil
}

// ClearData deletes an etcd member's data from dir: what a member that
// was removed from its cluster must do before it may join again, as a new
// member. The directory itself (and its lock file) stays.
func ClearData(dir string) error {
	if err := os.RemoveAll(filepath.Join(dir, "member")); err != nil {
		return fmt.Errorf("etcdmember: clearing etcd data in %s: %w", dir, err)
	}
	return nil
}

// RemoteMember is a member of a running etcd cluster, as its peers
// describe it.
type RemoteMember struct {
	ID         uint64
	Name       string
	PeerURLs   []string
	ClientURLs []string
}

// RemoteMembers asks the members at peerURLs (the first that answers)
// for their cluster's members, through etcd's peer API, as a member
// about to start does. It needs no client URL, so a broker that knows
// only its peers' addresses (coordinator.initial.cluster) can find the
// cluster's clients.
func RemoteMembers(peerURLs []string, log *slog.Logger) ([]RemoteMember, error) {
	if len(peerURLs) == 0 {
		return nil, errors.New("etcdmember: no peer to ask for the etcd members")
	}
	rc, err := etcdserver.GetClusterFromRemotePeers(etcdlog.New(log.With("component", "etcd")), peerURLs, http.DefaultTransport)
	if err != nil {
		return nil, fmt.Errorf("etcdmember: asking etcd peers %v for their members: %w", peerURLs, err)
	}
	var out []RemoteMember
	for _, m := range rc.Members() {
		out = append(out, RemoteMember{ID: uint64(m.ID), Name: m.Name, PeerURLs: m.PeerURLs, ClientURLs: m.ClientURLs})
	}
	return out, nil
}
