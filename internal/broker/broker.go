// Package broker is a spotstream broker: it wires the coordination client,
// the metadata cache, the replica manager and the Kafka request handlers
// together, and runs them. The command-line program and the tests start
// brokers through this package the same way.
//
// Handlers live one file per Kafka API, named by API key (00_produce.go,
// 01_fetch.go, ...). Each decodes nothing itself (the wire package did),
// checks the request, calls the package that owns the state, and turns
// errors into Kafka error codes through the table in errors.go, the only
// place where that happens.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/spotstream/spotstream/internal/cloud"
	"github.com/spotstream/spotstream/internal/cluster"
	"github.com/spotstream/spotstream/internal/config"
	"github.com/spotstream/spotstream/internal/controller"
	"github.com/spotstream/spotstream/internal/etcdmember"
	"github.com/spotstream/spotstream/internal/groupcoord"
	"github.com/spotstream/spotstream/internal/quorum"
	"github.com/spotstream/spotstream/internal/replica"
	"github.com/spotstream/spotstream/internal/wire"
)

// ErrSessionLost is returned by Run when the broker lost its membership
// (its etcd lease expired or could not be renewed in time) and stopped, so
// that another broker may take over its partitions. The broker's data is
// intact: running a new Broker on the same configuration rejoins the
// cluster, as Kafka brokers rejoin after being fenced.
var ErrSessionLost = errors.New("broker: lost coordinator session")

// Broker is one spotstream broker.
type Broker struct {
	cfg *config.Broker
	log *slog.Logger

	// Set during startup, before any request is served.
	id          int32
	clusterID   string
	store       *cluster.Store
	meta        *cluster.Cache
	replicas    *replica.Manager
	groups      *groupcoord.Coordinator
	controller  *controller.Controller
	producerIDs *producerIDs
	metrics     *metrics

	ready    chan struct{} // closed once clients are served
	stopping chan struct{} // closed when shutdown starts: long polls return

	mu   sync.Mutex
	addr net.Addr // guarded by mu; the listener's address
}

// New returns a broker for a validated configuration. Run starts it.
func New(cfg *config.Broker, logger *slog.Logger) *Broker {
	if logger == nil {
		logger = slog.Default()
	}
	return &Broker{
		cfg:      cfg,
		log:      logger,
		metrics:  newMetrics(),
		ready:    make(chan struct{}),
		stopping: make(chan struct{}),
	}
}

// Ready is closed once the broker serves clients.
func (b *Broker) Ready() <-chan struct{} { return b.ready }

// Addr returns the address clients connect to; valid once Ready is closed.
func (b *Broker) Addr() net.Addr {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.addr
}

// ID returns the broker id; valid once Ready is closed.
func (b *Broker) ID() int32 { return b.id }

