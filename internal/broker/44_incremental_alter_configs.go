package broker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spotstream/spotstream/internal/cluster"
	"github.com/spotstream/spotstream/internal/config"
	"github.com/spotstream/spotstream/internal/wire"
)

// This file holds IncrementalAlterConfigs and the machinery it shares with
// AlterConfigs (33_alter_configs.go): both turn each resource into a
// configChange, and alterConfigs applies each with one compare-and-swap on
// the resource's etcd key (the topic key, or configs/brokers/<id|default>),
// validating the resulting config set inside the CAS so that it is computed
// from the current value, never a stale one.

// alterConfigsTimeout bounds one AlterConfigs or IncrementalAlterConfigs
// request, which carry no timeout of their own: the etcd writes and the wait
// until this broker applied them. Clients give up after request.timeout.ms,
// 30 s by default, so waiting longer would help nobody.
const alterConfigsTimeout = 30 * time.Second

// configOp is one operation on one key.
type configOp struct {
	name  string
	op    kmsg.IncrementalAlterConfigOp
	value string // unused by DELETE
}

// configChange is one resource of an AlterConfigs or IncrementalAlterConfigs
// request.
type configChange struct {
	typ  kmsg.ConfigResourceType
	name string
	// replace is AlterConfigs' semantics: the SETs in ops become the whole
	// config set, dropping every other override.
	replace bool
	ops     []configOp
	// err is a problem found while reading the request; the resource is
	// not touched.
	err error
}

// errValidateOnly aborts a compare-and-swap once the new value has been
// validated, for validate_only requests.
var errValidateOnly = errors.New("broker: validate only")

func (b *Broker) handleIncrementalAlterConfigs(req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.IncrementalAlterConfigsRequest)
	changes := make([]configChange, len(r.Resources))
	for i, rr := range r.Resources {
		c := configChange{typ: rr.ResourceType, name: rr.ResourceName}
		for _, rc := range rr.Configs {
			switch {
			case rc.Op < kmsg.IncrementalAlterConfigOpSet || rc.Op > kmsg.IncrementalAlterConfigOpSubtract:
				c.err = kerrf(kerr.InvalidRequest, "config %q: unknown operation %d", rc.Name, rc.Op)
			case rc.Value == nil && rc.Op != kmsg.IncrementalAlterConfigOpDelete:
				c.err = kerrf(kerr.InvalidRequest, "config %q: a null value is only allowed with DELETE", rc.Name)
			}
			op := configOp{name: rc.Name, op: rc.Op}
			if rc.Value != nil {
				op.value = *rc.Value
			}
			c.ops = append(c.ops, op)
		}
		changes[i] = c
	}
	return wire.Later(func(ctx context.Context) kmsg.Response {
		errs := b.alterConfigs(ctx, changes, r.ValidateOnly)
		resp := r.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
		for i, c := range changes {
			sr := kmsg.NewIncrementalAlterConfigsResponseResource()
			sr.ResourceType, sr.ResourceName = c.typ, c.name
			if errs[i] != nil {
				setError(&sr.ErrorCode, &sr.ErrorMessage, errs[i])
			}
			resp.Resources = append(resp.Resources, sr)
		}
		return resp
	})
}

// alterConfigs applies config changes, each on its own (one resource's
// failure leaves the others alone, as in Kafka), and returns one error per
// change. Unless validateOnly, it then waits until this broker's replica
// manager applied the last write, so that the client's next DescribeConfigs
// or produce here sees the change.
func (b *Broker) alterConfigs(ctx context.Context, changes []configChange, validateOnly bool) []error {
	ctx, cancel := context.WithTimeout(ctx, alterConfigsTimeout)
	defer cancel()
	type resource struct {
		typ  kmsg.ConfigResourceType
		name string
	}
	count := make(map[resource]int, len(changes))
	for _, c := range changes {
		count[resource{c.typ, c.name}]++
	}
	errs := make([]error, len(changes))
	var lastRev int64
	var written []int
	for i := range changes {
		c := &changes[i]
		switch {
		case count[resource{c.typ, c.name}] > 1:
			errs[i] = kerrf(kerr.InvalidRequest, "resource %v %q appears more than once in the request", c.typ, c.name)
		case c.err != nil:
			errs[i] = c.err
		default:
			rev, err := b.alterResource(ctx, c, validateOnly)
			if err != nil {
				errs[i] = err
			} else if rev > 0 {
				lastRev = max(lastRev, rev)
				written = append(written, i)
			}
		}
	}
	if lastRev > 0 {
		if err := b.replicas.WaitApplied(ctx, lastRev); err != nil {
			for _, i := range written {
				errs[i] = kerrf(kerr.RequestTimedOut, "the change was written but this broker has not applied it yet: %v", err)
			}
		}
	}
	return errs
}

