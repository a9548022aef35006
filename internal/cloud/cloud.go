// Package cloud reads what the cloud says about the machine a broker runs
// on: its zone, whether it is spot or on-demand capacity, and the notices
// that it is about to be taken away. Only AWS's EC2 instance metadata
// service is supported, through its IMDSv2 token flow, and only when the
// operator configures it (cloud.provider=aws): nothing is contacted
// otherwise. Package cloudtest serves a fake of it on loopback for tests.
//
// A metadata service that is slow, down or answers garbage is logged and
// asked again later; it never fails the broker, and garbage is never taken
// for a notice.
package cloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Paths of the EC2 instance metadata service.
const (
	tokenPath       = "/latest/api/token"
	zonePath        = "/latest/meta-data/placement/availability-zone"
	lifeCyclePath   = "/latest/meta-data/instance-life-cycle"
	instanceAction  = "/latest/meta-data/spot/instance-action"
	rebalancePath   = "/latest/meta-data/events/recommendations/rebalance"
	tokenTTLHeader  = "X-aws-ec2-metadata-token-ttl-seconds"
	tokenHeader     = "X-aws-ec2-metadata-token"
	tokenTTLSeconds = 21600
)

// DefaultEndpoint is the address of the EC2 instance metadata service.
const DefaultEndpoint = "http://169.254.169.254"

// maxBody bounds what is read of one answer: the documents are tiny, and a
// broken service must not make the broker read without end.
const maxBody = 64 << 10

// Capacity kinds, as broker.capacity names them.
const (
	OnDemand = "on-demand"
	Spot     = "spot"
)

// ErrNotFound: the service has no such document (404), which for the
// notice paths means no notice.
var ErrNotFound = errors.New("cloud: not found")

// Client asks the EC2 instance metadata service. It is safe for concurrent
// use.
type Client struct {
	endpoint string
	http     *http.Client
	log      *slog.Logger

	mu      sync.Mutex // guards token and expires
	token   string
	expires time.Time
}

// NewClient returns a client of the metadata service at endpoint
// (DefaultEndpoint on EC2; a fake on loopback in tests). Each request is
// bounded by timeout.
func NewClient(endpoint string, timeout time.Duration, log *slog.Logger) *Client {
	if log == nil {
		log = slog.Default()
	}
	return &Client{
		endpoint: strings.TrimSuffix(endpoint, "/"),
		// The service is link-local: never through a proxy.
		http: &http.Client{Timeout: timeout, Transport: &http.Transport{Proxy: nil}},
		log:  log.With("component", "cloud"),
	}
}

// Identity is what the service says about the instance.
type Identity struct {
	// Zone is the availability zone, e.g. us-east-1a.
	Zone string
	// Capacity is OnDemand or Spot, or "" when the service names another
	// life cycle.
	Capacity string
}

// Identity reads the instance's zone and life cycle.
func (c *Client) Identity(ctx context.Context) (Identity, error) {
	zone, err := c.get(ctx, zonePath)
	if err != nil {
		return Identity{}, err
	}
	zone = strings.TrimSpace(zone)
	if !validZone(zone) {
		return Identity{}, fmt.Errorf("cloud: availability zone %q is not a zone name", zone)
	}
	life, err := c.get(ctx, lifeCyclePath)
	if err != nil {
		return Identity{}, err
	}
	id := Identity{Zone: zone}
	switch strings.TrimSpace(life) {
	case "spot":
		id.Capacity = Spot
	case "on-demand", "normal":
		id.Capacity = OnDemand
	}
	return id, nil
}

// validZone accepts zone names as EC2 writes them: letters, digits and '-'.
func validZone(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// get returns the document at path, with a session token, taking a new
// token when the service refuses the one it has.
func (c *Client) get(ctx context.Context, path string) (string, error) {
	for attempt := 0; ; attempt++ {
		token, err := c.sessionToken(ctx)
		if err != nil {
			return "", err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.endpoint+path, nil)
		if err != nil {
			return "", fmt.Errorf("cloud: %w", err)
		}
		req.Header.Set(tokenHeader, token)
		body, status, err := c.do(req)
		if err != nil {
			return "", err
		}
		switch {
		case status == http.StatusOK:
			return body, nil
		case status == http.StatusNotFound:
			return "", ErrNotFound
		case status == http.StatusUnauthorized && attempt == 0:
			c.dropToken()
			continue
		}
		return "", fmt.Errorf("cloud: GET %s: status %d", path, status)
	}
}

// sessionToken returns the IMDSv2 session token, taking a new one when
// there is none or it is about to expire.
func (c *Client) sessionToken(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" && time.Now().Before(c.expires) {
		return c.token, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.endpoint+tokenPath, nil)
	if err != nil {
		return "", fmt.Errorf("cloud: %w", err)
	}
	req.Header.Set(tokenTTLHeader, fmt.Sprint(tokenTTLSeconds))
	body, status, err := c.do(req)
	if err != nil {
		return "", err
	}
	if status != http.StatusOK || strings.TrimSpace(body) == "" {
		return "", fmt.Errorf("cloud: PUT %s: status %d", tokenPath, status)
	}
	c.token = strings.TrimSpace(body)
	// Renew well before the service expires it.
	c.expires = time.Now().Add(tokenTTLSeconds * time.Second / 2)
	return c.token, nil
}

