package config

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"time"
)

// CoordinatorConfig says how the broker reaches etcd: an external cluster
// (Endpoints) or an etcd member embedded in the broker (the other fields but
// Namespace and the timeouts). Empty embedded fields leave the choice to the
// embedding code (internal/cluster): unix sockets inside Dir, and a cluster
// of this member alone.
type CoordinatorConfig struct {
	// Endpoints are the client URLs of an external etcd cluster. Empty means
	// an embedded member.
	Endpoints []string
	// Namespace roots every key of this cluster: see Prefix.
	Namespace string
	// DialTimeout bounds connecting to etcd.
	DialTimeout time.Duration
	// RequestTimeout bounds one etcd request.
	RequestTimeout time.Duration

	// Dir is the embedded member's data directory.
	Dir string
	// Name is the embedded member's name.
	Name string
	// ListenClientURLs are where the member serves clients; empty means a
	// unix socket in Dir.
	ListenClientURLs []string
	// ListenPeerURLs are where the member serves the other members; empty
	// means a unix socket in Dir (single member only).
	ListenPeerURLs []string
	// AdvertisePeerURLs are this member's URLs in InitialCluster; empty for
	// a single member (the listen URLs are advertised).
	AdvertisePeerURLs []string
	// InitialCluster is etcd's name=peerURL,... list of the members of a new
	// cluster; empty means this member alone.
	InitialCluster string
	// InitialClusterState is "new" to bootstrap a cluster or "existing" to
	// join one after `etcdctl member add`.
	InitialClusterState string

	// Standby: Endpoints name the cluster and the broker runs no member at
	// first, but it can host one (ListenPeerURLs and ListenClientURLs are
	// set): the controller adds a member here when the quorum needs one.
	Standby bool
	// ReplaceGrace is coordinator.quorum.replace.grace.ms.
	ReplaceGrace time.Duration
}

// CanHostMember reports whether the broker runs, or may be asked to run,
// an etcd member.
func (c *CoordinatorConfig) CanHostMember() bool { return c.Embedded() || c.Standby }

// Embedded reports whether the broker runs its own etcd member.
func (c *CoordinatorConfig) Embedded() bool { return len(c.Endpoints) == 0 }

// Prefix returns the key prefix of this cluster, "/<namespace>/".
func (c *CoordinatorConfig) Prefix() string { return "/" + c.Namespace + "/" }

// etcdURL says what parseEtcdURL accepts.
type etcdURL struct {
	unix     bool // unix:///absolute/path is allowed
	bind     bool // a listen URL: the host must be an IP or localhost, as etcd demands
	wildcard bool // 0.0.0.0 and :: are allowed (bind URLs whose advertised form comes from elsewhere)
}

// parseEtcdURL checks one URL of an etcd key: http://host:port with no
// path, or, when allowed, unix:///absolute/path.
func parseEtcdURL(key, raw string, want etcdURL) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", invalid(key, raw, "not a URL: %v", err)
	}
	switch u.Scheme {
	case "http":
		host, port, err := net.SplitHostPort(u.Host)
		if err != nil || port == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return "", invalid(key, raw, "expected http://host:port")
		}
		if want.bind && host != "localhost" && net.ParseIP(host) == nil {
			return "", invalid(key, raw, "etcd binds only to IP addresses or localhost, not %q", host)
		}
		if !want.wildcard && wildcard(host) {
			return "", invalid(key, raw, "needs an address others can reach, not %q", host)
		}
		u.Path = ""
	case "unix":
		if !want.unix {
			return "", invalid(key, raw, "expected http://host:port")
		}
		if u.Host != "" || !filepath.IsAbs(u.Path) {
			return "", invalid(key, raw, "expected unix:///absolute/path")
		}
	case "https", "unixs":
		return "", invalid(key, raw, "TLS to etcd is not supported yet; use %s", strings.TrimSuffix(u.Scheme, "s"))
	default:
		return "", invalid(key, raw, "expected an http:// URL")
	}
	return u.String(), nil
}

func (r *resolver) etcdURLs(key string, want etcdURL) []string {
	var out []string
	for _, raw := range r.list(key) {
		u, err := parseEtcdURL(key, raw, want)
		if err != nil {
			r.fail(err)
			continue
		}
		out = append(out, u)
	}
	return out
}

