package etcdmember_test

import (
	"context"
	"testing"

	"github.com/spotstream/spotstream/internal/cluster"
	"github.com/spotstream/spotstream/internal/cluster/clustertest"
	"github.com/spotstream/spotstream/internal/etcdmember"
)

// testCtx returns a context that ends with the test or after 30 s.
func testCtx(t *testing.T) context.Context { return clustertest.Context(t) }

// newMember starts a member of the test's own in dir.
func newMember(t *testing.T, dir string) *etcdmember.Member { return clustertest.Member(t, dir) }

// connect opens a store on endpoints in namespace, closed with the test.
func connect(t *testing.T, endpoints []string, namespace string, opts ...cluster.Option) *cluster.Store {
	return clustertest.Connect(t, endpoints, namespace, opts...)
}
