package broker

import (
	"testing"

	"github.com/spotstream/spotstream/internal/cluster"
)

func TestDirectoryIDs(t *testing.T) {
	var d directoryIDs
	a, b := [16]byte{1}, [16]byte{2}
	if d.of([16]byte{}) != "" {
		t.Error("the zero id names no directory")
	}
	if d.of(a) != cluster.FormatID(a) || d.of(b) != cluster.FormatID(b) || d.of(a) != cluster.FormatID(a) {
		t.Errorf("ids formatted wrong: %q %q", d.of(a), d.of(b))
	}
}
