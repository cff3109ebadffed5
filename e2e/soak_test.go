//go:build soak

package e2e

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/botapitest"
	"github.com/procblocking/procblocking/internal/testkit/proctest"
)

// soakDuration is 10 minutes unless SOAK_DURATION says otherwise (at least
// 3 minutes: the second minute is the baseline, the last one is compared).
func soakDuration(t *testing.T) time.Duration {
	d := 10 * time.Minute
	if s := os.Getenv("SOAK_DURATION"); s != "" {
		var err error
		d, err = time.ParseDuration(s)
		require.NoError(t, err, "SOAK_DURATION")
	}
	require.GreaterOrEqual(t, d, 3*time.Minute, "SOAK_DURATION")
	return d
}

type sample struct {
	at  time.Duration
	rss int64 // bytes
	fds int
}

func sampleProc(t *testing.T, pid int) (rss int64, fds int) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			require.NoError(t, err)
			rss = kb * 1024
		}
	}
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	require.NoError(t, err)
	return rss, len(entries)
}

func average(samples []sample, from, to time.Duration) (rss float64, fds float64) {
	n := 0
	for _, s := range samples {
		if s.at >= from && s.at < to {
			rss += float64(s.rss)
			fds += float64(s.fds)
			n++
		}
	}
	if n == 0 {
		return 0, 0
	}
	return rss / float64(n), fds / float64(n)
}

// TestSoak runs the real binary at a 1 s interval over 500 matching
// processes that come and go, and checks that the agent's memory and file
// descriptors stay flat.
func TestSoak(t *testing.T) {
	duration := soakDuration(t)
	bin := buildBinary(t, "telegraf-procblocking")
	tg := botapitest.New(t, "123:soak")

	marker := fmt.Sprintf("soak%dx%d", os.Getpid(), time.Now().UnixNano()%1_000_000)
	dir := t.TempDir()
	conf := filepath.Join(dir, "soak.conf")
	require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf(`[agent]
  interval = "1s"
  flush_interval = "1s"
  omit_hostname = true
  skip_processors_after_aggregators = true

[[inputs.procblocking]]
  patterns = [%q]

[[processors.alertstate]]
  threshold = "20s"
  cooldown = "60s"
  state_file = %q

[[outputs.telegram]]
  namepass = ["procblocking_alert"]
  token = "123:soak"
  chat_id = "100"
  api_url = %q

[[outputs.discard]]
`, marker, filepath.Join(dir, "alertstate.json"), tg.URL())), 0o600))

	// The 500 processes: each a pytest-like sleep; a churner replaces 25 of
	// them every 10 s, so processes come and go all through the run while
	// the alert events stay within what one chat may receive (1 per second).
	const population, churn = 500, 25
	children := make([]*exec.Cmd, 0, population)
	spawn := func(i int) *exec.Cmd {
		cmd := exec.Command("bash", "-c", `exec -a "$ARGV0" sleep 3600`)
		cmd.Env = append(os.Environ(), fmt.Sprintf("ARGV0=python3 -m pytest tests/test_%s_%d.py", marker, i))
		require.NoError(t, cmd.Start())
		return cmd
	}
	reap := func(cmd *exec.Cmd) {
		_ = syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}
	t.Cleanup(func() {
		for _, c := range children {
			reap(c)
		}
	})
	for i := 0; i < population; i++ {
		children = append(children, spawn(i))
	}
	next := population

	agent := proctest.Start(t, nil, bin, "--config", conf, "--quiet")
	start := time.Now()
	var samples []sample
	churnTick := time.NewTicker(10 * time.Second)
	defer churnTick.Stop()
	sampleTick := time.NewTicker(5 * time.Second)
	defer sampleTick.Stop()
	for time.Since(start) < duration {
		select {
		case <-churnTick.C:
			for j := 0; j < churn; j++ {
				k := rand.IntN(len(children))
				reap(children[k])
				children[k] = spawn(next)
				next++
			}
		case <-sampleTick.C:
			require.False(t, agent.Exited(), "the agent died: %v\n%s", agent.Err(), agent.Stderr.String())
			rss, fds := sampleProc(t, agent.PID())
			samples = append(samples, sample{at: time.Since(start), rss: rss, fds: fds})
		}
	}

	t.Logf("soak: %s, %d processes, %d replaced, %d Telegram messages", duration, population, next-population, len(tg.Messages()))
	t.Logf("minute  rss_mib  fds")
	for m := time.Duration(0); m < duration; m += time.Minute {
		rss, fds := average(samples, m, m+time.Minute)
		t.Logf("%6d  %7.1f  %4.1f", int(m/time.Minute)+1, rss/(1<<20), fds)
	}
	baseRSS, baseFDs := average(samples, time.Minute, 2*time.Minute)
	lastRSS, lastFDs := average(samples, duration-time.Minute, duration)
	require.NotZero(t, baseRSS)
	t.Logf("second minute: %.1f MiB, %.1f fds; last minute: %.1f MiB, %.1f fds", baseRSS/(1<<20), baseFDs, lastRSS/(1<<20), lastFDs)
	require.LessOrEqual(t, lastRSS, baseRSS*1.2, "RSS grew more than 20%%")
	require.LessOrEqual(t, lastFDs, baseFDs+5, "file descriptors grew")
	require.NotEmpty(t, tg.Messages(), "the alerts were delivered")
	require.NotContains(t, agent.Stderr.String(), "E! ", "errors during the soak")
}
