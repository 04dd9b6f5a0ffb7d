package installer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// A secret reaches the host only inside the tar stream: no command line, no
// log line and no error carries it, even when a validator or a health check
// prints it.
func TestSecretsNeverInCommandsLogsOrErrors(t *testing.T) {
	h := newHost(t)
	c, cmds := h.client()
	ctx := context.Background()
	secret := randomSecret()
	hb := hub{owner: "root", edge: "listen: :443\n", config: "c.JupyterHub.cookie_secret_file = 'x'\n", secret: secret}

	if _, err := c.Install(ctx, hb.release()); err != nil {
		t.Fatal(err)
	}
	h.assertFile(cookiePath, string(secret), 0o600, "root")

	// A validator that prints the secret file to stderr and fails.
	r := hb.release()
	r.Files[1].Content = []byte("listen: :8443\n")
	r.Validate = append(r.Validate, "echo leaked: >&2; cat {{release}}/secrets/cookie_secret >&2; exit 1")
	_, err := c.Install(ctx, r)
	if err == nil || !strings.Contains(err.Error(), "leaked:\n[redacted]") {
		t.Fatalf("want the validator's output with the secret redacted, got %v", err)
	}
	checkNoSecret(t, "validate error", err.Error(), secret)

	// A health check whose error quotes the secret.
	r = hb.release()
	r.Files[1].Content = []byte("listen: :9443\n")
	r.Health = func(context.Context) error { return errors.New("hub said: " + string(secret)) }
	_, err = c.Install(ctx, r)
	if se := stepOf(t, err); se.Step != "health" {
		t.Fatal(err)
	}
	checkNoSecret(t, "health error", err.Error(), secret)

	// A rotated secret: the change restarts JupyterHub, still without the
	// secret on any command line.
	hb.secret = randomSecret()
	res, err := c.Install(ctx, hb.release())
	if err != nil || len(res.Restarted) != 1 || res.Restarted[0] != hubSvc {
		t.Fatalf("%+v %v", res, err)
	}
	st, err := c.State(ctx, []string{cookiePath}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range [][]byte{secret, hb.secret} {
		checkNoSecret(t, "commands", cmds.String(), s)
		checkNoSecret(t, "sshd log", h.log(), s)
		checkNoSecret(t, "state", fmt.Sprintf("%+v", st.Files[cookiePath]), s)
	}
	if !strings.Contains(cmds.String(), "tar -x") {
		t.Fatalf("the command log is not the installer's (no tar -x in it):\n%s", cmds)
	}
}

func checkNoSecret(t *testing.T, where, text string, secret []byte) {
	t.Helper()
	if bytes.Contains([]byte(text), secret) || strings.Contains(text, string(secret[:16])) {
		t.Errorf("the secret appears in the %s:\n%s", where, text)
	}
}
