package container

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/influxtest"
	"github.com/procblocking/procblocking/internal/testkit/proctest"
)

// influx queries an InfluxDB 1.x over HTTP.
type influx struct{ url string }

// row is one result row keyed by column, with the series' tags merged in.
type row = influxtest.Row

// query runs one InfluxQL statement; an unreachable server or a missing
// database gives no rows and the error.
func (db influx) query(q string) ([]row, error) {
	return influxtest.Query(db.url, "procblocking", q)
}

// count returns the number of points a counting query found (0 when none).
func (db influx) count(t *testing.T, q string) int {
	t.Helper()
	rows, err := db.query(q)
	if err != nil || len(rows) == 0 {
		return 0
	}
	n, ok := rows[0]["count"].(float64)
	require.True(t, ok, "%s: count is %T", q, rows[0]["count"])
	return int(n)
}

// waitFor polls cond every 200 ms until it holds, failing the test after
// within: a container engine's command costs more than a file's read.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	proctest.WaitEvery(t, within, 200*time.Millisecond, what, cond)
}

// hostname is the host's name as /etc/hostname says it: what the compose file
// gives the watchdog as the host's identity.
func hostname(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/etc/hostname")
	require.NoError(t, err, "the compose file mounts /etc/hostname: the host must have one")
	name := strings.TrimSpace(string(b))
	require.NotEmpty(t, name, "/etc/hostname is empty")
	return name
}