// Run starts the broker and serves until ctx ends, then shuts down in order:
// it stops reading requests, finishes those in flight, flushes and closes
// every log cleanly, and leaves the cluster. It returns nil after a clean
// shutdown.
func (b *Broker) Run(ctx context.Context) (err error) {
	var cleanup []func()
	defer func() {
		for i := len(cleanup) - 1; i >= 0; i-- {
			cleanup[i]()
		}
	}()

	coord := &b.cfg.Coordinator
	endpoints := coord.Endpoints
	var qhost *quorum.Host
	if coord.CanHostMember() {
		qhost = quorum.NewHost(quorum.HostConfig{Member: b.embeddedConfig(), Standby: coord.Standby, Endpoints: coord.Endpoints, Logger: b.log})
		if endpoints, err = qhost.Start(ctx); err != nil {
			return fmt.Errorf("broker: starting embedded coordinator: %w", err)
		}
		cleanup = append(cleanup, qhost.Close)
	}
	// Runs before the cleanup above, which stops the member.
	defer func() {
		if err != nil && qhost.Running() && ctx.Err() == nil && !b.serving() {
			b.logMemberStops(err)
		}
	}()
	store, err := cluster.Connect(ctx, endpoints, coord.Namespace, cluster.WithLogger(b.log),
		cluster.WithMembershipSync(), cluster.WithReservedBrokerMaxID(b.cfg.ReservedBrokerMaxID))
	if err != nil {
		return fmt.Errorf("broker: connecting to coordinator: %w", err)
	}
	cleanup = append(cleanup, func() { store.Close() })
	b.store = store

	if b.clusterID, err = store.ClusterID(ctx); err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	meta, metaFound, err := cluster.CheckMeta(b.cfg.LogDirs, b.clusterID)
	if err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	dirIDs, err := cluster.DirectoryIDs(b.cfg.LogDirs)
	if err != nil {
		return fmt.Errorf("broker: %w", err)
	}

	ln, err := net.Listen("tcp", b.cfg.Listeners[0].Address())
	if err != nil {
		return fmt.Errorf("broker: listen: %w", err)
	}
	cleanup = append(cleanup, func() { ln.Close() })
	b.mu.Lock()
	b.addr = ln.Addr()
	b.mu.Unlock()
	host, port, err := b.cfg.AdvertisedAddress(ln.Addr())
	if err != nil {
		return fmt.Errorf("broker: %w", err)
	}

	id := b.cfg.BrokerID
	if id < 0 && metaFound {
		id = meta.BrokerID
	}
	if metaFound && b.cfg.BrokerID >= 0 && meta.BrokerID != b.cfg.BrokerID {
		return fmt.Errorf("broker: broker.id %d does not match broker.id %d in meta.properties of %v", b.cfg.BrokerID, meta.BrokerID, b.cfg.LogDirs)
	}
	rack, capacity := b.placementIdentity(ctx)
	session, err := b.register(ctx, cluster.Registration{
		ID:          id,
		Host:        host,
		Port:        port,
		Rack:        rack,
		Capacity:    capacity,
		State:       cluster.StateStarting,
		Directories: dirIDs,
		Quorum:      qhost.Peer(),
	}, meta.Lease)
	if err != nil {
		return err
	}
	cleanup = append(cleanup, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		session.Close(ctx)
	})
	b.id = session.ID()
	b.log = b.log.With("broker", b.id)
	for i, dir := range b.cfg.LogDirs {
		m := cluster.Meta{ClusterID: b.clusterID, BrokerID: b.id, Lease: session.Lease(), DirectoryID: dirIDs[i]}
		if err := cluster.WriteMeta(dir, m); err != nil {
			return fmt.Errorf("broker: %w", err)
		}
	}
	b.producerIDs = &producerIDs{store: store}

	// Background parts run until shutdown; each is owned here and
	// stopped, in reverse order of dependency, by cancelling its context.
	var wg sync.WaitGroup
	cacheCtx, stopCache := context.WithCancel(context.Background())
	b.meta = cluster.NewCache(store)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := b.meta.Run(cacheCtx); err != nil && cacheCtx.Err() == nil {
			b.log.Error("metadata cache stopped", "err", err)
		}
	}()
	cleanup = append(cleanup, func() { stopCache(); wg.Wait() })
	if err := b.meta.WaitRevision(ctx, 1); err != nil {
		return fmt.Errorf("broker: loading metadata: %w", err)
	}

	b.groups = b.newGroupCoordinator()
	if b.replicas, err = replica.New(replica.Config{BrokerID: b.id, Broker: b.cfg, DirectoryIDs: dirIDs, Logger: b.log, Leadership: b.groups,
		Store: store, // leaders write ISR changes
	}); err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	replicaCtx, stopReplicas := context.WithCancel(context.Background())
	replicasDone := make(chan struct{})
	go func() {
		defer close(replicasDone)
		b.replicas.Run(replicaCtx, b.meta)
	}()
	cleanup = append(cleanup, func() {
		stopReplicas()
		<-replicasDone
		if err := b.replicas.Close(); err != nil {
			b.log.Error("closing replicas", "err", err)
		}
	})
	if err := b.replicas.WaitApplied(ctx, b.meta.Load().Revision); err != nil {
		return fmt.Errorf("broker: opening replicas: %w", err)
	}
	// The group coordinator stops before the replicas close, so that
	// waiting group requests end with NOT_COORDINATOR rather than with
	// closed partitions under them.
	groupsCtx, stopGroups := context.WithCancel(context.Background())
	groupsDone := make(chan struct{})
	go func() {
		defer close(groupsDone)
		b.groups.Run(groupsCtx)
	}()
	cleanup = append(cleanup, func() {
		stopGroups()
		<-groupsDone
		b.groups.Close()
	})
	// Every broker campaigns to be the controller; the winner elects
	// partition leaders. It keeps running through a controlled shutdown's
	// drain (which it may be carrying out itself), then stops first and
	// resigns, so that another broker takes over at once.
	ctrl, err := controller.New(controller.Config{Store: store, Cache: b.meta, Session: session, Broker: b.cfg, Logger: b.log})
	if err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	b.controller = ctrl
	ctrlCtx, stopCtrl := context.WithCancel(context.Background())
	ctrlDone := make(chan struct{})
	go func() {
		defer close(ctrlDone)
		if err := ctrl.Run(ctrlCtx); err != nil {
			b.log.Error("controller stopped", "err", err)
		}
	}()
	cleanup = append(cleanup, func() { stopCtrl(); <-ctrlDone })

	// The embedded quorum follows the fleet: this broker starts the
	// member the controller adds for it, and, while it is the
	// controller, replaces members whose brokers are gone.
	quorumCtx, stopQuorum := context.WithCancel(context.Background())
	var quorumWG sync.WaitGroup
	if qhost != nil {
		quorumWG.Go(func() { qhost.Run(quorumCtx, store, session) })
	}
	mgr := quorum.NewManager(quorum.ManagerConfig{Store: store, Snapshots: b.meta.Load, Changed: b.meta.Changed,
		Active: ctrl.Active, Grace: coord.ReplaceGrace, Logger: b.log})
	quorumWG.Go(func() { mgr.Run(quorumCtx) })
	cleanup = append(cleanup, func() { stopQuorum(); quorumWG.Wait() })

	// Drains: the cloud's notices, and reports of every drain of this
	// broker until it is drained.
	drainCtx, stopDrains := context.WithCancel(context.Background())
	var drainWG sync.WaitGroup
	drainWG.Go(func() { b.followDrain(drainCtx) })
	if b.cfg.CloudProvider != "" {
		drainWG.Go(func() { b.watchNotices(drainCtx, session) })
	}
	cleanup = append(cleanup, func() { stopDrains(); drainWG.Wait() })

	if b.cfg.MetricsListener != "" {
		stop, err := b.serveMetrics(b.cfg.MetricsListener)
		if err != nil {
			return err
		}
		cleanup = append(cleanup, stop)
	}
	if _, err := session.SetState(ctx, cluster.StateRunning); err != nil {
		return fmt.Errorf("broker: %w", err)
	}

	srv := wire.NewServer(wire.Config{
		MaxRequestSize: b.cfg.SocketRequestMaxBytes,
		IdleTimeout:    b.cfg.ConnectionsMaxIdle,
		Logger:         b.log,
	}, b)
	// Serving stops when the session is lost (at once), or after ctx ends
	// and, with controlled.shutdown.enable, leadership has moved away.
	serveCtx, stopServing := context.WithCancel(context.Background())
	defer stopServing()
	lost := make(chan struct{})
	go func() {
		select {
		case <-session.Done():
			close(lost)
		case <-ctx.Done():
			if b.cfg.ControlledShutdown {
				b.shutdownDrain(session)
			}
		case <-serveCtx.Done():
		}
		stopServing()
	}()
	context.AfterFunc(serveCtx, func() { close(b.stopping) })
	b.log.Info("serving", "addr", ln.Addr().String(), "advertised", net.JoinHostPort(host, fmt.Sprint(port)), "cluster", b.clusterID)
	close(b.ready)
	serveErr := srv.Serve(serveCtx, ln)
	b.log.Info("shutting down")
	select {
	case <-lost:
		// Another broker may take this id's place: stop at once
		// rather than keep acting on stale leadership.
		return ErrSessionLost
	default:
	}
	return serveErr
}

