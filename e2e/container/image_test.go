package container

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestImage checks the image each leg's compose built from the project's
// Dockerfile: the version it was given, the non-root user, and a filesystem
// that holds the binary and what it needs, nothing else (no shell, no
// package manager).
func TestImage(t *testing.T) {
	t.Parallel()
	for _, l := range legs {
		t.Run(l.name, func(t *testing.T) {
			t.Parallel()
			testImage(t, l.get(t))
		})
	}
}

func testImage(t *testing.T, s *testEnv) {
	out, err := s.cli("run", "--rm", "--network", "none", s.image, "--version")
	require.NoError(t, err, out)
	require.Contains(t, out, "telegraf-procblocking "+s.version+" (Telegraf v", "--version in the container")
	require.NotContains(t, out, " dev ")

	out, err = s.cli("image", "inspect", "--format",
		`{{.Config.User}}|{{index .Config.Labels "org.opencontainers.image.version"}}|{{join .Config.Entrypoint " "}}`, s.image)
	require.NoError(t, err, out)
	require.Equal(t, "65532:65532|"+s.version+"|/usr/bin/telegraf-procblocking", strings.TrimSpace(out))

	root, err := s.imageFiles(filepath.Join(t.TempDir(), "image.tar"), s.image)
	require.NoError(t, err)
	var files []string
	for name, f := range root {
		if f.Typeflag != tar.TypeDir {
			files = append(files, name)
		}
	}
	slices.Sort(files)
	require.Equal(t, []string{
		"etc/group",
		"etc/passwd",
		"etc/ssl/certs/ca-certificates.crt",
		"usr/bin/telegraf-procblocking",
	}, files)

	// A new named volume mounted on the state directory copies its owner:
	// the watchdog can write there without any chown.
	state, ok := root["var/lib/procblocking"]
	require.True(t, ok, "var/lib/procblocking in the image")
	require.Equal(t, byte(tar.TypeDir), state.Typeflag)
	require.Equal(t, 65532, state.Uid)
	require.Contains(t, string(root["etc/passwd"].content), ":65532:65532:")
}

// imageFile is an entry of an image's filesystem.
type imageFile struct {
	*tar.Header
	content []byte // of a small regular file
}

// imageFiles saves image to archive (a docker-archive, which podman and
// docker both write: manifest.json naming the layer tars) and returns the
// image's filesystem, the layers applied in order, by path.
func (e *engine) imageFiles(archive, image string) (map[string]imageFile, error) {
	if out, err := e.cli("save", "--output", archive, image); err != nil {
		return nil, fmt.Errorf("%s save: %w: %s", e.name, err, out)
	}
	f, err := os.Open(archive)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	blobs := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag == tar.TypeReg {
			if blobs[path.Clean(h.Name)], err = io.ReadAll(tr); err != nil {
				return nil, err
			}
		}
	}
	var manifest []struct{ Layers []string }
	if err := json.Unmarshal(blobs["manifest.json"], &manifest); err != nil || len(manifest) != 1 {
		return nil, fmt.Errorf("%s save: manifest.json: %v (%d images)", e.name, err, len(manifest))
	}
	files := map[string]imageFile{}
	for _, layer := range manifest[0].Layers {
		lr := tar.NewReader(bytes.NewReader(blobs[path.Clean(layer)]))
		for {
			h, err := lr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("layer %s: %w", layer, err)
			}
			name := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
			if dir, base := path.Split(name); strings.HasPrefix(base, ".wh.") {
				// A whiteout: the layer removes what is under that name.
				gone := path.Join(dir, strings.TrimPrefix(base, ".wh."))
				for n := range files {
					if n == gone || strings.HasPrefix(n, gone+"/") {
						delete(files, n)
					}
				}
				continue
			}
			if name == "" {
				continue
			}
			file := imageFile{Header: h}
			if h.Typeflag == tar.TypeReg && h.Size < 1<<16 {
				if file.content, err = io.ReadAll(lr); err != nil {
					return nil, err
				}
			}
			files[name] = file
		}
	}
	return files, nil
}
