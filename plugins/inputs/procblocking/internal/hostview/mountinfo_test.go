package hostview

import (
	"testing"

	"github.com/stretchr/testify/require"
)

const mountinfoSample = `22 27 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:13 - proc proc rw
27 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro
45 27 0:39 / /host/proc ro,relatime - proc proc rw,gid=4242,hidepid=invisible
46 27 0:40 / /tmp rw,nosuid,nodev shared:20 - tmpfs tmpfs rw
47 46 0:41 / /tmp/my\040proc rw,relatime - proc proc rw,hidepid=2
48 22 0:42 / /proc rw,relatime - proc proc rw,hidepid=noaccess
`

func TestFindMount(t *testing.T) {
	tests := []struct {
		path string
		want procMount
	}{
		// The later of two mounts on one point is the one on top.
		{"/proc", procMount{mountPoint: "/proc", fsType: "proc", hidepid: "noaccess", gid: -1}},
		{"/host/proc", procMount{mountPoint: "/host/proc", fsType: "proc", hidepid: "invisible", gid: 4242}},
		{"/tmp/my proc", procMount{mountPoint: "/tmp/my proc", fsType: "proc", hidepid: "2", gid: -1}},
		{"/tmp/x/proc", procMount{mountPoint: "/tmp", fsType: "tmpfs", gid: -1}},
		{"/host/procfs", procMount{mountPoint: "/", fsType: "ext4", gid: -1}},
		{"/srv/", procMount{mountPoint: "/", fsType: "ext4", gid: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got, err := findMount([]byte(mountinfoSample), tt.path)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestMountHidepid(t *testing.T) {
	for value, hides := range map[string]bool{"": false, "0": false, "off": false, "1": true, "noaccess": true, "2": true, "invisible": true, "4": true, "ptraceable": true} {
		require.Equal(t, hides, procMount{hidepid: value}.hidesProcesses(), value)
	}
	require.True(t, procMount{hidepid: "ptraceable"}.ptraceableOnly())
	require.True(t, procMount{hidepid: "4"}.ptraceableOnly())
	require.False(t, procMount{hidepid: "2"}.ptraceableOnly())
}

func TestParseMountinfoErrors(t *testing.T) {
	for name, line := range map[string]string{
		"empty":           "",
		"short":           "22 27 0:21 / /proc",
		"no separator":    "22 27 0:21 / /proc rw shared:13 proc proc rw",
		"nothing after -": "22 27 0:21 / /proc rw -",
		"relative point":  "22 27 0:21 / proc rw - proc proc rw",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parseMountinfoLine([]byte(line))
			require.Error(t, err)
		})
	}
	_, err := findMount([]byte("22 27 0:21 / /proc rw - proc proc rw\n"), "/srv")
	require.ErrorContains(t, err, "no mount holds /srv")
}