// cloudIdentityTimeout bounds how long startup waits for the instance
// metadata service: a broker whose metadata service is down starts without
// it rather than not at all.
const cloudIdentityTimeout = 10 * time.Second

// placementIdentity returns the broker's rack and capacity: broker.rack and
// broker.capacity, else what the cloud's metadata service says
// (cloud.provider), else unknown.
func (b *Broker) placementIdentity(ctx context.Context) (rack, capacity string) {
	rack, capacity = b.cfg.Rack, b.cfg.Capacity
	if b.cfg.CloudProvider == "" || rack != "" && capacity != "" {
		return rack, capacity
	}
	client := cloud.NewClient(b.cfg.CloudMetadataEndpoint, 2*time.Second, b.log)
	ctx, cancel := context.WithTimeout(ctx, cloudIdentityTimeout)
	defer cancel()
	var id cloud.Identity
	var err error
	for delay := 100 * time.Millisecond; ; delay = min(2*delay, 2*time.Second) {
		if id, err = client.Identity(ctx); err == nil || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
	}
	if err != nil {
		b.log.Warn("no zone or capacity from the instance metadata service; starting without them", "provider", b.cfg.CloudProvider,
			"endpoint", b.cfg.CloudMetadataEndpoint, "err", err, "broker.rack", rack, "broker.capacity", capacity)
		return rack, capacity
	}
	if rack == "" {
		rack = id.Zone
	}
	if capacity == "" {
		capacity = id.Capacity
	}
	b.log.Info("zone and capacity from the instance metadata service", "zone", id.Zone, "life.cycle", id.Capacity,
		"broker.rack", rack, "broker.capacity", capacity)
	return rack, capacity
}