func (c *Client) dropToken() {
	c.mu.Lock()
	c.token = ""
	c.mu.Unlock()
}

// do sends req and returns the body (at most maxBody bytes) and status.
func (c *Client) do(req *http.Request) (string, int, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return "", 0, fmt.Errorf("cloud: %s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return "", 0, fmt.Errorf("cloud: reading %s: %w", req.URL.Path, err)
	}
	return string(b), resp.StatusCode, nil
}

// NoticeKind is what a notice announces.
type NoticeKind string

// Kinds of notices.
const (
	// Interruption: the instance will be stopped, hibernated or terminated
	// (EC2's spot instance-action, about two minutes ahead).
	Interruption NoticeKind = "interruption"
	// Rebalance: the instance is at elevated risk of interruption (EC2's
	// rebalance recommendation), often well ahead of one.
	Rebalance NoticeKind = "rebalance"
)

// Notice is one notice from the service.
type Notice struct {
	Kind NoticeKind
	// Action is the interruption's action: terminate, stop or hibernate.
	Action string
	// Time is when the action happens (interruption) or when the
	// recommendation was made (rebalance).
	Time time.Time
}

// Notices returns the notices the service shows now: an interruption, a
// rebalance recommendation, both or none. A document that does not parse
// is an error, never a notice.
func (c *Client) Notices(ctx context.Context) ([]Notice, error) {
	var out []Notice
	body, ok, err := c.optional(ctx, instanceAction)
	if err != nil {
		return nil, err
	}
	if ok {
		var v struct {
			Action string    `json:"action"`
			Time   time.Time `json:"time"`
		}
		if err := json.Unmarshal([]byte(body), &v); err != nil || v.Time.IsZero() ||
			(v.Action != "terminate" && v.Action != "stop" && v.Action != "hibernate") {
			return nil, fmt.Errorf("cloud: instance-action %q is not a notice", body)
		}
		out = append(out, Notice{Kind: Interruption, Action: v.Action, Time: v.Time})
	}
	body, ok, err = c.optional(ctx, rebalancePath)
	if err != nil {
		return nil, err
	}
	if ok {
		var v struct {
			NoticeTime time.Time `json:"noticeTime"`
		}
		if err := json.Unmarshal([]byte(body), &v); err != nil || v.NoticeTime.IsZero() {
			return nil, fmt.Errorf("cloud: rebalance recommendation %q is not a notice", body)
		}
		out = append(out, Notice{Kind: Rebalance, Time: v.NoticeTime})
	}
	return out, nil
}

// optional returns the document at path, and false when the service has
// none (404: for the notice paths, no notice).
func (c *Client) optional(ctx context.Context, path string) (string, bool, error) {
	body, err := c.get(ctx, path)
	switch {
	case errors.Is(err, ErrNotFound):
		return "", false, nil
	case err != nil:
		return "", false, err
	}
	return body, true, nil
}

// Watch polls the notices every interval until ctx ends, and calls fn
// once for each new one (a notice the service keeps showing is delivered
// once). Failures are logged, and polling goes on with backoff up to a
// minute. It runs on the caller's goroutine.
func (c *Client) Watch(ctx context.Context, interval time.Duration, fn func(Notice)) {
	seen := map[Notice]bool{}
	delay := interval
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		notices, err := c.Notices(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			delay = min(2*delay, time.Minute)
			c.log.Warn("reading spot notices from the instance metadata service", "err", err, "retry.in", delay)
		} else {
			delay = interval
			for _, n := range notices {
				if !seen[n] {
					seen[n] = true
					fn(n)
				}
			}
		}
		t.Reset(delay)
	}
}
