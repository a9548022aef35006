// Package cloudtest serves a fake EC2 instance metadata service on
// loopback, for the tests of brokers that read their zone, capacity and
// spot notices from it (cloud.provider=aws, cloud.metadata.endpoint set to
// the fake's URL). It follows IMDSv2: every GET needs a token from PUT
// /latest/api/token.
package cloudtest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// Server is a fake instance metadata service. Its setters are safe for
// concurrent use with the requests it serves.
type Server struct {
	srv *httptest.Server

	mu           sync.Mutex
	zone         string
	lifeCycle    string
	action       string // an instance-action document, "" for none (404)
	rebalance    string // a rebalance document, "" for none (404)
	failing      bool   // answer 503 to everything
	tokens       map[string]bool
	nextToken    int
	tokenlessGet int // GETs refused for want of a valid token
	requests     int // every request served
}

// NewServer starts a fake for an instance in zone with the given life
// cycle ("spot" or "on-demand"). Close stops it.
func NewServer(zone, lifeCycle string) *Server {
	s := &Server{zone: zone, lifeCycle: lifeCycle, tokens: map[string]bool{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the fake's address, for cloud.metadata.endpoint.
func (s *Server) URL() string { return s.srv.URL }

// Close stops the fake.
func (s *Server) Close() { s.srv.Close() }

// Interrupt makes the fake announce a spot interruption (action terminate,
// stop or hibernate) at t.
func (s *Server) Interrupt(action string, t time.Time) {
	s.set(func() { s.action = fmt.Sprintf(`{"action":%q,"time":%q}`, action, t.UTC().Format(time.RFC3339)) })
}

// Recommend makes the fake announce a rebalance recommendation made at t.
func (s *Server) Recommend(t time.Time) {
	s.set(func() { s.rebalance = fmt.Sprintf(`{"noticeTime":%q}`, t.UTC().Format(time.RFC3339)) })
}

// SetInstanceAction makes the fake answer raw as the instance-action
// document (garbage, for tests of bad answers).
func (s *Server) SetInstanceAction(raw string) { s.set(func() { s.action = raw }) }

// SetFailing makes the fake answer 503 to every request, or stop doing so.
func (s *Server) SetFailing(failing bool) { s.set(func() { s.failing = failing }) }

// TokenlessGets returns how many GETs came without a valid token.
func (s *Server) TokenlessGets() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenlessGet
}

func (s *Server) set(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn()
}

// Requests returns how many requests the fake has answered, so that a
// test can wait for a client to have asked again.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if s.failing {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	if r.URL.Path == "/latest/api/token" {
		if r.Method != http.MethodPut || r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds") == "" {
			http.Error(w, "token requests are PUTs with a TTL", http.StatusBadRequest)
			return
		}
		s.nextToken++
		token := fmt.Sprintf("token-%d", s.nextToken)
		s.tokens[token] = true
		fmt.Fprint(w, token)
		return
	}
	if r.Method != http.MethodGet {
		http.Error(w, "GET only", http.StatusMethodNotAllowed)
		return
	}
	if !s.tokens[r.Header.Get("X-aws-ec2-metadata-token")] {
		s.tokenlessGet++
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	var doc string
	switch r.URL.Path {
	case "/latest/meta-data/placement/availability-zone":
		doc = s.zone
	case "/latest/meta-data/instance-life-cycle":
		doc = s.lifeCycle
	case "/latest/meta-data/spot/instance-action":
		doc = s.action
	case "/latest/meta-data/events/recommendations/rebalance":
		doc = s.rebalance
	}
	if doc == "" {
		http.NotFound(w, r)
		return
	}
	fmt.Fprint(w, doc)
}
