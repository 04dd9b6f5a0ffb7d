package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/diag"
)

// importedKey marks, in a resource's private state, an object that was
// imported and not yet applied: what only its creation knew (a droplet's
// bootstrap payload, which records a zone's resource made) is not in state,
// so the first apply adopts the configuration instead of replacing or
// deleting anything. Apply removes the mark.
const importedKey = "imported"

type privateGetter interface {
	GetKey(ctx context.Context, key string) ([]byte, diag.Diagnostics)
}

type privateSetter interface {
	SetKey(ctx context.Context, key string, value []byte) diag.Diagnostics
}

func markImported(ctx context.Context, p privateSetter) diag.Diagnostics {
	return p.SetKey(ctx, importedKey, []byte("true"))
}

// clearImported is called by every apply: from then on state knows what it
// manages.
func clearImported(ctx context.Context, p privateSetter) diag.Diagnostics {
	return p.SetKey(ctx, importedKey, nil)
}

func wasImported(ctx context.Context, p privateGetter) (bool, diag.Diagnostics) {
	v, diags := p.GetKey(ctx, importedKey)
	return len(v) > 0, diags
}
