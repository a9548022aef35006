package config

import (
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
)

func TestListeners(t *testing.T) {
	tests := []struct {
		name        string
		props       map[string]string
		listeners   []string // Listener.String()
		advertised  []string
		interBroker string
	}{
		{
			name:      "all interfaces",
			props:     map[string]string{"listeners": "PLAINTEXT://:9092"},
			listeners: []string{"PLAINTEXT://:9092"}, advertised: []string{"PLAINTEXT://:9092"}, interBroker: "PLAINTEXT",
		},
		{
			name:      "ipv6 and ephemeral port",
			props:     map[string]string{"listeners": "plaintext://[::1]:0"},
			listeners: []string{"PLAINTEXT://[::1]:0"}, advertised: []string{"PLAINTEXT://[::1]:0"}, interBroker: "PLAINTEXT",
		},
		{
			name: "internal and external",
			props: map[string]string{
				"listeners":                      "INTERNAL://0.0.0.0:9092,EXTERNAL://0.0.0.0:9094",
				"advertised.listeners":           "INTERNAL://10.0.0.5:9092,EXTERNAL://broker1.example.com:19094",
				"listener.security.protocol.map": "INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT",
				"inter.broker.listener.name":     "internal",
			},
			listeners:   []string{"INTERNAL://0.0.0.0:9092", "EXTERNAL://0.0.0.0:9094"},
			advertised:  []string{"INTERNAL://10.0.0.5:9092", "EXTERNAL://broker1.example.com:19094"},
			interBroker: "INTERNAL",
		},
		{
			name: "advertise a subset",
			props: map[string]string{
				"listeners":                      "A://127.0.0.1:9092,B://127.0.0.1:9093",
				"advertised.listeners":           "B://localhost:9093",
				"listener.security.protocol.map": "A:PLAINTEXT,B:PLAINTEXT",
			},
			listeners: []string{"A://127.0.0.1:9092", "B://127.0.0.1:9093"}, advertised: []string{"B://localhost:9093"}, interBroker: "B",
		},
		{
			name:      "single custom listener is the inter-broker listener",
			props:     map[string]string{"listeners": "CLIENT://127.0.0.1:9092", "listener.security.protocol.map": "CLIENT:PLAINTEXT"},
			listeners: []string{"CLIENT://127.0.0.1:9092"}, advertised: []string{"CLIENT://127.0.0.1:9092"}, interBroker: "CLIENT",
		},
		{
			name: "same port on different addresses, and several ephemeral ports",
			props: map[string]string{
				"listeners":                      "A://127.0.0.1:9092,B://127.0.0.2:9092,C://127.0.0.1:0,D://127.0.0.1:0",
				"listener.security.protocol.map": "A:PLAINTEXT,B:PLAINTEXT,C:PLAINTEXT,D:PLAINTEXT",
				"inter.broker.listener.name":     "A",
			},
			listeners:   []string{"A://127.0.0.1:9092", "B://127.0.0.2:9092", "C://127.0.0.1:0", "D://127.0.0.1:0"},
			advertised:  []string{"A://127.0.0.1:9092", "B://127.0.0.2:9092", "C://127.0.0.1:0", "D://127.0.0.1:0"},
			interBroker: "A",
		},
	}
	str := func(ls []Listener) []string {
		var out []string
		for _, l := range ls {
			if l.SecurityProtocol != "PLAINTEXT" {
				t.Errorf("%v: protocol %q", l, l.SecurityProtocol)
			}
			out = append(out, l.String())
		}
		return out
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := mustBroker(t, tt.props)
			if got := str(b.Listeners); !slices.Equal(got, tt.listeners) {
				t.Errorf("listeners %q, want %q", got, tt.listeners)
			}
			if got := str(b.AdvertisedListeners); !slices.Equal(got, tt.advertised) {
				t.Errorf("advertised %q, want %q", got, tt.advertised)
			}
			if b.InterBrokerListener != tt.interBroker {
				t.Errorf("inter-broker %q, want %q", b.InterBrokerListener, tt.interBroker)
			}
		})
	}
}

func TestAdvertisedAddress(t *testing.T) {
	old := hostname
	defer func() { hostname = old }()
	hostname = func() (string, error) { return "broker-7", nil }

	b := mustBroker(t, map[string]string{
		"listeners":                      "A://:0,B://127.0.0.1:9093,C://[::1]:9094",
		"listener.security.protocol.map": "A:PLAINTEXT,B:PLAINTEXT,C:PLAINTEXT",
		"inter.broker.listener.name":     "B",
	})
	tcp := &net.TCPAddr{IP: net.IPv4zero, Port: 40001}
	other := fakeAddr("[::]:40002")
	tests := []struct {
		name      string
		bound     net.Addr
		host      string
		port      int32
		errSubstr string
	}{
		{name: "", bound: tcp, host: "broker-7", port: 40001},
		{name: "a", bound: other, host: "broker-7", port: 40002},
		{name: "A", bound: nil, errSubstr: "port 0"},
		{name: "A", bound: fakeAddr("garbage"), errSubstr: "port 0"},
		{name: "B", bound: tcp, host: "127.0.0.1", port: 9093},
		{name: "C", host: "::1", port: 9094},
		{name: "D", errSubstr: `no advertised listener named "D"`},
	}
	for _, tt := range tests {
		host, port, err := b.AdvertisedAddressOf(tt.name, tt.bound)
		if tt.errSubstr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errSubstr) || !strings.HasPrefix(err.Error(), "config: ") {
				t.Errorf("AdvertisedAddressOf(%q, %v) err = %v, want %q", tt.name, tt.bound, err, tt.errSubstr)
			}
			continue
		}
		if err != nil || host != tt.host || port != tt.port {
			t.Errorf("AdvertisedAddressOf(%q, %v) = %q %d %v, want %q %d", tt.name, tt.bound, host, port, err, tt.host, tt.port)
		}
	}
	if host, port, err := b.AdvertisedAddress(tcp); host != "broker-7" || port != 40001 || err != nil {
		t.Errorf("AdvertisedAddress = %q %d %v", host, port, err)
	}

	hostname = func() (string, error) { return "", errors.New("uname failed") }
	if _, _, err := b.AdvertisedAddressOf("A", tcp); err == nil || !strings.Contains(err.Error(), "set advertised.listeners") {
		t.Errorf("unknown host name: err = %v", err)
	}
	if _, _, err := (&Broker{}).AdvertisedAddress(tcp); err == nil {
		t.Error("no listeners: no error")
	}

	// Listeners[0] not advertised: the first advertised listener is used.
	b = mustBroker(t, map[string]string{
		"listeners":                      "A://127.0.0.1:0,B://127.0.0.1:9093",
		"advertised.listeners":           "B://b.example:19093",
		"listener.security.protocol.map": "A:PLAINTEXT,B:PLAINTEXT",
	})
	if host, port, err := b.AdvertisedAddress(tcp); host != "b.example" || port != 19093 || err != nil {
		t.Errorf("AdvertisedAddress = %q %d %v", host, port, err)
	}
}

type fakeAddr string

func (a fakeAddr) Network() string { return "fake" }
func (a fakeAddr) String() string  { return string(a) }