// alterResource applies one change and returns the revision of its write,
// 0 when nothing was written.
func (b *Broker) alterResource(ctx context.Context, c *configChange, validateOnly bool) (int64, error) {
	switch c.typ {
	case kmsg.ConfigResourceTypeTopic:
		return b.alterTopicConfigs(ctx, c, validateOnly)
	case kmsg.ConfigResourceTypeBroker:
		return b.alterBrokerConfigs(ctx, c, validateOnly)
	}
	return 0, kerrf(kerr.InvalidRequest, "resource type %v is not supported; configs of TOPIC and BROKER resources can be altered", c.typ)
}

// alterTopicConfigs changes a topic's overrides. The partitions pick the
// change up from the next snapshot (replica.Manager reconfigures them).
func (b *Broker) alterTopicConfigs(ctx context.Context, c *configChange, validateOnly bool) (int64, error) {
	if c.name == "" {
		return 0, kerrf(kerr.InvalidRequest, "a TOPIC resource needs a topic name")
	}
	if err := validTopicName(c.name); err != nil {
		return 0, err
	}
	s := configSchema{
		check:    config.CheckTopicKey,
		lookup:   config.LookupTopic,
		base:     func(name string) string { v, _ := b.cfg.TopicDefault(name); return v },
		validate: config.ValidateTopicConfigs,
	}
	edit, err := s.edit(c)
	if err != nil {
		return 0, err
	}
	rev, err := b.store.UpdateTopicConfigs(ctx, c.name, func(m map[string]string) error {
		if err := edit(m); err != nil {
			return err
		}
		if validateOnly {
			return errValidateOnly
		}
		return nil
	})
	if errors.Is(err, errValidateOnly) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("altering configs of topic %q: %w", c.name, err)
	}
	b.log.Info("altered topic configs", "topic", c.name, "changes", c.describe(), "revision", rev)
	return rev, nil
}

// alterBrokerConfigs changes the dynamic configs of one broker (the
// resource name is its id) or the cluster-wide default (name ""). Every
// broker applies them from its snapshots (replica.Manager.Apply).
func (b *Broker) alterBrokerConfigs(ctx context.Context, c *configChange, validateOnly bool) (int64, error) {
	id := cluster.ClusterDefault
	if c.name != "" {
		n, err := strconv.ParseInt(c.name, 10, 32)
		if err != nil || n < 0 {
			return 0, kerrf(kerr.InvalidRequest, "BROKER resource name %q is neither a broker id nor \"\" (the cluster-wide default)", c.name)
		}
		id = int32(n)
	}
	s := configSchema{
		check:    config.CheckDynamicBrokerKey,
		lookup:   config.LookupBroker,
		base:     b.brokerValue,
		validate: config.ValidateDynamicBrokerConfigs,
	}
	edit, err := s.edit(c)
	if err != nil {
		return 0, err
	}
	rev, err := b.store.UpdateBrokerConfigs(ctx, id, func(m map[string]string) error {
		if err := edit(m); err != nil {
			return err
		}
		if err := b.checkDrain(id, m[cluster.DrainConfig]); err != nil {
			return err
		}
		if validateOnly {
			return errValidateOnly
		}
		return nil
	})
	if errors.Is(err, errValidateOnly) {
		return 0, nil
	}
	scope := "cluster-wide default"
	if id != cluster.ClusterDefault {
		scope = "broker " + c.name
	}
	if err != nil {
		return 0, fmt.Errorf("altering dynamic configs of the %s: %w", scope, err)
	}
	b.log.Info("altered dynamic broker configs", "scope", scope, "changes", c.describe(), "revision", rev)
	return rev, nil
}

