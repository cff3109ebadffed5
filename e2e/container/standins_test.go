package container

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// No registry is reachable where the tests run, so the base images the
// project's files name are stood in by local look-alikes under the same
// names, made from this machine's own files. Only the bases are stood in:
// the project's Dockerfile and compose file are used as they are.

// shellTools are the programs of a Debian base that a Dockerfile's RUN lines
// and the tests' job containers use.
var shellTools = []string{
	"bash", "sh", "dash", "cat", "chmod", "chown", "cp", "env", "id", "ln", "ls",
	"mkdir", "printf", "rm", "sleep",
}

// standInGolang imports name (e.g. golang:1.26.8) as this machine's Go
// toolchain at /usr/local/go on a minimal Debian-like root with a shell, the
// CA bundle and the environment of the official golang image. When
// buildCache is not empty, the image's Go build cache (/root/.cache/go-build)
// is the one under it: a cache warmed by the same build on this machine, so
// that an engine's build compiles only what the host has not (a cold build
// takes minutes, and the tests build under two builders). The cache holds
// results keyed by their inputs: what is built is the same with it or not.
// An engine that does not build gets the shell only (goroot ""): its jobs
// run on the image, and a toolchain would cost its import and nothing else.
func (e *engine) standInGolang(name, goVersion, goroot, buildCache string) error {
	stage := filepath.Join(e.dir, "stage-golang")
	for _, d := range []string{"etc", "root", "go/bin", "go/src"} {
		if err := os.MkdirAll(filepath.Join(stage, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Join(stage, "tmp"), 0o1777); err != nil {
		return err
	}
	if err := os.Chmod(filepath.Join(stage, "tmp"), 0o1777); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(stage, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/bash\n"), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(stage, "etc/group"), []byte("root:x:0:\n"), 0o644); err != nil {
		return err
	}
	if goroot != "" && goroot != "/usr/local/go" {
		return fmt.Errorf("the golang stand-in needs the toolchain at /usr/local/go, as in the official image; this one is at %s", goroot)
	}
	files, err := hostFiles(shellTools)
	if err != nil {
		return err
	}
	files = append(files, "etc/ssl/certs/ca-certificates.crt")
	if goroot != "" {
		files = append(files, "usr/local/go")
	}
	toolchain := hostPart(files)
	// What `go build` never reads: the toolchain's own sources (its
	// commands are built, in pkg/tool), its tests, API lists and docs, a
	// third of it that each engine would otherwise import.
	toolchain.exclude = []string{"usr/local/go/src/cmd", "usr/local/go/test", "usr/local/go/api", "usr/local/go/doc", "usr/local/go/misc"}
	parts := []rootfsPart{
		toolchain,
		{dir: stage, paths: []string{"etc/passwd", "etc/group", "tmp", "root", "go"}},
	}
	if buildCache != "" {
		parts = append(parts, rootfsPart{dir: buildCache, paths: []string{"root/.cache/go-build"}})
	}
	return e.importRootfs(name, parts,
		"ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"ENV GOLANG_VERSION="+strings.TrimPrefix(goVersion, "go"),
		"ENV GOPATH=/go",
		"ENV GOTOOLCHAIN=local",
		"WORKDIR /go",
		`CMD ["bash"]`,
	)
}

// standInInfluxDB imports name (e.g. influxdb:1.8) as Debian's influxd with
// the official image's layout: data under /var/lib/influxdb, HTTP on :8086.
func (e *engine) standInInfluxDB(name string) error {
	influxd, err := exec.LookPath("influxd")
	if err != nil {
		return fmt.Errorf("influxd is not installed (Debian's influxdb package; `make test-deps` installs it): %w", err)
	}
	stage := filepath.Join(e.dir, "stage-influxdb")
	if err := os.MkdirAll(filepath.Join(stage, "etc/influxdb"), 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(stage, "var/lib/influxdb"), 0o755); err != nil {
		return err
	}
	const conf = `reporting-disabled = true
[meta]
  dir = "/var/lib/influxdb/meta"
[data]
  dir = "/var/lib/influxdb/data"
  wal-dir = "/var/lib/influxdb/wal"
  query-log-enabled = false
[http]
  bind-address = ":8086"
  log-enabled = false
[monitor]
  store-enabled = false
`
	if err := os.WriteFile(filepath.Join(stage, "etc/influxdb/influxdb.conf"), []byte(conf), 0o644); err != nil {
		return err
	}
	files, err := hostFiles([]string{influxd})
	if err != nil {
		return err
	}
	return e.importRootfs(name, []rootfsPart{hostPart(files), {dir: stage, paths: []string{"etc/influxdb", "var/lib/influxdb"}}},
		"ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"EXPOSE 8086",
		`CMD ["influxd"]`,
	)
}

// standInBusybox imports name (e.g. busybox:1.37.0) as Debian's static
// busybox with its applets linked in /bin, as in the official image.
func (e *engine) standInBusybox(name string) error {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return fmt.Errorf("busybox is not installed (Debian's busybox-static package; `make test-deps` installs it): %w", err)
	}
	stage := filepath.Join(e.dir, "stage-busybox")
	if err := os.MkdirAll(filepath.Join(stage, "bin"), 0o755); err != nil {
		return err
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(stage, "bin/busybox"), data, 0o755); err != nil {
		return err
	}
	for _, applet := range []string{"sh", "chown", "chmod", "id", "ls", "cat", "sleep"} {
		if err := os.Symlink("busybox", filepath.Join(stage, "bin", applet)); err != nil {
			return err
		}
	}
	return e.importRootfs(name, []rootfsPart{{dir: stage, paths: []string{"bin"}}},
		"ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		`CMD ["sh"]`,
	)
}

// rootfsPart is a part of a stand-in's root: paths relative to dir, taken
// to the same paths in the image.
type rootfsPart struct {
	dir   string
	paths []string
	// exclude are paths below them left out.
	exclude []string
}

// hostPart is the host's files (paths relative to /) with the usr-merge
// links, so that /bin/sh and /lib64/ld-linux... resolve.
func hostPart(files []string) rootfsPart {
	var links []string
	for _, l := range []string{"bin", "lib", "lib64", "sbin"} {
		if fi, err := os.Lstat("/" + l); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			links = append(links, l)
		}
	}
	return rootfsPart{dir: "/", paths: append(links, files...)}
}

