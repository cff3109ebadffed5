package container

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestImage checks the image the project's Dockerfile builds: the version it
// was given, the non-root user, and a filesystem that holds the binary and
// what it needs, nothing else (no shell, no package manager).
func TestImage(t *testing.T) {
	s := env(t)
	t.Parallel()

	out, err := s.cli("run", "--rm", "--network", "none", imageName, "--version")
	require.NoError(t, err, out)
	require.Contains(t, out, "telegraf-procblocking "+s.version+" (Telegraf v", "--version in the container")
	require.NotContains(t, out, " dev ")

	out, err = s.cli("image", "inspect", "--format",
		`{{.Config.User}}|{{index .Config.Labels "org.opencontainers.image.version"}}|{{join .Config.Entrypoint " "}}`, imageName)
	require.NoError(t, err, out)
	require.Equal(t, "65532:65532|"+s.version+"|/usr/bin/telegraf-procblocking", strings.TrimSpace(out))

	out, err = s.cli("image", "mount", imageName)
	require.NoError(t, err, out)
	root := strings.TrimSpace(out)
	t.Cleanup(func() { _, _ = s.cli("image", "unmount", imageName) })
	var files []string
	require.NoError(t, filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(root, path)
			files = append(files, rel)
		}
		return nil
	}))
	slices.Sort(files)
	require.Equal(t, []string{
		"etc/group",
		"etc/passwd",
		"etc/ssl/certs/ca-certificates.crt",
		"usr/bin/telegraf-procblocking",
	}, files)

	// A new named volume mounted on the state directory copies its owner:
	// the watchdog can write there without any chown.
	fi, err := os.Stat(filepath.Join(root, "var/lib/procblocking"))
	require.NoError(t, err)
	require.True(t, fi.IsDir())
	require.Equal(t, uint32(65532), fi.Sys().(*syscall.Stat_t).Uid)
	passwd, err := os.ReadFile(filepath.Join(root, "etc/passwd"))
	require.NoError(t, err)
	require.Contains(t, string(passwd), ":65532:65532:")
}
