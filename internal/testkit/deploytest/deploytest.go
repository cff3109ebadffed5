// Package deploytest reads the project's deployment files for tests: the
// compose files, as far as their rules are checked, and Kubernetes
// manifests decoded strictly, as the API server decodes them.
package deploytest

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	yamlv3 "go.yaml.in/yaml/v3"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// ComposeService is the part of a compose service the tests check.
type ComposeService struct {
	Build       map[string]any    `yaml:"build"`
	Image       string            `yaml:"image"`
	Pid         string            `yaml:"pid"`
	Uts         string            `yaml:"uts"`
	Hostname    string            `yaml:"hostname"`
	ReadOnly    bool              `yaml:"read_only"`
	CapDrop     []string          `yaml:"cap_drop"`
	CapAdd      []string          `yaml:"cap_add"`
	Privileged  bool              `yaml:"privileged"`
	SecurityOpt []string          `yaml:"security_opt"`
	User        string            `yaml:"user"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	Secrets     []string          `yaml:"secrets"`
	DependsOn   []string          `yaml:"depends_on"`
}

// ComposeFile is the part of a compose file the tests check.
type ComposeFile struct {
	Services map[string]ComposeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
	Secrets  map[string]struct {
		File string `yaml:"file"`
	} `yaml:"secrets"`
}

// LoadCompose reads the compose file at path; keys the tests do not check
// are ignored (compose itself checks them: docker-compose config).
func LoadCompose(path string) (ComposeFile, error) {
	var cf ComposeFile
	data, err := os.ReadFile(path)
	if err != nil {
		return cf, err
	}
	if err := yamlv3.Unmarshal(data, &cf); err != nil {
		return cf, fmt.Errorf("%s: %w", path, err)
	}
	return cf, nil
}

// ReadCompose is LoadCompose for a test, which fails on an error.
func ReadCompose(t testing.TB, path string) ComposeFile {
	t.Helper()
	cf, err := LoadCompose(path)
	require.NoError(t, err)
	return cf
}

// Mounted returns the source the service mounts at target, and whether it
// mounts anything there.
func (s ComposeService) Mounted(target string) (string, bool) {
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && parts[1] == target {
			return parts[0], true
		}
	}
	return "", false
}

// UnmarshalStrict decodes one YAML document into out as the API server
// does: keys match field names case-sensitively, and an unknown (misspelt,
// misplaced) or duplicate key is an error. encoding/json alone, and so
// yaml.UnmarshalStrict, would take `hostPid` for `hostPID`.
func UnmarshalStrict(data []byte, out any) error {
	j, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return err
	}
	strictErrs, err := kjson.UnmarshalStrict(j, out, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		return err
	}
	return errors.Join(strictErrs...)
}

// DecodeFile decodes the manifest in file strictly into out. The file must
// hold one document: YAMLToJSON reads the first only, and a second would be
// silently ignored.
func DecodeFile(t testing.TB, file string, out any) {
	t.Helper()
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	require.NotRegexp(t, `(?m)^---`, string(data), "%s: one document per file", file)
	require.NoError(t, UnmarshalStrict(data, out), file)
}
