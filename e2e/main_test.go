package e2e

import (
	"testing"

	"github.com/spotstream/spotstream/internal/cluster/clustertest"
)

// TestMain stops the shared etcd member that multi-broker tests coordinate
// through (started on first use by clustertest.Etcd) after the run.
func TestMain(m *testing.M) { clustertest.Main(m) }
