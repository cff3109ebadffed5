//go:build linux

package benchmarks

import (
	"syscall"
	"testing"
	"time"
)

// cpuNow is the CPU time (user + system) this test process has used. On a
// machine shared with other work, wall time includes waiting for a core;
// CPU time does not, so cpu-ns/op is reported next to ns/op.
func cpuNow() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time used since start per b.N.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64((cpuNow()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
}