// register claims the broker id, retrying while a previous registration of
// the same id on the same log directory (a crashed process of this broker
// whose lease we do not know) has yet to expire. An id held by another
// live broker, on other log directories, fails at once
// (cluster.ErrBrokerIDConflict): waiting would only delay the error.
func (b *Broker) register(ctx context.Context, reg cluster.Registration, lease clientv3.LeaseID) (*cluster.Session, error) {
	ttl := b.cfg.SessionTimeout
	deadline := time.Now().Add(ttl + 5*time.Second)
	waited := false
	for {
		s, err := b.store.Register(ctx, reg, ttl, lease)
		if err == nil {
			return s, nil
		}
		if !errors.Is(err, cluster.ErrBrokerIDInUse) || time.Now().After(deadline) {
			return nil, fmt.Errorf("broker: registering: %w", err)
		}
		// Once is enough: the wait lasts up to a session timeout.
		level := slog.LevelDebug
		if !waited {
			level, waited = slog.LevelInfo, true
		}
		b.log.Log(ctx, level, "the previous registration of this broker id on the same log directory has not expired yet; waiting for it to expire",
			"id", reg.ID, "detail", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// serving reports whether the broker got as far as serving clients.
func (b *Broker) serving() bool {
	select {
	case <-b.ready:
		return true
	default:
		return false
	}
}

// logMemberStops reports loudly that a startup error takes the embedded
// etcd member down with the broker: for the members of a quorum that is
// one member fewer, which the broker's own error alone does not say.
func (b *Broker) logMemberStops(err error) {
	c := b.cfg.Coordinator
	if c.InitialCluster == "" {
		b.log.Error("broker failed to start; its embedded etcd member, the cluster's only one, stops with it",
			"member", c.Name, "err", err)
		return
	}
	b.log.Error("broker failed to start; its embedded etcd member stops with it, and the etcd quorum has one member fewer until this broker runs again",
		"member", c.Name, "initial.cluster", c.InitialCluster, "err", err)
}

func (b *Broker) embeddedConfig() etcdmember.Config {
	c := b.cfg.Coordinator
	return etcdmember.Config{
		Dir:                 c.Dir,
		Name:                c.Name,
		ListenClientURLs:    c.ListenClientURLs,
		ListenPeerURLs:      c.ListenPeerURLs,
		AdvertisePeerURLs:   c.AdvertisePeerURLs,
		InitialCluster:      c.InitialCluster,
		InitialClusterState: c.InitialClusterState,
		Logger:              b.log,
	}
}

// serveMetrics serves Prometheus metrics, and Go's profiles under
// /debug/pprof/, until the returned function is called. The listener is
// the operator's (metrics.listener, off by default), like etcd's metrics
// and profiling endpoints.
func (b *Broker) serveMetrics(addr string) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("broker: metrics listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(b.metrics.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	return func() { srv.Close(); <-done }, nil
}

// metrics are the broker's Prometheus metrics, in a registry of its own so
// that several brokers can run in one process (tests).
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	// drainSeconds and drainPending follow this broker's drains
	// (followDrain).
	drainSeconds prometheus.Histogram
	drainPending prometheus.Gauge
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "spotstream_requests_total",
			Help: "Kafka requests received, by API.",
		}, []string{"api"}),
	}
	m.drainSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "spotstream_broker_drain_seconds",
		Help:    "Time from the start of a drain of this broker (interruption notice, rebalance recommendation, spotstream broker drain) until it was drained: no leadership another replica could take, and temporary replicas in sync.",
		Buckets: []float64{0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120},
	})
	m.drainPending = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "spotstream_broker_drain_pending_partitions",
		Help: "Partitions that still hold this broker's drain up; 0 when it is not draining or drained.",
	})
	m.registry.MustRegister(m.requests, m.drainSeconds, m.drainPending)
	return m
}

// producerIDs hands out producer ids from blocks reserved in the
// coordination service.
type producerIDs struct {
	store *cluster.Store

	mu       sync.Mutex
	nextID   int64 // guarded by mu
	blockEnd int64 // guarded by mu; exclusive
}

// producerIDBlock is how many ids one reservation covers; Kafka uses 1000.
const producerIDBlock = 1000

func (p *producerIDs) next(ctx context.Context) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.nextID >= p.blockEnd {
		first, err := p.store.AllocateProducerIDs(ctx, producerIDBlock)
		if err != nil {
			return 0, err
		}
		p.nextID, p.blockEnd = first, first+producerIDBlock
	}
	id := p.nextID
	p.nextID++
	return id, nil
}
