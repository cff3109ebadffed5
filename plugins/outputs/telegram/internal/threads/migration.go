package threads

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"

	"github.com/procblocking/procblocking/internal/atomicfile"
	"github.com/procblocking/procblocking/internal/botapi"
)

// migrationFileVersion is the format of chat.json.
const migrationFileVersion = 1

// migrationFile records that a group became a supergroup (Telegram's
// migrate_to_chat_id): the next start sends to the new id at once, and its
// threads (recorded under the new id) go on.
type migrationFile struct {
	Version int    `json:"version"`
	From    string `json:"from"`
	To      string `json:"to"`
}

// LoadMigration returns the chat that chatID became, or "" when it is not
// recorded (or path is "").
func LoadMigration(path, chatID string) (string, error) {
	if path == "" {
		return "", nil
	}
	data, err := atomicfile.Read(path, 4096)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	var m migrationFile
	if err := json.Unmarshal(data, &m); err != nil {
		return "", err
	}
	if m.Version != migrationFileVersion {
		return "", fmt.Errorf("format version %d, want %d", m.Version, migrationFileVersion)
	}
	if m.From != chatID || !botapi.ValidChatID(m.To) {
		return "", nil // another chat now: the configuration changed
	}
	return m.To, nil
}

// SaveMigration records that from became to.
func SaveMigration(path, from, to string) error {
	if path == "" {
		return nil
	}
	data, err := json.Marshal(migrationFile{Version: migrationFileVersion, From: from, To: to})
	if err != nil {
		return err
	}
	return atomicfile.Write(path, data)
}
