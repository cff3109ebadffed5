package procblocking

import (
	"bytes"
	"strings"
)

// containerMarkers are the runtimes whose cgroup paths name a container.
var containerMarkers = []string{"docker", "containerd", "crio", "libpod", "kubepods"}

// idPrefixes are stripped from a path segment before it is checked for a
// 64-hex container id (systemd scope names of the runtimes).
var idPrefixes = []string{"docker-", "cri-containerd-", "crio-", "libpod-"}

// parseContainerID returns the container id found in the lines of
// /proc/<pid>/cgroup (v1 "id:controllers:path" or v2 "0::path"), or "" when
// the process is not in a docker, containerd, cri-o, podman or kubepods cgroup.
// Within a path the innermost id wins.
func parseContainerID(b []byte) string {
	for line := range bytes.Lines(b) {
		line = bytes.TrimSuffix(line, []byte("\n"))
		// The path is everything after the second ':' (it may hold ':' itself).
		first := bytes.IndexByte(line, ':')
		if first < 0 {
			continue
		}
		second := bytes.IndexByte(line[first+1:], ':')
		if second < 0 {
			continue
		}
		if id := containerIDFromPath(string(line[first+1+second+1:])); id != "" {
			return id
		}
	}
	return ""
}

func containerIDFromPath(path string) string {
	marked := false
	for _, m := range containerMarkers {
		if strings.Contains(path, m) {
			marked = true
			break
		}
	}
	if !marked {
		return ""
	}
	var id string
	for seg := range strings.SplitSeq(path, "/") {
		seg = strings.TrimSuffix(seg, ".scope")
		for _, p := range idPrefixes {
			if s, ok := strings.CutPrefix(seg, p); ok {
				seg = s
				break
			}
		}
		if isHex64(seg) {
			id = seg
		}
	}
	return id
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
