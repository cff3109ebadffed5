// Package kubernetes holds the DaemonSet manifests of deploy/kubernetes/ and
// their tests: every manifest decodes strictly into the Kubernetes API types,
// the hardening holds, and the ConfigMap's Telegraf config loads and runs in
// the real binary.
package kubernetes

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/procblocking/procblocking/internal/testkit/deploytest"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// kustomization is the part of kustomize's Kustomization the manifests use;
// decoded strictly, anything else in the file fails the test.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace"`
	Resources  []string `json:"resources"`
}

func readManifests(t *testing.T) (kustomization, *corev1.Namespace, *corev1.ConfigMap, *appsv1.DaemonSet) {
	t.Helper()
	var k kustomization
	deploytest.DecodeFile(t, "kustomization.yaml", &k)
	require.Equal(t, "kustomize.config.k8s.io/v1beta1", k.APIVersion)
	require.Equal(t, "Kustomization", k.Kind)

	// Every manifest of the directory is a resource, and every resource is
	// here.
	files, err := filepath.Glob("*.yaml")
	require.NoError(t, err)
	files = slices.DeleteFunc(files, func(f string) bool { return f == "kustomization.yaml" })
	require.ElementsMatch(t, files, k.Resources)

	var ns corev1.Namespace
	var cm corev1.ConfigMap
	var ds appsv1.DaemonSet
	deploytest.DecodeFile(t, "namespace.yaml", &ns)
	deploytest.DecodeFile(t, "configmap.yaml", &cm)
	deploytest.DecodeFile(t, "daemonset.yaml", &ds)
	for _, m := range []struct{ apiVersion, kind, wantAPIVersion, wantKind string }{
		{ns.APIVersion, ns.Kind, "v1", "Namespace"},
		{cm.APIVersion, cm.Kind, "v1", "ConfigMap"},
		{ds.APIVersion, ds.Kind, "apps/v1", "DaemonSet"},
	} {
		require.Equal(t, m.wantAPIVersion, m.apiVersion, m.wantKind)
		require.Equal(t, m.wantKind, m.kind)
	}
	require.Equal(t, k.Namespace, ns.Name, "the kustomization's namespace is the one it creates")
	// Also right when applied without kustomize (kubectl apply -f).
	require.Equal(t, ns.Name, cm.Namespace, "the ConfigMap's namespace")
	require.Equal(t, ns.Name, ds.Namespace, "the DaemonSet's namespace")
	return k, &ns, &cm, &ds
}

func TestManifestsDecodeStrictly(t *testing.T) {
	readManifests(t)

	// The decoder itself refuses what a typo would produce.
	var ds appsv1.DaemonSet
	bad := []byte("apiVersion: apps/v1\nkind: DaemonSet\nspec:\n  template:\n    spec:\n      hostPid: true\n")
	require.ErrorContains(t, deploytest.UnmarshalStrict(bad, &ds), `unknown field "spec.template.spec.hostPid"`)
	dup := []byte("apiVersion: apps/v1\nkind: DaemonSet\nkind: DaemonSet\n")
	require.ErrorContains(t, deploytest.UnmarshalStrict(dup, &ds), `"kind" already set`)
}

