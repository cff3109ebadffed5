package container

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/botapitest"
)

// TestComposeSecretsVariant brings up docker-compose.yml with
// deploy/compose/secrets.yml: the token comes from a docker secret (a file
// readable by uid 65532) and an alert goes out with it, while the
// container's environment holds only a reference to it.
func TestComposeSecretsVariant(t *testing.T) {
	t.Parallel()
	s := env(t)
	logf := stepLogger(t)
	secret := filepath.Join(t.TempDir(), "telegram_bot_token")
	require.NoError(t, os.WriteFile(secret, []byte(botToken), 0o400))
	require.NoError(t, os.Chown(secret, 65532, 65532))
	// Test-only: the secret's file from the test's directory rather than the
	// project's.
	st := s.newStack(t, []string{"deploy/compose/secrets.yml"},
		"secrets:\n  telegram_bot_token:\n    file: "+secret+"\n")
	// The token is not in the environment of any compose command.
	st.upEnv = slices.DeleteFunc(st.upEnv, func(kv string) bool { return strings.HasPrefix(kv, "TELEGRAM_BOT_TOKEN=") })
	require.NotContains(t, strings.Join(st.upEnv, " "), botToken)

	st.up(t)
	id := st.watchdog(t)
	logf("stack up with the secret, watchdog %.12s", id)
	containerEnv := st.inspect(t, id, `{{range .Config.Env}}{{println .}}{{end}}`)
	require.NotContains(t, containerEnv, botToken, "the token in the container's environment")
	require.Contains(t, containerEnv, "TELEGRAM_BOT_TOKEN=@{docker_secrets:telegram_bot_token}")

	msgs := st.awaitMessages(t, 1, "the alert sent with the secret's token")
	require.Equal(t, []string{"alert"}, botapitest.EventKinds(msgs))
	require.Contains(t, msgs[0].Text, st.job.pattern)
	logf("alert delivered")
	require.NotContains(t, st.logs(t), botToken, "the token in the watchdog's log")
}
