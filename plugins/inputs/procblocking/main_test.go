//go:build linux

package procblocking

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf/testutil"
)

// helperEnv makes a copy of this test binary run one helper instead of the
// tests: the tests that need another PID namespace, mount namespace or user
// start it there.
const helperEnv = "PROCBLOCKING_TEST_HELPER"

func TestMain(m *testing.M) {
	if name := os.Getenv(helperEnv); name != "" {
		os.Exit(runHelper(name))
	}
	os.Exit(m.Run())
}

// helperReport is what a helper prints on stdout, as JSON, for the test
// that started it.
type helperReport struct {
	// PID is the helper's PID in its own PID namespace; SelfPID the PID its
	// proc root's self names.
	PID      int            `json:"pid"`
	SelfPID  int64          `json:"self_pid"`
	Metrics  []helperMetric `json:"metrics"`
	Errors   []string       `json:"errors"`
	Warnings []string       `json:"warnings"`
	// Spawned are PIDs the helper started and the test must end.
	Spawned []int `json:"spawned"`
}

type helperMetric struct {
	Name   string            `json:"name"`
	Tags   map[string]string `json:"tags"`
	Fields map[string]any    `json:"fields"`
}

func runHelper(name string) int {
	var (
		report helperReport
		err    error
	)
	switch name {
	case "scan":
		report, err = helperScan(os.Getenv("PROCBLOCKING_TEST_ROOT"), os.Getenv("PROCBLOCKING_TEST_PATTERN"))
	case "hidepid":
		report, err = helperHidepid(os.Getenv("PROCBLOCKING_TEST_ROOT"), os.Getenv("PROCBLOCKING_TEST_PATTERN"))
	default:
		err = fmt.Errorf("unknown helper %q", name)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "helper %s: %v\n", name, err)
		if report.Spawned != nil {
			_ = json.NewEncoder(os.Stdout).Encode(report)
		}
		return 1
	}
	if err := json.NewEncoder(os.Stdout).Encode(report); err != nil {
		fmt.Fprintf(os.Stderr, "helper %s: %v\n", name, err)
		return 1
	}
	return 0
}

// helperScan runs one Init and Gather of the plugin over root, with a
// substring pattern, and reports what they gave.
func helperScan(root, pattern string) (helperReport, error) {
	report := helperReport{PID: os.Getpid()}
	if link, err := os.Readlink(filepath.Join(root, "self")); err == nil {
		report.SelfPID, _ = strconv.ParseInt(link, 10, 64)
	}
	logger := &testutil.CaptureLogger{Name: "inputs.procblocking"}
	p := newFactoryPlugin()
	p.Patterns = []string{pattern}
	p.ProcRoot = root
	p.Log = logger
	if err := p.Init(); err != nil {
		return report, err
	}
	var acc testutil.Accumulator
	if err := p.Gather(&acc); err != nil {
		return report, err
	}
	for _, m := range acc.GetTelegrafMetrics() {
		report.Metrics = append(report.Metrics, helperMetric{Name: m.Name(), Tags: m.Tags(), Fields: m.Fields()})
	}
	for _, e := range acc.Errors {
		report.Errors = append(report.Errors, e.Error())
	}
	report.Warnings = logger.Warnings()
	return report, nil
}

// process returns the procblocking metric of a PID, if reported.
func (r helperReport) process(pid int) (helperMetric, bool) {
	for _, m := range r.Metrics {
		if m.Name == "procblocking" && m.Tags["pid"] == fmt.Sprint(pid) {
			return m, true
		}
	}
	return helperMetric{}, false
}

func (r helperReport) scan() (helperMetric, bool) {
	for _, m := range r.Metrics {
		if m.Name == "procblocking_scan" {
			return m, true
		}
	}
	return helperMetric{}, false
}

// waitForCmdlines polls /proc until, for each want, exactly one process
// shows a command line starting with it, and returns their PIDs.
func waitForCmdlines(want ...string) ([]int, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		found := make([]int, len(want))
		entries, err := os.ReadDir("/proc")
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			pid, ok := parsePID([]byte(e.Name()))
			if !ok {
				continue
			}
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			if err != nil {
				continue
			}
			for i, w := range want {
				if strings.HasPrefix(string(b), w+"\x00") {
					found[i] = int(pid)
				}
			}
		}
		missing := false
		for _, pid := range found {
			missing = missing || pid == 0
		}
		if !missing {
			return found, nil
		}
		if time.Now().After(deadline) {
			return found, fmt.Errorf("processes %q not all seen: %v", want, found)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
