package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/influxdata/telegraf/config"
	"github.com/stretchr/testify/require"
)

func TestUseHostEtcHostname(t *testing.T) {
	own, err := os.Hostname()
	require.NoError(t, err)
	const hostName = "build-host-7"

	tests := []struct {
		name     string
		agent    string // the [agent] table's lines
		hostFile string // content of $HOST_ETC/hostname; "-" for no file
		noEnv    bool
		want     string // the host tag; "" for none
		notice   string
	}{
		{name: "unset hostname", hostFile: hostName + "\n", want: hostName, notice: "I! Hostname \"" + hostName + "\""},
		{name: "empty hostname", agent: `hostname = ""`, hostFile: "  " + hostName + "  \n", want: hostName},
		{name: "hostname in the config wins", agent: `hostname = "from-config"`, hostFile: hostName, want: "from-config"},
		{name: "omit_hostname", agent: `omit_hostname = true`, hostFile: hostName, want: ""},
		{name: "no HOST_ETC", noEnv: true, want: own},
		{name: "no file", hostFile: "-", want: own, notice: "W! Not using the host's name from $HOST_ETC"},
		{name: "empty file", hostFile: "\n", want: own, notice: "is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			etc := t.TempDir()
			if tt.hostFile != "-" {
				require.NoError(t, os.WriteFile(filepath.Join(etc, "hostname"), []byte(tt.hostFile), 0o644))
			}
			if tt.noEnv {
				t.Setenv("HOST_ETC", "")
			} else {
				t.Setenv("HOST_ETC", etc)
			}
			c := config.NewConfig()
			require.NoError(t, c.LoadConfigData([]byte("[agent]\n"+tt.agent+"\n"), "test.conf"))
			notice := useHostEtcHostname(c)
			if tt.notice == "" {
				require.NotContains(t, notice, "W!")
			} else {
				require.Contains(t, notice, tt.notice)
			}
			if tt.want == "" {
				require.NotContains(t, c.Tags, "host")
				return
			}
			// The agent's hostname and the host tag every metric gets agree.
			require.Equal(t, tt.want, c.Tags["host"])
			require.Equal(t, tt.want, c.Agent.Hostname)
		})
	}
}

// Every metric the binary emits carries the host's name from $HOST_ETC.
func TestHostTagFromHostEtc(t *testing.T) {
	etc := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(etc, "hostname"), []byte("the-real-host\n"), 0o644))
	conf := filepath.Join(t.TempDir(), "test.conf")
	require.NoError(t, os.WriteFile(conf, []byte(
		"[[inputs.procblocking]]\n  patterns = [\"no-process-has-this-marker-0x11\"]\n"), 0o600))
	cmd := exec.Command(binPath, "--config", conf, "--test")
	cmd.Env = append(os.Environ(), "HOST_ETC="+etc)
	out, err := cmd.Output()
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	require.NotEmpty(t, lines)
	for _, l := range lines {
		require.Contains(t, l, ",host=the-real-host ", l)
	}
}
