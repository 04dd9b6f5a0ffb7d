// Package opusers gives tests the accounts of zitadel's example OpenID
// provider (its storage package), which reads them only from a file.
package opusers

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/zitadel/oidc/v3/example/server/storage"
)

// Store holds users for the example OP. The OP finds a code's user by ID,
// so the file is keyed by each user's ID.
func Store(t *testing.T, users ...*storage.User) storage.UserStore {
	t.Helper()
	byID := map[string]*storage.User{}
	for _, u := range users {
		byID[u.ID] = u
	}
	b, err := json.Marshal(byID)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "users.json")
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	us, err := storage.StoreFromFile(f)
	if err != nil {
		t.Fatal(err)
	}
	return us
}
