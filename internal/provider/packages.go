package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/classhub/terraform-provider-jhub/internal/fielderr"
	"github.com/classhub/terraform-provider-jhub/internal/installer"
)

var _ validator.Set = packageNamesValidator{}

// packageNamesValidator checks student_packages against Debian's name rule
// at plan time, every element at once, each error at its element's path.
type packageNamesValidator struct{}

func (packageNamesValidator) Description(context.Context) string {
	return "each must be a Debian package name: lower-case letters, digits, '+', '-' and '.', at least two characters, starting with a letter or digit"
}

func (v packageNamesValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (packageNamesValidator) ValidateSet(ctx context.Context, req validator.SetRequest, resp *validator.SetResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	for _, e := range req.ConfigValue.Elements() {
		s, ok := e.(types.String)
		if !ok || s.IsNull() || s.IsUnknown() {
			continue
		}
		if msg := installer.CheckPackageName(s.ValueString()); msg != "" {
			at := fielderr.Root("student_packages").Elem(s.ValueString())
			resp.Diagnostics.AddAttributeError(req.Path.AtSetValue(s), "Invalid Debian package name", at.String()+": "+msg)
		}
	}
}
