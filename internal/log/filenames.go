package log

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// File names the package owns in a partition directory. Everything that
// builds or parses one of them lives in this file.
const (
	logSuffix       = ".log"
	indexSuffix     = ".index"
	timeIndexSuffix = ".timeindex"
	tmpSuffix       = ".tmp"

	cleanShutdownName   = ".clean-shutdown"
	epochCheckpointName = "leader-epoch-checkpoint"
)

// baseOffsetDigits is the width segment base offsets are padded to, enough
// for any non-negative int64, so that lexical order is offset order.
const baseOffsetDigits = 20

// segmentFileName returns the name of the file with the given suffix
// (logSuffix, indexSuffix or timeIndexSuffix) of the segment at base.
func segmentFileName(base int64, suffix string) string {
	return fmt.Sprintf("%0*d%s", baseOffsetDigits, base, suffix)
}

// segmentPath is segmentFileName joined to dir.
func segmentPath(dir string, base int64, suffix string) string {
	return filepath.Join(dir, segmentFileName(base, suffix))
}

// parseSegmentFileName parses a name built by segmentFileName. It reports
// false for any other name, including ones with the right shape but a
// suffix the package does not own.
func parseSegmentFileName(name string) (base int64, suffix string, ok bool) {
	i := strings.IndexByte(name, '.')
	if i != baseOffsetDigits {
		return 0, "", false
	}
	suffix = name[i:]
	switch suffix {
	case logSuffix, indexSuffix, timeIndexSuffix:
	default:
		return 0, "", false
	}
	for _, c := range name[:i] {
		if c < '0' || c > '9' {
			return 0, "", false
		}
	}
	base, err := strconv.ParseInt(name[:i], 10, 64)
	if err != nil {
		return 0, "", false
	}
	return base, suffix, true
}

// isTempFileName reports whether name is a temporary file left by an
// interrupted atomic write of one of the package's files.
func isTempFileName(name string) bool {
	if !strings.HasSuffix(name, tmpSuffix) {
		return false
	}
	orig := strings.TrimSuffix(name, tmpSuffix)
	if orig == epochCheckpointName || orig == cleanShutdownName {
		return true
	}
	_, _, ok := parseSegmentFileName(orig)
	return ok
}