// importRootfs streams the parts into the engine's `import` as image name
// (podman's and docker's take the same arguments).
func (e *engine) importRootfs(name string, parts []rootfsPart, changes ...string) error {
	tarArgs := []string{"-cf", "-"}
	for _, p := range parts {
		for _, x := range p.exclude {
			tarArgs = append(tarArgs, "--exclude="+x)
		}
		tarArgs = append(tarArgs, "-C", p.dir)
		tarArgs = append(tarArgs, p.paths...)
	}
	importArgs := []string{"import"}
	for _, c := range changes {
		importArgs = append(importArgs, "--change", c)
	}
	importArgs = append(importArgs, "-", name)
	return pipe(exec.Command("tar", tarArgs...), e.command(importArgs...))
}

// loadImage copies the image of another leg into this engine as image: the
// other's `save` streamed into this one's `load` (podman's and docker's take
// the same arguments), then tagged.
func (e *engine) loadImage(from *testEnv, image string) error {
	if err := pipe(from.command("save", from.image), e.command("load")); err != nil {
		return err
	}
	if from.image == image {
		return nil
	}
	if out, err := e.cli("tag", from.image, image); err != nil {
		return fmt.Errorf("%s tag %s %s: %w: %s", e.name, from.image, image, err, out)
	}
	return nil
}

// command is the engine's client with args, in the engine's environment.
func (e *engine) command(args ...string) *exec.Cmd {
	cmd := exec.Command(e.client, args...)
	cmd.Env = e.env
	return cmd
}

// pipe runs src with its output into dst and reports either's failure with
// what it wrote.
func pipe(src, dst *exec.Cmd) error {
	out, err := src.StdoutPipe()
	if err != nil {
		return err
	}
	dst.Stdin = out
	var srcErr strings.Builder
	src.Stderr = &srcErr
	if err := src.Start(); err != nil {
		return err
	}
	dstOut, dstErr := dst.CombinedOutput()
	if err := src.Wait(); err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(src.Args, " "), err, srcErr.String())
	}
	if dstErr != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(dst.Args, " "), dstErr, dstOut)
	}
	return nil
}

// hostFiles returns the programs (names looked up in PATH, or paths), the
// files their symlinks lead to and the shared libraries they load, as paths
// relative to /.
func hostFiles(programs []string) ([]string, error) {
	lib := regexp.MustCompile(`(/\S+)`)
	seen := map[string]bool{}
	// add records p and, when it is a symlink, what it leads to; every path
	// is taken through the usr-merge links (/lib/x is /usr/lib/x), so that
	// the archive never holds a file below one of those links.
	var add func(p string) error
	add = func(p string) error {
		dir, err := filepath.EvalSymlinks(filepath.Dir(p))
		if err != nil {
			return err
		}
		p = filepath.Join(dir, filepath.Base(p))
		seen[strings.TrimPrefix(p, "/")] = true
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			return nil
		}
		target, err := os.Readlink(p)
		if err != nil {
			return err
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(dir, target)
		}
		return add(target)
	}
	for _, prog := range programs {
		path := prog
		if !filepath.IsAbs(prog) {
			p, err := exec.LookPath(prog)
			if err != nil {
				return nil, fmt.Errorf("%s is not on this machine: %w", prog, err)
			}
			path = p
		}
		if err := add(path); err != nil {
			return nil, err
		}
		out, err := exec.Command("ldd", path).Output()
		if err != nil {
			continue // static: no libraries
		}
		for _, m := range lib.FindAllString(string(out), -1) {
			if err := add(m); err != nil {
				return nil, err
			}
		}
	}
	files := make([]string, 0, len(seen))
	for f := range seen {
		files = append(files, f)
	}
	slices.Sort(files)
	return files, nil
}
