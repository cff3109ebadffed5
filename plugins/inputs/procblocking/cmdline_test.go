package procblocking

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestRenderRedactsBeforeTruncating(t *testing.T) {
	r, err := newCmdlineRenderer(nil, 20)
	require.NoError(t, err)
	// Cut first, the secret's head would survive: "x --token=hunter2hun".
	require.Equal(t, "x --token=*** y", r.render([]byte("x\x00--token=hunter2hunter2\x00y\x00")))
}

func TestRenderLongCmdline(t *testing.T) {
	r, err := newCmdlineRenderer(nil, 512)
	require.NoError(t, err)
	raw := []byte("python3\x00-m\x00pytest\x00" + strings.Repeat("tests/test_é.py\x00", 100_000/len("tests/test_é.py ")+1))
	require.Greater(t, len(raw), 100_000)
	got := r.render(raw)
	require.Equal(t, 512, utf8.RuneCountInString(got))
	require.True(t, utf8.ValidString(got))
	require.True(t, strings.HasPrefix(got, "python3 -m pytest tests/test_é.py tests/"))
}

func TestRenderCutsOnCharacterBoundary(t *testing.T) {
	r, err := newCmdlineRenderer(nil, 16)
	require.NoError(t, err)
	got := r.render([]byte(strings.Repeat("日本", 20)))
	require.Equal(t, strings.Repeat("日本", 7)+"日…", got)
}

func TestRenderNonUTF8(t *testing.T) {
	r, err := newCmdlineRenderer(nil, 512)
	require.NoError(t, err)
	got := r.render([]byte("py\xfftest\x00--token=\xfe\xff\x00\xc3\x00"))
	require.True(t, utf8.ValidString(got))
	require.Equal(t, "py\uFFFDtest --token=*** \uFFFD", got)
}

// What rendering one matched command line costs, with and without a secret:
// a command line without any rule's hint runs no regex.
func BenchmarkRender(b *testing.B) {
	for name, raw := range map[string]string{
		"no-hint": "python3\x00-m\x00pytest\x00tests/t_1.py\x00",
		"plain":   "python3\x00-m\x00pytest\x00tests/test_api.py\x00-x\x00",
		"secret":  "python3\x00-m\x00pytest\x00tests/test_api.py\x00--token=ghp_0123456789abcdefghijABCDEFGHIJ012345\x00",
	} {
		b.Run(name, func(b *testing.B) {
			r, err := newCmdlineRenderer(nil, 512)
			require.NoError(b, err)
			b.ReportAllocs()
			for b.Loop() {
				_ = r.render([]byte(raw))
			}
		})
	}
}
