package config

import (
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Listener is one entry of listeners or advertised.listeners.
type Listener struct {
	// Name is the listener name, upper-cased as Kafka does ("PLAINTEXT").
	Name string
	// Host is the host or IP address. In listeners, "" means all
	// interfaces.
	Host string
	// Port is the TCP port. In listeners, 0 means an ephemeral port.
	Port int
	// SecurityProtocol comes from listener.security.protocol.map. It is
	// always "PLAINTEXT" for now.
	SecurityProtocol string
}

// Address returns host:port, ready for net.Listen ("[::1]:9092" for IPv6).
func (l Listener) Address() string { return net.JoinHostPort(l.Host, strconv.Itoa(l.Port)) }

// String returns the listener in configuration form, NAME://host:port.
func (l Listener) String() string { return l.Name + "://" + l.Address() }

var securityProtocols = []string{"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}

// parseListener parses NAME://host:port.
func parseListener(key, raw string) (Listener, error) {
	name, hostPort, ok := strings.Cut(raw, "://")
	if !ok {
		return Listener{}, invalid(key, raw, "expected NAME://host:port, such as PLAINTEXT://127.0.0.1:9092")
	}
	if !validName(name) {
		return Listener{}, invalid(key, raw, "listener name %q must be letters, digits, '_' or '-'", name)
	}
	host, portText, err := net.SplitHostPort(hostPort)
	if err != nil {
		return Listener{}, invalid(key, raw, "expected host:port after %s:// (write IPv6 addresses in brackets, [::1]:9092)", name)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 {
		return Listener{}, invalid(key, raw, "port %q must be a number from 0 to 65535", portText)
	}
	for _, c := range host {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.ContainsRune("-%._:", c)) {
			return Listener{}, invalid(key, raw, "host %q is not a valid host name or IP address", host)
		}
	}
	return Listener{Name: strings.ToUpper(name), Host: host, Port: port}, nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// wildcard reports whether host means "every interface".
func wildcard(host string) bool {
	if host == "" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

// parseProtocolMap parses listener.security.protocol.map.
func parseProtocolMap(raw string) (map[string]string, error) {
	const key = "listener.security.protocol.map"
	m := make(map[string]string)
	for item := range strings.SplitSeq(raw, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, proto, ok := strings.Cut(item, ":")
		name, proto = strings.ToUpper(strings.TrimSpace(name)), strings.ToUpper(strings.TrimSpace(proto))
		if !ok || !validName(name) {
			return nil, invalid(key, raw, "entry %q: expected NAME:PROTOCOL", item)
		}
		if !slices.Contains(securityProtocols, proto) {
			return nil, invalid(key, raw, "entry %q: unknown security protocol %q (Kafka's are %s)", item, proto, strings.Join(securityProtocols, ", "))
		}
		if _, dup := m[name]; dup {
			return nil, invalid(key, raw, "listener name %s is mapped twice", name)
		}
		m[name] = proto
	}
	return m, nil
}

// resolveListeners fills Listeners, AdvertisedListeners and
// InterBrokerListener from the listener keys.
func (r *resolver) resolveListeners(b *Broker) {
	errsBefore := len(r.errs)
	clean := func() bool { return len(r.errs) == errsBefore }
	protocols, err := parseProtocolMap(r.str("listener.security.protocol.map"))
	if err != nil {
		r.fail(err)
		return
	}
	controllers := map[string]bool{}
	for _, n := range r.list("controller.listener.names") {
		controllers[strings.ToUpper(n)] = true
	}

	// listeners: what we bind.
	listenersRaw := r.format("listeners")
	for _, item := range r.list("listeners") {
		l, err := parseListener("listeners", item)
		if err != nil {
			r.fail(err)
			continue
		}
		if controllers[l.Name] {
			r.warn("listener %s is named in controller.listener.names: spotstream has no KRaft controller and does not open it", l)
			continue
		}
		proto, ok := protocols[l.Name]
		if !ok {
			r.fail(invalid("listeners", listenersRaw, "listener %s has no security protocol in listener.security.protocol.map", l.Name))
			continue
		}
		if proto != "PLAINTEXT" {
			r.fail(invalid("listeners", listenersRaw, "listener %s uses %s; only PLAINTEXT is supported for now", l.Name, proto))
			continue
		}
		l.SecurityProtocol = proto
		for _, o := range b.Listeners {
			if o.Name == l.Name {
				r.fail(invalid("listeners", listenersRaw, "listener name %s is used twice", l.Name))
			} else if l.Port != 0 && o.Port == l.Port && (o.Host == l.Host || wildcard(o.Host) || wildcard(l.Host)) {
				r.fail(invalid("listeners", listenersRaw, "listeners %s and %s bind the same port", o.Name, l.Name))
			}
		}
		b.Listeners = append(b.Listeners, l)
	}
	if len(b.Listeners) == 0 && clean() {
		r.fail(invalid("listeners", listenersRaw, "at least one listener is required"))
	}
	if !clean() {
		return
	}

	// advertised.listeners: what we publish.
	if !r.isSet("advertised.listeners") {
		for _, l := range b.Listeners {
			if l.Host != "" && wildcard(l.Host) {
				r.fail(invalid("advertised.listeners", "", "not set, so listeners are advertised, but %s uses the non-routable address %s: set advertised.listeners to an address clients can reach", l, l.Host))
			}
		}
		b.AdvertisedListeners = slices.Clone(b.Listeners)
	}
	advRaw := r.format("advertised.listeners")
	for _, item := range r.list("advertised.listeners") {
		l, err := parseListener("advertised.listeners", item)
		if err != nil {
			r.fail(err)
			continue
		}
		if controllers[l.Name] {
			continue
		}
		i := slices.IndexFunc(b.Listeners, func(o Listener) bool { return o.Name == l.Name })
		switch {
		case i < 0:
			r.fail(invalid("advertised.listeners", advRaw, "listener name %s is not in listeners", l.Name))
			continue
		case slices.ContainsFunc(b.AdvertisedListeners, func(o Listener) bool { return o.Name == l.Name }):
			r.fail(invalid("advertised.listeners", advRaw, "listener name %s is used twice", l.Name))
			continue
		case wildcard(l.Host):
			r.fail(invalid("advertised.listeners", advRaw, "%s: an advertised listener needs a host clients can reach, not %q", l, l.Host))
			continue
		case l.Port == 0:
			r.fail(invalid("advertised.listeners", advRaw, "%s: port 0 cannot be advertised", l))
			continue
		}
		l.SecurityProtocol = b.Listeners[i].SecurityProtocol
		b.AdvertisedListeners = append(b.AdvertisedListeners, l)
	}
	if len(b.AdvertisedListeners) == 0 && clean() {
		r.fail(invalid("advertised.listeners", advRaw, "at least one listener must be advertised"))
	}
	if !clean() {
		return
	}

	// The inter-broker listener.
	advertised := func(name string) bool {
		return slices.ContainsFunc(b.AdvertisedListeners, func(l Listener) bool { return l.Name == name })
	}
	switch {
	case r.isSet("inter.broker.listener.name") && r.isSet("security.inter.broker.protocol"):
		r.fail(invalid("security.inter.broker.protocol", r.str("security.inter.broker.protocol"),
			"set inter.broker.listener.name or security.inter.broker.protocol, not both"))
	case r.isSet("inter.broker.listener.name"):
		name := strings.ToUpper(r.str("inter.broker.listener.name"))
		if !advertised(name) {
			r.fail(invalid("inter.broker.listener.name", r.str("inter.broker.listener.name"), "not the name of an advertised listener"))
		}
		b.InterBrokerListener = name
	default:
		proto := r.str("security.inter.broker.protocol")
		switch {
		case proto != "PLAINTEXT":
			r.fail(invalid("security.inter.broker.protocol", proto, "only PLAINTEXT is supported for now"))
		case advertised(proto):
			b.InterBrokerListener = proto
		case len(b.AdvertisedListeners) == 1:
			b.InterBrokerListener = b.AdvertisedListeners[0].Name
		default:
			r.fail(invalid("inter.broker.listener.name", "", "not set, and no listener is named %s: name the listener other brokers should use", proto))
		}
	}
}

// hostname is os.Hostname; tests replace it.
var hostname = os.Hostname

// AdvertisedAddress returns the host and port to publish for the listener
// the broker bound as Listeners[0]; bound is the address it got, whose port
// replaces port 0 (nil is fine when the port is not 0). When that listener
// is not advertised, the first advertised listener is used.
func (b *Broker) AdvertisedAddress(bound net.Addr) (host string, port int32, err error) {
	name := ""
	if len(b.Listeners) > 0 {
		name = b.Listeners[0].Name
	}
	if !slices.ContainsFunc(b.AdvertisedListeners, func(l Listener) bool { return l.Name == name }) {
		name = ""
	}
	return b.AdvertisedAddressOf(name, bound)
}

// AdvertisedAddressOf returns the host and port that clients and other
// brokers should use to reach the advertised listener called name ("" means
// the first advertised listener). bound is the address that listener bound,
// whose port replaces port 0. Following Kafka, a listener with an empty host
// (all interfaces) is advertised under the machine's host name. NewBroker
// has already rejected 0.0.0.0 and ::, which cannot be advertised.
func (b *Broker) AdvertisedAddressOf(name string, bound net.Addr) (host string, port int32, err error) {
	if len(b.AdvertisedListeners) == 0 {
		return "", 0, fmt.Errorf("config: no advertised listener")
	}
	l := b.AdvertisedListeners[0]
	if name != "" {
		i := slices.IndexFunc(b.AdvertisedListeners, func(l Listener) bool { return l.Name == strings.ToUpper(name) })
		if i < 0 {
			return "", 0, fmt.Errorf("config: no advertised listener named %q", name)
		}
		l = b.AdvertisedListeners[i]
	}
	host, port = l.Host, int32(l.Port)
	if port == 0 {
		if port = boundPort(bound); port <= 0 {
			return "", 0, fmt.Errorf("config: listener %s has port 0; pass the address it bound", l.Name)
		}
	}
	if wildcard(host) {
		if host != "" {
			return "", 0, fmt.Errorf("config: listener %s cannot be advertised with the non-routable address %s; set advertised.listeners", l.Name, host)
		}
		host, err = hostname()
		if err != nil || host == "" {
			return "", 0, fmt.Errorf("config: listener %s has no host and the host name is unknown (%v); set advertised.listeners", l.Name, err)
		}
	}
	return host, port, nil
}

// boundPort returns the port of a bound address, or 0.
func boundPort(a net.Addr) int32 {
	switch a := a.(type) {
	case nil:
		return 0
	case *net.TCPAddr:
		return int32(a.Port)
	}
	_, p, err := net.SplitHostPort(a.String())
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseUint(p, 10, 16)
	return int32(n)
}
