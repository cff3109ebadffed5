//go:build linux

package benchmarks

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Any local user controls a command line of a few MiB. These are the hostile
// ones of the hardening probe: ten processes whose command lines are about
// 960 kB of "a" ending in "ab", which no pattern matches.
const (
	hostileProcs = 10
	// hostileArgBytes stays under MAX_ARG_STRLEN (128 KiB per argument).
	hostileArgBytes = 120_000
	hostileArgs     = 8
)

// idleEnv makes a copy of this test binary do nothing until it is killed,
// whatever its arguments: it stands in for a process with a hostile command
// line (sleep would refuse the arguments).
const idleEnv = "PROCBLOCKING_BENCH_IDLE"

// idleIfAsked never returns in a copy started by startHostile.
func idleIfAsked() {
	if os.Getenv(idleEnv) != "1" {
		return
	}
	for {
		time.Sleep(time.Hour)
	}
}

// hostileArgv is "python3" and then 960 kB of "a" in 120 kB arguments, the
// last ending in "ab": it starts like a Python command line, so an anchored
// regex has to look at all of it.
func hostileArgv() []string {
	argv := []string{"python3"}
	for i := range hostileArgs {
		arg := strings.Repeat("a", hostileArgBytes)
		if i == hostileArgs-1 {
			arg = arg[:hostileArgBytes-2] + "ab"
		}
		argv = append(argv, arg)
	}
	return argv
}

// startHostile starts the hostile processes and ends them, by PID, when the
// benchmark ends.
func startHostile(b *testing.B) {
	b.Helper()
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	argv := hostileArgv()
	attr := &os.ProcAttr{
		Env: append(os.Environ(), idleEnv+"=1"),
		Sys: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	}
	var procs []*os.Process
	b.Cleanup(func() {
		for _, p := range procs {
			_ = p.Kill()
		}
		for _, p := range procs {
			_, _ = p.Wait()
		}
	})
	for range hostileProcs {
		p, err := os.StartProcess(self, argv, attr)
		if err != nil {
			b.Fatalf("starting a hostile process: %v", err)
		}
		procs = append(procs, p)
	}
	for _, p := range procs {
		if err := waitVisible(p.Pid, argv); err != nil {
			b.Fatal(err)
		}
	}
}

// hostileConfigs are the inputs the hostile command lines are scanned with:
// the default named pattern, the substring matcher, the anchored regexes a
// user writes to match "python -m pytest" and "pytest" by hand, and a regex
// that is slow on long inputs by construction.
var hostileConfigs = []struct{ name, toml string }{
	{"default", `
[[inputs.procblocking]]
`},
	{"substring", `
[[inputs.procblocking]]
  patterns = ["pytest"]
`},
	{"readme-regex", `
[[inputs.procblocking]]
  pattern_type = "regex"
  patterns = ['^\S*python[0-9.]* (\S+ )*-m pytest( |$)', '^\S*pytest( |$)']
`},
	{"nested-regex", `
[[inputs.procblocking]]
  pattern_type = "regex"
  patterns = ['(.*a){20}x']
`},
}

// BenchmarkScanHostile times one scan of 1,000 ordinary processes and ten
// hostile ones, per pattern kind: ns/op is what such a scan costs the agent.
func BenchmarkScanHostile(b *testing.B) {
	withPool(b, benchNs[0])
	startHostile(b)
	for _, c := range hostileConfigs {
		b.Run(c.name, func(b *testing.B) {
			benchScan(b, procblockingFrom(b, c.toml), 0)
		})
	}
}
