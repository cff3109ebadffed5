package container

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// TestDaemonSetPod runs the pod of deploy/kubernetes/daemonset.yaml, as a
// node would, with `podman kube play` (which plays Pods, not DaemonSets): the
// init container gives the state directory to uid 65532, the watchdog runs
// hardened as the manifest says, scans the node's processes through the
// hostPath /proc, tags them with NODE_NAME and writes them to InfluxDB, and
// keeps its state in the hostPath directory.
//
// What differs from a kubelet's pod, because podman cannot do it or the test
// must not: NODE_NAME is given as a value (podman does not resolve the
// spec.nodeName field), the state hostPath is a temporary directory instead
// of the host's /var/lib/procblocking, INFLUXDB_URL names an InfluxDB the
// test runs, and the Secret is a podman secret.
func TestDaemonSetPod(t *testing.T) {
	t.Parallel()
	s := env(t)
	logf := stepLogger(t)
	m := marker(t)
	node := "node-" + m
	dir := t.TempDir()

	var ds appsv1.DaemonSet
	data, err := os.ReadFile(filepath.Join(repoRoot, "deploy/kubernetes/daemonset.yaml"))
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(data, &ds))
	spec := ds.Spec.Template.Spec.DeepCopy()
	require.Len(t, spec.InitContainers, 1)
	require.NoError(t, s.standInBusybox(spec.InitContainers[0].Image))

	// An InfluxDB on the test network, under a name the pod resolves.
	influxImage, err := composeImage(filepath.Join(repoRoot, "docker-compose.yml"), "influxdb")
	require.NoError(t, err)
	port := freePort(t)
	net := s.network(t)
	out, err := s.cli("run", "--detach", "--name", "influx-"+m, "--network", net.name,
		"--publish", fmt.Sprintf("127.0.0.1:%d:8086", port), influxImage)
	require.NoError(t, err, out)
	t.Cleanup(func() { s.removePodmanObject(t, "container", "influx-"+m) })
	db := influx{url: fmt.Sprintf("http://127.0.0.1:%d", port)}
	logf("stood in %s, InfluxDB started", spec.InitContainers[0].Image)

	state := filepath.Join(dir, "state") // created by podman, owned by root, as a kubelet does
	c := &spec.Containers[0]
	for i, e := range c.Env {
		switch e.Name {
		case "NODE_NAME":
			require.Equal(t, "spec.nodeName", e.ValueFrom.FieldRef.FieldPath)
			c.Env[i] = corev1.EnvVar{Name: e.Name, Value: node}
		case "INFLUXDB_URL":
			c.Env[i].Value = "http://influx-" + m + ":8086"
		}
	}
	for i, v := range spec.Volumes {
		if v.HostPath != nil && v.HostPath.Path == "/var/lib/procblocking" {
			spec.Volumes[i].HostPath.Path = state
		}
	}
	pod := corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name:   "procblocking-" + m,
			Labels: ds.Spec.Template.Labels,
			// podman removes a "once" init container after it ran, and 4.3
			// may try before the container's state says it exited
			// (podman#18477): "always" keeps it, it runs first all the same.
			Annotations: map[string]string{"io.podman.annotations.init.container.type": "always"},
		},
		Spec: *spec,
	}
	podYAML, err := yaml.Marshal(pod)
	require.NoError(t, err)
	podFile := filepath.Join(dir, "pod.yaml")
	require.NoError(t, os.WriteFile(podFile, podYAML, 0o600))

	// The Secret the manifest refers to, as podman keeps it: a JSON object of
	// base64 values under the Secret's name.
	var secretName string
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			secretName = e.ValueFrom.SecretKeyRef.Name
		}
	}
	secret, err := json.Marshal(map[string][]byte{"bot-token": []byte(botToken), "chat-id": []byte(chatID)})
	require.NoError(t, err)
	secretFile := filepath.Join(dir, "secret.json")
	require.NoError(t, os.WriteFile(secretFile, secret, 0o600))
	out, err = s.cli("secret", "create", secretName, secretFile)
	require.NoError(t, err, out)
	t.Cleanup(func() { _, _ = s.cli("secret", "rm", secretName) })

	// The ConfigMap with a one-second interval, so that the first scan comes
	// at once (TestConfigMapRunsInTheBinary runs it as shipped).
	var cm corev1.ConfigMap
	data, err = os.ReadFile(filepath.Join(repoRoot, "deploy/kubernetes/configmap.yaml"))
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(data, &cm))
	conf := cm.Data["telegraf.conf"]
	for _, interval := range []string{"interval", "flush_interval"} {
		re := regexp.MustCompile(`(?m)^(\s*` + interval + ` = )"[^"]*"`)
		require.Regexp(t, re, conf)
		conf = re.ReplaceAllString(conf, `$1"1s"`)
	}
	cm.Data["telegraf.conf"] = conf
	cmYAML, err := yaml.Marshal(cm)
	require.NoError(t, err)
	cmFile := filepath.Join(dir, "configmap.yaml")
	require.NoError(t, os.WriteFile(cmFile, cmYAML, 0o600))

	t.Cleanup(func() { s.removePodmanObject(t, "pod", pod.Name) })
	logf("playing pod %s", pod.Name)
	out, err = s.cli("kube", "play", "--network", net.name, "--configmap", cmFile, podFile)
	require.NoError(t, err, out)
	watchdog := pod.Name + "-" + c.Name
	logf("pod started")

	var scan []row
	waitFor(t, 120*time.Second, "the pod's first scan in InfluxDB", func() bool {
		scan, _ = db.query(fmt.Sprintf(`SELECT "processes", "ok", "host_view" FROM "procblocking_scan" WHERE "host" = '%s' LIMIT 1`, node))
		if len(scan) == 0 {
			if status, _ := s.cli("inspect", "--format", "{{.State.Status}}", watchdog); strings.TrimSpace(status) == "exited" {
				logs, _ := s.cli("logs", watchdog)
				t.Fatalf("the watchdog exited:\n%s", logs)
			}
		}
		return len(scan) > 0
	})
	logf("first scan in InfluxDB: %v processes", scan[0]["processes"])
	require.Equal(t, true, scan[0]["ok"])
	// The node's processes through the hostPath /proc, from a pod in its own
	// PID namespace (checked below): the scanner knows it sees the host's
	// initial PID namespace, whatever the number of processes at the time.
	require.Equal(t, true, scan[0]["host_view"], "the node's processes through the hostPath /proc")

	// The init container ran and gave the directory away; the watchdog
	// writes there.
	fi, err := os.Stat(state)
	require.NoError(t, err)
	require.Equal(t, uint32(65532), fi.Sys().(*syscall.Stat_t).Uid, "state directory owner")
	_, err = os.Stat(filepath.Join(state, "buffer"))
	require.NoError(t, err, "the disk buffer on the state volume")

	pidOut, err := s.cli("inspect", "--format", "{{.State.Pid}}", watchdog)
	require.NoError(t, err, pidOut)
	pid, err := strconv.Atoi(strings.TrimSpace(pidOut))
	require.NoError(t, err)
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	require.Regexp(t, `(?m)^Uid:\s+65532\s+65532\s+65532\s+65532$`, string(status))
	require.Regexp(t, `(?m)^CapEff:\s+0+$`, string(status))
	require.Regexp(t, `(?m)^NoNewPrivs:\s+1$`, string(status))
	require.Equal(t, "true", strings.TrimSpace(mustPodman(t, s, "inspect", "--format", "{{.HostConfig.ReadonlyRootfs}}", watchdog)))
	own, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
	require.NoError(t, err)
	hostNS, err := os.Readlink("/proc/self/ns/pid")
	require.NoError(t, err)
	require.NotEqual(t, hostNS, own, "the pod has its own PID namespace (no hostPID)")
	rss := regexp.MustCompile(`(?m)^VmRSS:\s+(.*)$`).FindStringSubmatch(string(status))
	logf("watchdog in the pod: RSS %s", rss[1])
}

func mustPodman(t *testing.T, s *testEnv, args ...string) string {
	t.Helper()
	out, err := s.cli(args...)
	require.NoError(t, err, out)
	return out
}
