package provider

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/classhub/terraform-provider-jhub/internal/fielderr"
	"github.com/classhub/terraform-provider-jhub/internal/hubconfig"
	"github.com/classhub/terraform-provider-jhub/internal/installer"
)

func shaHex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// After an install the verifiers know what the droplet holds: the kept copy
// (by its old verifier), or the content sent; the secret itself and its
// bare sha256 are never what is kept.
func TestVerifiersRecordWhatTheDropletHolds(t *testing.T) {
	const pw, key = "/opt/jhub/current/secrets/hub_password", "/opt/jhub/current/secrets/tls_key.pem"
	oldPW, newPW, keyPEM := []byte("old-class-password"), []byte("new-class-password"), []byte("-----BEGIN KEY-----")
	attrs := map[string]string{pw: hubconfig.SecretPassword, key: hubconfig.SecretKeyPEM}
	wo := map[string]writeOnlyField{hubconfig.SecretPassword: {version: types.Int64Value(1)}}
	first, err := verifiers{}.record([]installer.File{{Path: pw, Content: oldPW}, {Path: key, Content: keyPEM}}, attrs, wo, installer.Result{})
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 1 || !first.verifies(hubconfig.SecretPassword, shaHex(oldPW)) || first.verifies(hubconfig.SecretPassword, shaHex(newPW)) {
		t.Fatalf("after the first install: %v", first)
	}
	if h := first[hubconfig.SecretPassword]; strings.Contains(h, string(oldPW)) || strings.Contains(h, shaHex(oldPW)) {
		t.Fatalf("the verifier %q holds the password or its bare hash", h)
	}

	// Kept: the droplet still has the old password, whatever was configured.
	kept, err := first.record([]installer.File{{Path: pw, Content: newPW, Keep: shaHex(oldPW)}}, attrs, wo, installer.Result{Kept: []string{pw}})
	if err != nil || kept[hubconfig.SecretPassword] != first[hubconfig.SecretPassword] {
		t.Fatalf("a kept file changed its verifier: %v %v", kept, err)
	}
	// Not kept (a copy changed by hand): the content sent is what it holds.
	sent, err := first.record([]installer.File{{Path: pw, Content: newPW, Keep: ""}}, attrs, wo, installer.Result{})
	if err != nil || !sent.verifies(hubconfig.SecretPassword, shaHex(newPW)) || sent.verifies(hubconfig.SecretPassword, shaHex(oldPW)) {
		t.Fatalf("after sending a new password: %v %v", sent, err)
	}
	if (verifiers{}).verifies(hubconfig.SecretPassword, shaHex(oldPW)) || first.verifies(hubconfig.SecretPassword, "") {
		t.Error("verifies without a verifier or without a file")
	}
}

// A settings error about a secret is shown at the form the configuration uses.
func TestWriteOnlyDiagsAtTheFormInUse(t *testing.T) {
	errs := func() error {
		var l fielderr.List
		l.Add(fielderr.Root("auth").Name("password"), "too short")
		l.Add(fielderr.Root("auth").Name("client_secret"), "required with auth.kind %q", "github")
		return errors.Join(l.Err(), errors.New("not a field error"))
	}
	m := &edgeModel{Auth: &authModel{PasswordWOVersion: types.Int64Value(3)}}
	diags := writeOnlyDiags("Invalid hub settings", errs(), m)
	var got []string
	for _, d := range diags {
		got = append(got, d.Detail())
	}
	joined := strings.Join(got, "\n")
	for _, want := range []string{"auth.password_wo: too short", "auth.client_secret: required with auth.kind \"github\"; set auth.client_secret, or auth.client_secret_wo with auth.client_secret_wo_version"} {
		if !strings.Contains(joined, want) {
			t.Errorf("want %q in:\n%s", want, joined)
		}
	}
	// Plain forms: paths unchanged.
	diags = writeOnlyDiags("Invalid hub settings", errs(), &edgeModel{Auth: &authModel{}})
	if d := diags[0].Detail(); !strings.HasPrefix(d, "auth.password: too short") {
		t.Errorf("plain form: %q", d)
	}
}
