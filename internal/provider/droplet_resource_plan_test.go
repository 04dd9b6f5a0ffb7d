package provider

import (
	"errors"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"

	"github.com/classhub/terraform-provider-jhub/internal/cloudinit"
)

// Renderer errors land on the attribute behind the field they name, with
// the renderer's own words; keys past the public ones came from fingerprints.
func TestAddPayloadError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want path.Path // empty: not an attribute error
	}{
		{&cloudinit.FieldError{Field: "ExtraCloudConfig", Msg: "too big"}, path.Root("extra_cloud_config")},
		{&cloudinit.FieldError{Field: "AdminUser", Msg: "system account"}, path.Root("admin_user")},
		{&cloudinit.FieldError{Field: "AdminKeys[1]", Msg: "bad"}, path.Root("ssh_public_keys").AtListIndex(1)},
		{&cloudinit.FieldError{Field: "AdminKeys[2]", Msg: "bad"}, path.Root("ssh_key_fingerprints")},
		{&cloudinit.FieldError{Field: "AptSecurityMirror", Msg: "not a URI"}, path.Root("apt_security_mirror")},
		{&cloudinit.FieldError{Field: "HostKey.Public", Msg: "mismatch"}, path.Empty()},
		{errors.New("cloudinit: encoding user_data: boom"), path.Empty()},
	} {
		var diags diag.Diagnostics
		addPayloadError(&diags, "Invalid bootstrap payload", 2, tc.err)
		if len(diags) != 1 || diags[0].Severity() != diag.SeverityError {
			t.Fatalf("%v: diagnostics %v", tc.err, diags)
		}
		var got path.Path
		if wp, ok := diags[0].(diag.DiagnosticWithPath); ok {
			got = wp.Path()
		}
		if got.String() != tc.want.String() {
			t.Errorf("%v: at %q, want %q", tc.err, got, tc.want)
		}
		var fe *cloudinit.FieldError
		if errors.As(tc.err, &fe) && len(tc.want.Steps()) > 0 && diags[0].Detail() != fe.Msg {
			t.Errorf("%v: detail %q, want the renderer's message", tc.err, diags[0].Detail())
		}
	}
}
