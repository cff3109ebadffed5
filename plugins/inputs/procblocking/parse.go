package procblocking

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/prometheus/procfs"
)

// userHZ is the tick the kernel uses for the times in /proc/<pid>/stat: it is
// always 100 there, whatever CONFIG_HZ the kernel was built with.
const userHZ = 100

// procStat holds the fields of /proc/<pid>/stat the plugin reports.
type procStat struct {
	comm      string
	state     string
	ppid      int64
	flags     uint64
	utime     uint64
	stime     uint64
	threads   int64
	startTime uint64 // ticks after boot
	rssPages  int64
}

// parseStat parses one /proc/<pid>/stat line. The comm sits between the first
// '(' and the last ')' because it may itself hold spaces and parentheses.
func parseStat(b []byte) (procStat, error) {
	open := bytes.IndexByte(b, '(')
	closing := bytes.LastIndexByte(b, ')')
	if open < 0 || closing < open {
		return procStat{}, errors.New("stat: no comm in parentheses")
	}
	var s procStat
	s.comm = strings.ToValidUTF8(string(b[open+1:closing]), "\uFFFD")

	// Fields after the comm, numbered as in proc(5): rest[0] is field 3.
	rest := bytes.Fields(b[closing+1:])
	const (
		fState   = 3
		fPPid    = 4
		fFlags   = 9
		fUtime   = 14
		fStime   = 15
		fThreads = 20
		fStart   = 22
		fRss     = 24
	)
	field := func(n int) []byte { return rest[n-3] }
	if len(rest) < fRss-2 {
		return procStat{}, fmt.Errorf("stat: %d fields after comm, want at least %d", len(rest), fRss-2)
	}
	s.state = strings.ToValidUTF8(string(field(fState)), "\uFFFD")
	var err error
	if s.ppid, err = parseInt(field(fPPid)); err != nil {
		return procStat{}, fmt.Errorf("stat: ppid: %w", err)
	}
	if s.flags, err = parseUint(field(fFlags)); err != nil {
		return procStat{}, fmt.Errorf("stat: flags: %w", err)
	}
	if s.utime, err = parseUint(field(fUtime)); err != nil {
		return procStat{}, fmt.Errorf("stat: utime: %w", err)
	}
	if s.stime, err = parseUint(field(fStime)); err != nil {
		return procStat{}, fmt.Errorf("stat: stime: %w", err)
	}
	if s.threads, err = parseInt(field(fThreads)); err != nil {
		return procStat{}, fmt.Errorf("stat: num_threads: %w", err)
	}
	if s.startTime, err = parseUint(field(fStart)); err != nil {
		return procStat{}, fmt.Errorf("stat: starttime: %w", err)
	}
	if s.rssPages, err = parseInt(field(fRss)); err != nil {
		return procStat{}, fmt.Errorf("stat: rss: %w", err)
	}
	return s, nil
}

func parseInt(b []byte) (int64, error) {
	return strconv.ParseInt(string(b), 10, 64)
}

func parseUint(b []byte) (uint64, error) {
	return strconv.ParseUint(string(b), 10, 64)
}

// parseNSpid returns the values of the "NSpid:" line of /proc/<pid>/status:
// the PID in each nested PID namespace, the innermost last.
func parseNSpid(b []byte) ([]int64, error) {
	for line := range bytes.Lines(b) {
		rest, ok := bytes.CutPrefix(line, []byte("NSpid:"))
		if !ok {
			continue
		}
		fields := bytes.Fields(rest)
		if len(fields) == 0 {
			return nil, errors.New("status: empty NSpid line")
		}
		pids := make([]int64, 0, len(fields))
		for _, f := range fields {
			v, err := parseInt(f)
			if err != nil {
				return nil, fmt.Errorf("status: NSpid: %w", err)
			}
			pids = append(pids, v)
		}
		return pids, nil
	}
	return nil, errors.New("status: no NSpid line")
}

// joinCmdline turns the raw bytes of /proc/<pid>/cmdline into the command line
// as one valid UTF-8 string: arguments joined by single spaces, the trailing
// NUL dropped, invalid bytes replaced by U+FFFD.
func joinCmdline(raw []byte) string {
	joined := joinInPlace(make([]byte, 0, len(raw)), raw)
	return strings.ToValidUTF8(string(joined), "\uFFFD")
}

// joinInPlace joins like joinCmdline, without making the result valid UTF-8,
// into dst: the scan reuses one dst for every process, so that matching
// allocates nothing.
func joinInPlace(dst, raw []byte) []byte {
	for len(raw) > 0 && raw[len(raw)-1] == 0 {
		raw = raw[:len(raw)-1]
	}
	dst = append(dst[:0], raw...)
	for i, c := range dst {
		if c == 0 {
			dst[i] = ' '
		}
	}
	return dst
}

// readBtime reads the boot time, in unix seconds, from <root>/stat.
func readBtime(root string) (uint64, error) {
	fs, err := procfs.NewFS(root)
	if err != nil {
		return 0, err
	}
	st, err := fs.Stat()
	if err != nil {
		return 0, err
	}
	if st.BootTime == 0 {
		return 0, errors.New("no btime in stat")
	}
	return st.BootTime, nil
}

// parsePID parses a directory name made only of digits. Hand-rolled rather
// than strconv: it runs for every entry of the proc root, must not allocate,
// and must refuse a sign or spaces.
func parsePID(name []byte) (int64, bool) {
	if len(name) == 0 || len(name) > 10 {
		return 0, false
	}
	var v int64
	for _, c := range name {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, v > 0
}
