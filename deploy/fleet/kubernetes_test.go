package fleet

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/procblocking/procblocking/internal/testkit/deploytest"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// The kustomize overlay of deploy/kubernetes/ (kustomization.yaml here):
// its manifests decode strictly into the Kubernetes API types, and, where
// kubectl is installed, `kubectl kustomize` renders the fleet as intended.

type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace"`
	Resources  []string `json:"resources"`
	Patches    []struct {
		Path string `json:"path"`
	} `json:"patches"`
	ConfigMapGenerator []struct {
		Name      string   `json:"name"`
		Namespace string   `json:"namespace"`
		Behavior  string   `json:"behavior"`
		Files     []string `json:"files"`
	} `json:"configMapGenerator"`
}

func envOf(c corev1.Container) map[string]corev1.EnvVar {
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	return env
}

func TestKustomization(t *testing.T) {
	var k kustomization
	deploytest.DecodeFile(t, "kustomization.yaml", &k)
	require.Equal(t, "procblocking", k.Namespace)
	require.Equal(t, []string{"../kubernetes", "alerter.yaml"}, k.Resources)
	require.Len(t, k.Patches, 1)
	require.Len(t, k.ConfigMapGenerator, 2)
	// The nodes run node.conf under the base's ConfigMap name; the alerter
	// alerter.conf: the files of this directory, which the other tests run.
	var base corev1.ConfigMap
	deploytest.DecodeFile(t, "../kubernetes/configmap.yaml", &base)
	nodeCM, alerterCM := k.ConfigMapGenerator[0], k.ConfigMapGenerator[1]
	require.Equal(t, base.Name, nodeCM.Name)
	require.Equal(t, "replace", nodeCM.Behavior)
	require.Equal(t, []string{"telegraf.conf=node.conf"}, nodeCM.Files)
	require.Equal(t, "procblocking-alerter-config", alerterCM.Name)
	require.Equal(t, []string{"alerter.conf"}, alerterCM.Files)
	for _, g := range k.ConfigMapGenerator {
		require.Equal(t, k.Namespace, g.Namespace, "a generator without the namespace does not find the base's ConfigMap")
	}

	// The patch: the node publishes to NATS and holds no bot token.
	data, err := os.ReadFile(k.Patches[0].Path)
	require.NoError(t, err)
	var patch struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Spec struct {
			Template struct {
				Spec struct {
					Containers []struct {
						Name string           `json:"name"`
						Env  []map[string]any `json:"env"`
					} `json:"containers"`
				} `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
	}
	require.NoError(t, yaml.Unmarshal(data, &patch))
	var ds appsv1.DaemonSet
	deploytest.DecodeFile(t, "../kubernetes/daemonset.yaml", &ds)
	require.Equal(t, "DaemonSet", patch.Kind)
	require.Equal(t, ds.Name, patch.Metadata.Name)
	require.Len(t, patch.Spec.Template.Spec.Containers, 1)
	require.Equal(t, ds.Spec.Template.Spec.Containers[0].Name, patch.Spec.Template.Spec.Containers[0].Name)
	deleted, set := map[string]bool{}, map[string]any{}
	for _, e := range patch.Spec.Template.Spec.Containers[0].Env {
		name, _ := e["name"].(string)
		if e["$patch"] == "delete" {
			deleted[name] = true
		} else {
			set[name] = e["value"]
		}
	}
	require.Equal(t, map[string]bool{"TELEGRAM_BOT_TOKEN": true, "TELEGRAM_CHAT_ID": true, "INFLUXDB_URL": true}, deleted)
	require.Equal(t, "/var/lib/procblocking", set["PROCBLOCKING_STATE_DIR"])
	require.Regexp(t, `^nats://`, set["NATS_URL"])
}

func TestAlerterStatefulSet(t *testing.T) {
	var sts appsv1.StatefulSet
	deploytest.DecodeFile(t, "alerter.yaml", &sts)
	require.Equal(t, "apps/v1", sts.APIVersion)
	require.Equal(t, "StatefulSet", sts.Kind)
	require.Equal(t, "procblocking", sts.Namespace)
	require.NotNil(t, sts.Spec.Replicas)
	require.Equal(t, int32(1), *sts.Spec.Replicas, "exactly one alerter")
	require.Equal(t, sts.Spec.Selector.MatchLabels, sts.Spec.Template.Labels)

	pod := sts.Spec.Template.Spec
	require.False(t, pod.HostPID)
	require.False(t, pod.HostNetwork)
	require.NotNil(t, pod.AutomountServiceAccountToken)
	require.False(t, *pod.AutomountServiceAccountToken)
	require.NotNil(t, pod.SecurityContext)
	require.NotNil(t, pod.SecurityContext.FSGroup, "the volume writable by the alerter")
	require.Equal(t, int64(65532), *pod.SecurityContext.FSGroup)
	for _, v := range pod.Volumes {
		require.Nil(t, v.HostPath, "the alerter needs nothing of its node: %s", v.Name)
	}

	require.Len(t, pod.Containers, 1)
	c := pod.Containers[0]
	sc := c.SecurityContext
	require.NotNil(t, sc)
	require.True(t, *sc.RunAsNonRoot)
	require.Equal(t, int64(65532), *sc.RunAsUser)
	require.True(t, *sc.ReadOnlyRootFilesystem)
	require.False(t, *sc.AllowPrivilegeEscalation)
	require.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop)
	require.Equal(t, []string{"--config", "/etc/telegraf/alerter.conf"}, c.Args)
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, lim := c.Resources.Requests[r], c.Resources.Limits[r]
		require.False(t, req.IsZero(), "%s request", r)
		require.LessOrEqual(t, req.Cmp(lim), 0, "%s request above its limit", r)
	}

	env := envOf(c)
	for _, name := range []string{"TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID"} {
		require.Empty(t, env[name].Value, name)
		require.NotNil(t, env[name].ValueFrom.SecretKeyRef, "%s from the Secret", name)
	}
	var patchEnv struct {
		Spec struct {
			Template struct {
				Spec struct {
					Containers []struct {
						Env []struct {
							Name  string `json:"name"`
							Value string `json:"value"`
						} `json:"env"`
					} `json:"containers"`
				} `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
	}
	data, err := os.ReadFile("node-patch.yaml")
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(data, &patchEnv))
	for _, e := range patchEnv.Spec.Template.Spec.Containers[0].Env {
		if e.Name == "NATS_URL" {
			require.Equal(t, e.Value, env["NATS_URL"].Value, "nodes and alerter on the same NATS")
		}
	}

	// The state on the claimed volume at PROCBLOCKING_STATE_DIR; the config
	// from the generated ConfigMap.
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m
	}
	state := mounts[env["PROCBLOCKING_STATE_DIR"].Value]
	require.Len(t, sts.Spec.VolumeClaimTemplates, 1)
	require.Equal(t, sts.Spec.VolumeClaimTemplates[0].Name, state.Name, "the state is on the StatefulSet's volume")
	require.False(t, state.ReadOnly)
	config := mounts["/etc/telegraf"]
	require.True(t, config.ReadOnly)
	var cmName string
	for _, v := range pod.Volumes {
		if v.Name == config.Name {
			cmName = v.ConfigMap.Name
		}
	}
	require.Equal(t, "procblocking-alerter-config", cmName)
}

// TestKustomizeRenders renders the overlay with kubectl's kustomize: the
// base's DaemonSet runs node.conf without the bot token, and the alerter
// alerter.conf, byte for byte.
func TestKustomizeRenders(t *testing.T) {
	if _, err := exec.LookPath("kubectl"); err != nil {
		t.Skip("kubectl is not installed: the overlay is checked by the other tests only")
	}
	out, err := exec.Command("kubectl", "kustomize", ".").Output()
	require.NoError(t, err)
	node, err := os.ReadFile("node.conf")
	require.NoError(t, err)
	alerter, err := os.ReadFile("alerter.conf")
	require.NoError(t, err)

	kinds := map[string]int{}
	configs := map[string]string{}
	var ds appsv1.DaemonSet
	var sts appsv1.StatefulSet
	for _, doc := range bytes.Split(out, []byte("\n---\n")) {
		var meta struct {
			Kind string `json:"kind"`
		}
		require.NoError(t, yaml.Unmarshal(doc, &meta))
		kinds[meta.Kind]++
		switch meta.Kind {
		case "ConfigMap":
			var cm corev1.ConfigMap
			require.NoError(t, deploytest.UnmarshalStrict(doc, &cm))
			for key, v := range cm.Data {
				configs[cm.Name+"/"+key] = v
			}
		case "DaemonSet":
			require.NoError(t, deploytest.UnmarshalStrict(doc, &ds))
		case "StatefulSet":
			require.NoError(t, deploytest.UnmarshalStrict(doc, &sts))
		}
	}
	require.Equal(t, map[string]int{"Namespace": 1, "ConfigMap": 2, "DaemonSet": 1, "StatefulSet": 1}, kinds)
	require.Equal(t, string(node), configs["procblocking-config/telegraf.conf"])

	env := envOf(ds.Spec.Template.Spec.Containers[0])
	require.NotContains(t, env, "TELEGRAM_BOT_TOKEN")
	require.NotContains(t, env, "TELEGRAM_CHAT_ID")
	require.Contains(t, env, "NATS_URL")
	require.Equal(t, "spec.nodeName", env["NODE_NAME"].ValueFrom.FieldRef.FieldPath)

	var alerterCM string
	for _, v := range sts.Spec.Template.Spec.Volumes {
		if v.ConfigMap != nil {
			alerterCM = v.ConfigMap.Name
		}
	}
	require.True(t, strings.HasPrefix(alerterCM, "procblocking-alerter-config-"), "the generated name, with its hash: %s", alerterCM)
	require.Equal(t, string(alerter), configs[alerterCM+"/alerter.conf"])
}