func TestDaemonSetHardening(t *testing.T) {
	_, _, cm, ds := readManifests(t)
	pod := ds.Spec.Template.Spec

	require.Equal(t, ds.Spec.Selector.MatchLabels, ds.Spec.Template.Labels, "the selector selects the pods")
	require.Contains(t, pod.Tolerations, corev1.Toleration{Operator: corev1.TolerationOpExists}, "runs on every node, tainted or not")
	require.False(t, pod.HostPID, "hostPID: the host's /proc is mounted instead")
	require.False(t, pod.HostNetwork)
	require.False(t, pod.HostIPC)
	require.NotNil(t, pod.AutomountServiceAccountToken)
	require.False(t, *pod.AutomountServiceAccountToken, "no API token: the watchdog never talks to Kubernetes")
	require.NotNil(t, pod.SecurityContext)
	require.True(t, ptrTrue(pod.SecurityContext.RunAsNonRoot), "pod runAsNonRoot")
	require.Equal(t, int64(65532), deref(pod.SecurityContext.RunAsUser), "pod runAsUser")

	require.Len(t, pod.Containers, 1)
	c := pod.Containers[0]
	sc := c.SecurityContext
	require.NotNil(t, sc)
	require.True(t, ptrTrue(sc.RunAsNonRoot), "runAsNonRoot")
	require.Equal(t, int64(65532), deref(sc.RunAsUser), "runAsUser")
	require.Equal(t, int64(65532), deref(sc.RunAsGroup), "runAsGroup")
	require.True(t, ptrTrue(sc.ReadOnlyRootFilesystem), "readOnlyRootFilesystem")
	require.NotNil(t, sc.AllowPrivilegeEscalation)
	require.False(t, *sc.AllowPrivilegeEscalation, "allowPrivilegeEscalation")
	require.False(t, ptrTrue(sc.Privileged), "privileged")
	require.NotNil(t, sc.Capabilities)
	require.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop)
	require.Empty(t, sc.Capabilities.Add)

	// The one root container: it gives the state directory to uid 65532,
	// with CAP_CHOWN and nothing else, and exits.
	require.Len(t, pod.InitContainers, 1)
	ic := pod.InitContainers[0]
	require.Equal(t, []string{"chown", "65532:65532", "/var/lib/procblocking"}, ic.Command)
	require.NotNil(t, ic.SecurityContext)
	require.Equal(t, []corev1.Capability{"ALL"}, ic.SecurityContext.Capabilities.Drop)
	require.Equal(t, []corev1.Capability{"CHOWN"}, ic.SecurityContext.Capabilities.Add)
	require.False(t, *ic.SecurityContext.AllowPrivilegeEscalation)
	require.True(t, ptrTrue(ic.SecurityContext.ReadOnlyRootFilesystem))
	require.False(t, ptrTrue(ic.SecurityContext.Privileged))
	require.Equal(t, []string{"/var/lib/procblocking"}, mountPaths(ic.VolumeMounts))

	// Requests and limits, so that the scheduler reserves the watchdog's room
	// and a leak cannot take the node's memory.
	for _, ctr := range append([]corev1.Container{c}, ic) {
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, lim := ctr.Resources.Requests[r], ctr.Resources.Limits[r]
			require.False(t, req.IsZero(), "%s: %s request", ctr.Name, r)
			require.False(t, lim.IsZero(), "%s: %s limit", ctr.Name, r)
			require.LessOrEqual(t, req.Cmp(lim), 0, "%s: %s request above its limit", ctr.Name, r)
		}
	}

	// Environment: the node's name, the host's /proc, the token and chat from
	// the Secret, never a literal.
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	require.Equal(t, "spec.nodeName", env["NODE_NAME"].ValueFrom.FieldRef.FieldPath)
	for _, name := range []string{"TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID"} {
		require.Empty(t, env[name].Value, name)
		require.NotNil(t, env[name].ValueFrom, name)
		require.NotNil(t, env[name].ValueFrom.SecretKeyRef, "%s from a Secret", name)
	}
	require.NotEmpty(t, env["INFLUXDB_URL"].Value)

	// Volumes: the ConfigMap, the host's /proc read-only at HOST_PROC, the
	// state on the node.
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m
		require.Contains(t, volumes, m.Name, "mount of an undeclared volume")
	}
	procMount := mounts[env["HOST_PROC"].Value]
	require.True(t, procMount.ReadOnly, "HOST_PROC is a read-only mount")
	require.Equal(t, "/proc", volumes[procMount.Name].HostPath.Path)
	state := mounts["/var/lib/procblocking"]
	require.False(t, state.ReadOnly)
	require.NotNil(t, volumes[state.Name].HostPath, "the state is on the node: it outlives the pod")
	require.Equal(t, corev1.HostPathDirectoryOrCreate, *volumes[state.Name].HostPath.Type)
	config := mounts["/etc/telegraf"]
	require.True(t, config.ReadOnly)
	require.Equal(t, cm.Name, volumes[config.Name].ConfigMap.Name)
	require.Equal(t, []string{"--config", "/etc/telegraf/telegraf.conf"}, c.Args)
	require.Contains(t, cm.Data, "telegraf.conf")
}

// TestConfigMapStateLocations checks that everything the watchdog keeps is
// on the state volume, and that the node's name is the agent's hostname.
func TestConfigMapStateLocations(t *testing.T) {
	_, _, cm, _ := readManifests(t)
	conf := cm.Data["telegraf.conf"]
	require.Contains(t, conf, `hostname = "${NODE_NAME}"`)
	for _, key := range []string{"statefile", "buffer_directory", "state_file", "state_directory"} {
		m := regexp.MustCompile(`(?m)^\s*` + key + `\s*=\s*"([^"]*)"`).FindStringSubmatch(conf)
		require.NotNil(t, m, "%s is set", key)
		require.True(t, strings.HasPrefix(m[1], "/var/lib/procblocking/"), "%s = %q: not on the state volume", key, m[1])
	}
	require.Contains(t, conf, `buffer_strategy = "disk"`)
	require.NotContains(t, conf, "api.telegram.org/bot", "no token in the config")
}

func ptrTrue(b *bool) bool { return b != nil && *b }

func deref(i *int64) int64 {
	if i == nil {
		return -1
	}
	return *i
}

func mountPaths(ms []corev1.VolumeMount) []string {
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.MountPath)
	}
	return out
}
