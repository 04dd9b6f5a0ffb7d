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

// A secret the provider keeps by hash (a write-only attribute whose version
// did not change) stays as the host has it: not sent, not replaced by the
// value given beside it, and the release id is the one of the host's files.
// A copy that no longer matches (changed by hand) gets the given value;
// without one the install fails before anything is staged.
func TestInstallKeepsTheHostsCopy(t *testing.T) {
	h := newHost(t)
	c, _ := h.client()
	ctx := context.Background()
	old := randomSecret()
	hb := hub{owner: "root", edge: "listen: :443\n", config: "c.JupyterHub.cookie_secret_file = 'x'\n", secret: old}
	first, err := c.Install(ctx, hb.release())
	if err != nil {
		t.Fatal(err)
	}
	keep := func(content []byte, sha string) Release {
		r := hb.release()
		r.Files[3].Content, r.Files[3].Keep = content, sha
		return r
	}
	oldSHA := contentSHA(old)

	newer := randomSecret()
	res, err := c.Install(ctx, keep(newer, oldSHA))
	if err != nil {
		t.Fatal(err)
	}
	if res.Changed || res.ReleaseID != first.ReleaseID || len(res.Kept) != 1 || res.Kept[0] != cookiePath {
		t.Fatalf("kept copy: want an unchanged release %s with %s kept, got %+v", first.ReleaseID, cookiePath, res)
	}
	h.assertFile(cookiePath, string(old), 0o600, "root")
	st, err := c.State(ctx, []string{cookiePath}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Matches(keep(nil, oldSHA).Files[3]) || st.Matches(keep(nil, contentSHA(newer)).Files[3]) {
		t.Errorf("State.Matches does not compare a kept file by its hash: %+v", st.Files[cookiePath])
	}

	// Another change in the same release: the kept copy is staged from the host.
	r := keep(newer, oldSHA)
	r.Files[1].Content = []byte("listen: :8443\n")
	res, err = c.Install(ctx, r)
	if err != nil || !res.Changed || len(res.Kept) != 1 || res.SentBytes >= int64(len(newer)) {
		t.Fatalf("a release with a kept file: %+v %v", res, err)
	}
	h.assertFile(cookiePath, string(old), 0o600, "root")

	// Changed by hand: the given value replaces it.
	mustWrite(t, h.Root+cookiePath, "tampered", 0o600)
	res, err = c.Install(ctx, r)
	if err != nil || len(res.Kept) != 0 {
		t.Fatalf("a tampered kept file: %+v %v", res, err)
	}
	h.assertFile(cookiePath, string(newer), 0o600, "root")

	// Nothing to fall back on: refused, the release stays.
	cur := h.current()
	_, err = c.Install(ctx, keep(nil, oldSHA))
	if se := stepOf(t, err); se.Step != "inspect" || !strings.Contains(err.Error(), cookiePath) {
		t.Fatalf("want step inspect naming %s, got %v", cookiePath, err)
	}
	if h.current() != cur {
		t.Errorf("a refused install switched the release: %s -> %s", cur, h.current())
	}
	checkNoSecret(t, "error", err.Error(), old)
	checkNoSecret(t, "error", err.Error(), newer)
}
