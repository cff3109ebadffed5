package telegram

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/procblocking/procblocking/internal/testkit/botapitest"
)

// fsImmutableFL is FS_IMMUTABLE_FL of linux/fs.h, which x/sys/unix does
// not define.
const fsImmutableFL = 0x00000010

// setImmutable sets or clears FS_IMMUTABLE_FL (chattr +i): nothing, root
// included, can then write the file or add and remove the entries of the
// directory. A real file system refusing writes, as a read-only remount
// does, without affecting the rest of the machine.
func setImmutable(t *testing.T, path string, on bool) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	flags, err := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	if errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.EOPNOTSUPP) {
		t.Skipf("the file system of %s does not support the immutable flag: %v", path, err)
	}
	require.NoError(t, err)
	if on {
		flags |= fsImmutableFL
	} else {
		flags &^= fsImmutableFL
	}
	err = unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, int(flags))
	if on && errors.Is(err, unix.EPERM) {
		t.Skipf("setting the immutable flag needs CAP_LINUX_IMMUTABLE (make test runs as root): %v", err)
	}
	require.NoError(t, err)
}

// A queue on disk whose directory cannot be written at start (a full disk,
// a read-only remount) is read and delivered all the same, with one error
// saying so; every write tries the directory again, and once it can be
// written the file is rewritten with what is left.
func TestUnwritableStateDirectoryStillDelivered(t *testing.T) {
	srv := newServer(t)
	srv.SetDefault(botapitest.Response{Status: 500})
	dir := t.TempDir()
	p := newPlugin(t, srv.URL(), func(p *Telegram) { p.StateDirectory = dir; p.CloseTimeout = 0 })
	queueWrite(t, p, batch(3))
	require.NoError(t, p.Close())

	queuePath := filepath.Join(dir, "queue.log")
	setImmutable(t, queuePath, true)
	setImmutable(t, dir, true)
	t.Cleanup(func() { setImmutable(t, dir, false); setImmutable(t, queuePath, false) })
	srv.SetDefault(botapitest.Response{})
	p2 := newPlugin(t, srv.URL(), func(p *Telegram) { p.StateDirectory = dir })
	require.Equal(t, 1, p2.log.count("E!", "Cannot write the queue file", "delivering the 3 event(s) queued in it from memory"), p2.log.String())
	require.Equal(t, alertTexts(1, 3), texts(waitMessages(t, srv, 3)))
	queueWrite(t, p2, []telegraf.Metric{batch(4)[3]})
	require.Equal(t, alertTexts(1, 4), texts(waitMessages(t, srv, 4)))

	require.Eventually(t, func() bool { return p2.queue.Len() == 0 }, 30*time.Second, 5*time.Millisecond)

	// The disk works again: the next write rewrites the file.
	setImmutable(t, dir, false)
	setImmutable(t, queuePath, false)
	srv.SetDefault(botapitest.Response{Status: 500})
	queueWrite(t, p2, []telegraf.Metric{batch(5)[4]})
	require.Equal(t, 1, p2.log.count("I!", "Writing the queue file works again"), p2.log.String())
	require.Equal(t, []string{"🚨 event 5"}, queuedInFile(t, queuePath), "the delivered events are gone from the file, the new one is in it")
	require.Eventually(t, func() bool { return srv.Requests() > 5 }, 30*time.Second, 5*time.Millisecond)
}