func (r *resolver) resolveCoordinator(b *Broker) {
	c := &b.Coordinator
	c.DialTimeout = r.millis("coordinator.dial.timeout.ms")
	c.RequestTimeout = r.millis("coordinator.request.timeout.ms")
	c.Namespace = r.str("coordinator.namespace")
	if !validMemberName(c.Namespace) || c.Namespace == "." || c.Namespace == ".." {
		r.fail(invalid("coordinator.namespace", c.Namespace, "must be letters, digits, '.', '_' or '-'"))
	}
	c.ReplaceGrace = r.millis("coordinator.quorum.replace.grace.ms")
	c.Endpoints = r.etcdURLs("coordinator.endpoints", etcdURL{unix: true})
	if len(r.list("coordinator.endpoints")) > 0 {
		if r.isSet("coordinator.listen.peer.urls") {
			r.resolveStandby(b)
			return
		}
		for _, k := range []string{"coordinator.dir", "coordinator.name", "coordinator.listen.client.urls",
			"coordinator.initial.cluster", "coordinator.initial.cluster.state"} {
			if r.isSet(k) {
				r.warn("%s is ignored: coordinator.endpoints is set without coordinator.listen.peer.urls, so no etcd member is embedded", k)
			}
		}
		return
	}

	r.resolveMemberIdentity(b)
	c.InitialClusterState = r.str("coordinator.initial.cluster.state")
	c.ListenClientURLs = r.etcdURLs("coordinator.listen.client.urls", etcdURL{unix: true, bind: true})

	// The initial cluster, and this member's place in it.
	var members []string // name=url, canonical
	for _, item := range r.list("coordinator.initial.cluster") {
		name, raw, ok := strings.Cut(item, "=")
		name = strings.TrimSpace(name)
		if !ok || !validMemberName(name) {
			r.fail(invalid("coordinator.initial.cluster", item, "expected name=http://host:port"))
			continue
		}
		u, err := parseEtcdURL("coordinator.initial.cluster", strings.TrimSpace(raw), etcdURL{})
		if err != nil {
			r.fail(err)
			continue
		}
		members = append(members, name+"="+u)
		if name == c.Name {
			c.AdvertisePeerURLs = append(c.AdvertisePeerURLs, u)
		}
	}
	c.InitialCluster = strings.Join(members, ",")
	if len(members) == 0 {
		// A single member: unix peer sockets work, and whatever it listens
		// on is what it advertises.
		c.ListenPeerURLs = r.etcdURLs("coordinator.listen.peer.urls", etcdURL{unix: true, bind: true})
		if c.InitialClusterState == "existing" {
			r.fail(invalid("coordinator.initial.cluster.state", "existing", "joining an existing cluster needs coordinator.initial.cluster"))
		}
		return
	}
	if len(c.AdvertisePeerURLs) == 0 {
		r.fail(invalid("coordinator.initial.cluster", r.format("coordinator.initial.cluster"),
			"has no entry for this member, %s (coordinator.name)", c.Name))
	}
	// Members dial each other by host:port, so peers need TCP. The
	// advertised URLs come from the initial cluster, so the listen URLs may
	// be wildcards.
	c.ListenPeerURLs = r.etcdURLs("coordinator.listen.peer.urls", etcdURL{bind: true, wildcard: true})
	if !r.isSet("coordinator.listen.peer.urls") {
		for _, raw := range c.AdvertisePeerURLs {
			if _, err := parseEtcdURL("coordinator.listen.peer.urls", raw, etcdURL{bind: true}); err != nil {
				r.fail(invalid("coordinator.listen.peer.urls", "", "not set, and this member's URL in coordinator.initial.cluster, %s, cannot be bound (etcd binds only to IP addresses or localhost): set it", raw))
			}
		}
		c.ListenPeerURLs = c.AdvertisePeerURLs
	}
}

// validMemberName accepts names safe in etcd member names, namespaces and
// file names.
func validMemberName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.ContainsRune("._-", c)) {
			return false
		}
	}
	return true
}

// resolveMemberIdentity resolves the embedded member's directory and
// name.
func (r *resolver) resolveMemberIdentity(b *Broker) {
	c := &b.Coordinator
	c.Dir = r.str("coordinator.dir")
	if r.null("coordinator.dir") && len(b.LogDirs) > 0 {
		c.Dir = filepath.Join(b.LogDirs[0], "coordinator")
	}
	r.resolveMemberName(b)
}

// resolveMemberName resolves coordinator.name.
func (r *resolver) resolveMemberName(b *Broker) {
	c := &b.Coordinator
	c.Name = r.str("coordinator.name")
	switch {
	case r.isSet("coordinator.name"):
		if !validMemberName(c.Name) {
			r.fail(invalid("coordinator.name", c.Name, "must be letters, digits, '.', '_' or '-'"))
		}
	case b.BrokerID >= 0:
		c.Name = fmt.Sprintf("spotstream-%d", b.BrokerID)
	default:
		if h, err := hostname(); err == nil && validMemberName(h) {
			c.Name = h
		} else {
			c.Name = "spotstream"
		}
	}
}

// resolveStandby resolves a broker that joins the cluster at Endpoints
// as a client and can host a member: its member listens on TCP URLs that
// the other members and clients can reach.
func (r *resolver) resolveStandby(b *Broker) {
	c := &b.Coordinator
	c.Standby = true
	r.resolveMemberIdentity(b)
	for _, k := range []string{"coordinator.initial.cluster", "coordinator.initial.cluster.state"} {
		if r.isSet(k) {
			r.warn("%s is ignored: with coordinator.endpoints, a member is added here by the controller, not bootstrapped", k)
		}
	}
	c.ListenPeerURLs = r.etcdURLs("coordinator.listen.peer.urls", etcdURL{bind: true})
	c.AdvertisePeerURLs = c.ListenPeerURLs
	if !r.isSet("coordinator.listen.client.urls") {
		r.fail(invalid("coordinator.listen.client.urls", "", "must be set with coordinator.endpoints and coordinator.listen.peer.urls: a member hosted here serves the other brokers there"))
		return
	}
	c.ListenClientURLs = r.etcdURLs("coordinator.listen.client.urls", etcdURL{bind: true})
}
