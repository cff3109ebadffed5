//go:build linux

package procblocking

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/influxdata/telegraf"

	"github.com/procblocking/procblocking/plugins/inputs/procblocking/internal/hostview"
)

// minRegexMaxBytes is the least regex_max_bytes accepted: real pytest
// command lines need more than their first line of text to match.
const minRegexMaxBytes = 256

// runState is what Init sets up for Gather on Linux: the scanner over the
// proc root, and what one gather leaves for the next.
type runState struct {
	root    string
	scanner *scanner
	// hostView is whether the agent sees the host's processes, decided once
	// in Init and reported with every scan.
	hostView bool
	// now is the clock of the gather; tests inject a fixed one.
	now func() time.Time
	// prev holds the CPU time of each process matched by the previous
	// successful gather, keyed by PID; rebuilt every gather so it only ever
	// holds current matches.
	prev map[int64]cpuSample
}

type cpuSample struct {
	createdAtNs int64
	cpuSeconds  float64
	at          time.Time
}

func (p *ProcBlocking) Init() error {
	named := p.Pattern
	if p.Patterns == nil && len(named) == 0 {
		named = defaultPatterns()
	}
	if p.RegexMaxBytes < minRegexMaxBytes {
		return fmt.Errorf("invalid 'regex_max_bytes' \"%d\": want at least %d bytes", p.RegexMaxBytes, minRegexMaxBytes)
	}
	m, err := newMatcher(p.Patterns, p.PatternType, named, int(min(int64(p.RegexMaxBytes), maxCmdline)))
	if err != nil {
		return err
	}
	if p.MinAge < 0 {
		return fmt.Errorf("invalid 'min_age' %q: must not be negative", time.Duration(p.MinAge).String())
	}
	r, err := newCmdlineRenderer(p.Redact, p.CmdlineMaxLength)
	if err != nil {
		return err
	}

	p.state.root = p.ProcRoot
	if p.state.root == "" {
		p.state.root = os.Getenv("HOST_PROC")
	}
	if p.state.root == "" {
		p.state.root = "/proc"
	}
	if _, err := readBtime(p.state.root); err != nil {
		if p.ProcRoot == "" {
			return fmt.Errorf("invalid 'proc_root' %q: not a proc filesystem (the value comes from $HOST_PROC or the default): %w", p.state.root, err)
		}
		return fmt.Errorf("invalid 'proc_root' %q: not a proc filesystem: %w", p.state.root, err)
	}

	debugf := func(string, ...any) {}
	if p.Log != nil {
		debugf = p.Log.Debugf
	}
	p.state.scanner = newScanner(p.state.root, m, r, debugf)
	var warnings []string
	p.state.hostView, warnings = hostview.Check(p.state.root)
	for _, w := range warnings {
		if p.Log != nil {
			p.Log.Warn(w)
		}
	}
	if p.state.now == nil {
		p.state.now = time.Now
	}
	p.state.prev = make(map[int64]cpuSample)
	return nil
}

func (p *ProcBlocking) Gather(acc telegraf.Accumulator) error {
	now := p.state.now()
	started := time.Now()
	res, err := p.state.scanner.scan(now.Add(-time.Duration(p.MinAge)).UnixNano())
	durationMs := float64(time.Since(started).Nanoseconds()) / 1e6

	scanFields := map[string]any{
		"processes":   res.processes,
		"matched":     int64(0),
		"descendants": int64(0),
		"errors":      res.errors,
		"duration_ms": durationMs,
		"ok":          err == nil,
		"host_view":   p.state.hostView,
	}
	if err != nil {
		// The processor downstream must tell "could not look" from "nothing
		// is there", so the failure is a metric as well as an error.
		err = fmt.Errorf("scanning %q: %w", p.state.root, err)
		acc.AddError(err)
		scanFields["error"] = err.Error()
		acc.AddFields("procblocking_scan", scanFields, nil, now)
		return nil
	}

	next := make(map[int64]cpuSample, len(res.procs))
	usage := make([]float64, len(res.procs))
	hasUsage := make([]bool, len(res.procs))
	for i := range res.procs {
		info := &res.procs[i]
		next[info.pid] = cpuSample{createdAtNs: info.createdAtNs, cpuSeconds: info.cpuSeconds, at: now}
		if prev, ok := p.state.prev[info.pid]; ok && prev.createdAtNs == info.createdAtNs {
			if dt := now.Sub(prev.at).Seconds(); dt > 0 {
				usage[i], hasUsage[i] = (info.cpuSeconds-prev.cpuSeconds)/dt*100, true
			}
		}
	}
	jobs := sumJobs(res.procs, usage, hasUsage)
	pageSize := int64(os.Getpagesize())
	var matched, descendants int64
	for i := range res.procs {
		info := &res.procs[i]
		if info.young {
			continue
		}
		if info.descendant {
			descendants++
		} else {
			matched++
		}
		fields := map[string]any{
			"age_seconds":    now.Sub(time.Unix(0, info.createdAtNs)).Seconds(),
			"cpu_seconds":    info.cpuSeconds,
			"created_at":     info.createdAtNs,
			"ppid":           info.stat.ppid,
			"state":          info.stat.state,
			"comm":           info.stat.comm,
			"threads":        info.stat.threads,
			"rss_bytes":      info.stat.rssPages * pageSize,
			"cmdline":        info.cmdline,
			"job_pid":        info.jobPID,
			"job_created_at": info.jobCreatedAtNs,
		}
		if info.orphan != orphanUnknown {
			fields["orphan"] = info.orphan == orphanYes
		}
		if hasUsage[i] {
			fields["cpu_usage"] = usage[i]
		}
		if info.containerID != "" {
			fields["container_id"] = info.containerID
		}
		if info.descendant {
			fields["descendant"] = true
		}
		if job, top := jobs[info.pid]; top && job.processes > 1 {
			fields["job_processes"] = job.processes
			fields["job_cpu_seconds"] = job.cpuSeconds
			fields["job_rss_bytes"] = job.rssPages * pageSize
			if job.hasCPUUsage {
				fields["job_cpu_usage"] = job.cpuUsage
			}
		}
		tags := map[string]string{
			"pattern": info.pattern,
			"pid":     strconv.FormatInt(info.pid, 10),
		}
		acc.AddFields("procblocking", fields, tags, now)
	}
	p.state.prev = next

	scanFields["matched"] = matched
	scanFields["descendants"] = descendants
	acc.AddFields("procblocking_scan", scanFields, nil, now)
	return nil
}
