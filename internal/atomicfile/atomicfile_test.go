package atomicfile

import (
	"bufio"
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/proctest"
)

// The test binary doubles as the child killed in the middle of a Write.
const (
	helperEnv   = "ATOMICFILE_TEST_HELPER"
	helperPath  = "ATOMICFILE_TEST_PATH"
	helperReady = "READY"
	// Large enough that a torn write would show.
	helperSize = 4 << 20
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(writerHelper(mode, os.Getenv(helperPath)))
	}
	os.Exit(m.Run())
}

// writerHelper writes a new content and blocks at the step named by mode
// until it is killed.
func writerHelper(mode, path string) int {
	block := func() {
		os.Stdout.WriteString(helperReady + "\n")
		select {} // until SIGKILL
	}
	switch mode {
	case "before-rename":
		testHookAfterTempWrite = block
	case "after-rename":
		testHookAfterRename = block
	default:
		return 2
	}
	if err := Write(path, bytes.Repeat([]byte("n"), helperSize)); err != nil {
		os.Stderr.WriteString(err.Error())
		return 2
	}
	return 3 // the hook did not run
}

func TestWriteReplacesAtomicallyAcrossSIGKILL(t *testing.T) {
	for mode, want := range map[string]byte{"before-rename": 'o', "after-rename": 'n'} {
		t.Run(mode, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.json")
			old := bytes.Repeat([]byte("o"), helperSize/2)
			require.NoError(t, Write(path, old))

			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), helperEnv+"="+mode, helperPath+"="+path)
			stdout, err := cmd.StdoutPipe()
			require.NoError(t, err)
			stderr := &proctest.Buffer{}
			cmd.Stderr = stderr
			require.NoError(t, cmd.Start())
			line, err := bufio.NewReader(stdout).ReadString('\n')
			require.NoError(t, err, stderr.String())
			require.Equal(t, helperReady+"\n", line)
			require.NoError(t, cmd.Process.Kill())
			_ = cmd.Wait()

			data, err := Read(path, 2*helperSize)
			require.NoError(t, err)
			require.NotEmpty(t, data)
			require.Equal(t, bytes.Repeat([]byte{want}, len(data)), data, "a torn file")
			if want == 'o' {
				require.Equal(t, old, data)
				require.Equal(t, 1, removeTemps(path), "the interrupted write's temp file")
			} else {
				require.Len(t, data, helperSize)
				require.Zero(t, removeTemps(path))
			}
			entries, err := os.ReadDir(filepath.Dir(path))
			require.NoError(t, err)
			require.Len(t, entries, 1, "only the state file is left")
		})
	}
}

func TestWriteThenRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.json")
	require.NoError(t, Write(path, []byte("one")))
	require.NoError(t, Write(path, []byte("two")))
	data, err := Read(path, 3)
	require.NoError(t, err)
	require.Equal(t, "two", string(data))
}

func TestWriteFailsInMissingDirectory(t *testing.T) {
	err := Write(filepath.Join(t.TempDir(), "no", "such", "s.json"), []byte("x"))
	require.ErrorIs(t, err, fs.ErrNotExist)
}

func TestReadRefusesWhatIsNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	zero := filepath.Join(dir, "zero")
	require.NoError(t, os.Symlink("/dev/zero", zero))
	sub := filepath.Join(dir, "sub")
	require.NoError(t, os.Mkdir(sub, 0o700))

	for name, path := range map[string]string{"fifo": fifo, "device": zero, "directory": sub} {
		t.Run(name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() {
				_, err := Read(path, 1<<20)
				done <- err
			}()
			select {
			case err := <-done:
				require.ErrorIs(t, err, ErrNotRegular)
			case <-time.After(30 * time.Second):
				t.Fatal("Read blocked")
			}
		})
	}
}

func TestReadLimits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big")
	require.NoError(t, os.WriteFile(path, []byte(strings.Repeat("x", 101)), 0o600))
	_, err := Read(path, 100)
	require.ErrorIs(t, err, ErrTooLarge)
	data, err := Read(path, 101)
	require.NoError(t, err)
	require.Len(t, data, 101)

	// /proc files report size 0: the limit holds on what is read.
	_, err = Read("/proc/self/maps", 16)
	require.ErrorIs(t, err, ErrTooLarge)

	_, err = Read(filepath.Join(t.TempDir(), "missing"), 100)
	require.ErrorIs(t, err, fs.ErrNotExist)
}

func TestMoveAside(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.json")
	require.NoError(t, os.WriteFile(path, []byte("garbage"), 0o600))
	aside, err := MoveAside(path)
	require.NoError(t, err)
	require.Equal(t, path+".corrupt", aside)
	data, err := os.ReadFile(aside)
	require.NoError(t, err)
	require.Equal(t, "garbage", string(data))
	_, err = os.Stat(path)
	require.ErrorIs(t, err, fs.ErrNotExist)
}

func TestRemoveTempsKeepsOtherFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s[1].json") // glob characters in the name
	for _, name := range []string{"s[1].json.tmp-123", "s[1].json.tmp-456", "s[1].json", "other.tmp-1", "s1.json.tmp-9"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), nil, 0o600))
	}
	require.Equal(t, 2, removeTemps(path))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	require.ElementsMatch(t, []string{"s[1].json", "other.tmp-1", "s1.json.tmp-9"}, names)
}
