package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"golang.org/x/crypto/ssh"
)

// sshPrivateKeyValidator refuses, at plan time, keys the provider could never
// log in with: a passphrase-protected key (nobody can type it in Terraform
// Cloud) and a public key pasted instead of the private one.
type sshPrivateKeyValidator struct{}

var _ validator.String = sshPrivateKeyValidator{}

func (sshPrivateKeyValidator) Description(context.Context) string {
	return "must be an unencrypted SSH private key (PEM or OpenSSH format)"
}

func (v sshPrivateKeyValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (sshPrivateKeyValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if msg := checkSSHPrivateKey([]byte(req.ConfigValue.ValueString())); msg != "" {
		resp.Diagnostics.AddAttributeError(req.Path, "Unusable SSH private key", msg)
	}
}

// checkSSHPrivateKey says what is wrong with key, never quoting it.
func checkSSHPrivateKey(key []byte) string {
	_, err := ssh.ParsePrivateKey(key)
	if err == nil {
		return ""
	}
	var pass *ssh.PassphraseMissingError
	if errors.As(err, &pass) {
		return "The key is protected by a passphrase, which the provider cannot ask for (it also runs in Terraform Cloud). " +
			"Use a key without a passphrase, kept in a secret store or a sensitive variable; `ssh-keygen -p -N '' -f <copy of the key>` removes the passphrase from a copy."
	}
	if _, _, _, _, perr := ssh.ParseAuthorizedKey(key); perr == nil {
		return "This is a public key (an authorized_keys line). Give the matching private key here; the public key belongs in `jhub_droplet.ssh_public_keys`."
	}
	return fmt.Sprintf("Not an SSH private key in PEM or OpenSSH format (%s). Pass the whole file's content, including its BEGIN and END lines.", err)
}
