package procblocking

import (
	"fmt"

	"github.com/procblocking/procblocking/internal/textutil"
	"github.com/procblocking/procblocking/plugins/inputs/procblocking/internal/redact"
)

// cmdlineRenderer turns a matched process's /proc/<pid>/cmdline into the
// reported field. One renderer serves one goroutine (the redactor keeps a
// scratch buffer).
type cmdlineRenderer struct {
	redactor  *redact.Redactor
	maxLength int
}

func newCmdlineRenderer(custom []string, maxLength int) (*cmdlineRenderer, error) {
	if maxLength < 16 {
		return nil, fmt.Errorf("invalid 'cmdline_max_length' \"%d\": want at least 16", maxLength)
	}
	r, err := redact.New(custom)
	if err != nil {
		return nil, err
	}
	return &cmdlineRenderer{redactor: r, maxLength: maxLength}, nil
}

// render joins the raw bytes, makes them valid UTF-8, redacts, then cuts to
// the length on a character boundary: redacting first, so that a cut cannot
// leave the head of a secret that no rule then recognises.
func (r *cmdlineRenderer) render(raw []byte) string {
	return textutil.Truncate(r.redactor.Redact(joinCmdline(raw)), r.maxLength)
}