// checkDrain refuses a broker.drain that would mean nothing: one set as a
// cluster-wide default (draining every broker at once is a shutdown, not a
// drain), or one of a broker that is not registered. Clearing is always
// allowed.
func (b *Broker) checkDrain(id int32, value string) error {
	if d, err := cluster.ParseDrain(value); err != nil || d == cluster.DrainNone {
		return nil // invalid values are the validator's to report
	}
	if id == cluster.ClusterDefault {
		return kerrf(kerr.InvalidConfig, "%s is set per broker, not as a cluster-wide default", cluster.DrainConfig)
	}
	if _, ok := b.meta.Load().Brokers[id]; !ok {
		return kerrf(kerr.InvalidConfig, "%s: broker %d is not registered: only a running broker can be drained", cluster.DrainConfig, id)
	}
	return nil
}

// brokerValue returns this broker's current value of a broker key, from
// which APPEND and SUBTRACT start when the layer being changed lacks it.
func (b *Broker) brokerValue(name string) string {
	for _, e := range b.cfg.Describe() {
		if e.Name == name && e.Value != nil {
			return *e.Value
		}
	}
	return ""
}

// configSchema is what editing needs to know about one resource type.
type configSchema struct {
	// check accepts the keys that may be changed; its error names the key.
	check  func(name string) error
	lookup func(name string) (config.Key, bool)
	// base is the value APPEND and SUBTRACT start from when the key is not
	// set: the inherited default, as Kafka does.
	base func(name string) string
	// validate checks the whole resulting config set.
	validate func(configs map[string]string) error
}

// edit checks what of c can be checked without the current configs, and
// returns the function that applies c to them and validates the result.
func (s configSchema) edit(c *configChange) (func(configs map[string]string) error, error) {
	seen := make(map[string]bool, len(c.ops))
	var errs []error
	for _, op := range c.ops {
		if seen[op.name] {
			// Kafka refuses this too: the outcome would depend on order.
			return nil, kerrf(kerr.InvalidRequest, "config %q appears more than once for resource %q", op.name, c.name)
		}
		seen[op.name] = true
		if err := s.check(op.name); err != nil {
			errs = append(errs, err)
			continue
		}
		if op.op == kmsg.IncrementalAlterConfigOpAppend || op.op == kmsg.IncrementalAlterConfigOpSubtract {
			if k, _ := s.lookup(op.name); k.Type != config.List {
				errs = append(errs, kerrf(kerr.InvalidConfig, "cannot %v config %q: its type is %v, not list", op.op, op.name, k.Type))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return func(configs map[string]string) error {
		if c.replace {
			clear(configs)
		}
		for _, op := range c.ops {
			switch op.op {
			case kmsg.IncrementalAlterConfigOpSet:
				configs[op.name] = op.value
			case kmsg.IncrementalAlterConfigOpDelete:
				delete(configs, op.name)
			default:
				cur, ok := configs[op.name]
				if !ok {
					cur = s.base(op.name)
				}
				configs[op.name] = editList(cur, op.value, op.op == kmsg.IncrementalAlterConfigOpAppend)
			}
		}
		return s.validate(configs)
	}, nil
}

// editList appends the comma-separated items of values to the list cur
// (skipping those already in it), or removes them from it.
func editList(cur, values string, add bool) string {
	items := splitList(cur)
	for _, v := range splitList(values) {
		i := slices.Index(items, v)
		switch {
		case add && i < 0:
			items = append(items, v)
		case !add && i >= 0:
			items = slices.Delete(items, i, i+1)
		}
	}
	return strings.Join(items, ",")
}

func splitList(s string) []string {
	var items []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}

// describe renders the operations for the log.
func (c *configChange) describe() string {
	parts := make([]string, 0, len(c.ops)+1)
	if c.replace {
		parts = append(parts, "REPLACE")
	}
	for _, op := range c.ops {
		if op.op == kmsg.IncrementalAlterConfigOpDelete {
			parts = append(parts, fmt.Sprintf("%v %s", op.op, op.name))
		} else {
			parts = append(parts, fmt.Sprintf("%v %s=%s", op.op, op.name, op.value))
		}
	}
	return strings.Join(parts, ", ")
}
