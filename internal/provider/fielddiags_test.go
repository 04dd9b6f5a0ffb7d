package provider

import (
	"errors"
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/classhub/terraform-provider-jhub/internal/fielderr"
)

func TestFieldDiagsAtSchemaPaths(t *testing.T) {
	var l fielderr.List
	l.Add(fielderr.Root("tls").Name("acme_email"), "required with tls.mode acme")
	l.Add(fielderr.Root("allowed_users").Elem("root"), "reserved")
	l.Add(fielderr.Root("sites").Index(1).Name("basic_auth").Name("paths").Index(0), "must start with '/'")
	l.Add(fielderr.Root("basic_auth_users").Key("bob"), "empty password")
	diags := fieldDiags("Invalid hub settings", fmt.Errorf("render: %w", l.Err()))
	want := []path.Path{
		path.Root("tls").AtName("acme_email"),
		path.Root("allowed_users").AtSetValue(types.StringValue("root")),
		path.Root("sites").AtListIndex(1).AtName("basic_auth").AtName("paths").AtListIndex(0),
		path.Root("basic_auth_users").AtMapKey("bob"),
	}
	if len(diags) != len(want) {
		t.Fatalf("got %d diagnostics, want %d: %v", len(diags), len(want), diags)
	}
	for i, d := range diags {
		wp, ok := d.(diag.DiagnosticWithPath)
		if !ok || !wp.Path().Equal(want[i]) {
			t.Errorf("diagnostic %d: got %v, want path %s", i, d, want[i])
		}
	}
}

func TestFieldDiagsPlainError(t *testing.T) {
	diags := fieldDiags("Cannot render", errors.New("boom"))
	if len(diags) != 1 || diags[0].Summary() != "Cannot render" || diags[0].Detail() != "boom" {
		t.Fatalf("got %v", diags)
	}
}
