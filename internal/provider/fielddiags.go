package provider

import (
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/classhub/terraform-provider-jhub/internal/fielderr"
)

// fieldDiags turns a renderer's error into diagnostics: each field error
// at its own attribute path (all of them, so one plan shows every mistake),
// anything else as one error under summary.
func fieldDiags(summary string, err error) diag.Diagnostics {
	var diags diag.Diagnostics
	if err == nil {
		return diags
	}
	fes := fielderr.All(err)
	if len(fes) == 0 {
		diags.AddError(summary, err.Error())
		return diags
	}
	for _, fe := range fes {
		if len(fe.Path) == 0 {
			diags.AddError(summary, fe.Msg)
			continue
		}
		diags.AddAttributeError(attrPath(fe.Path), summary, fe.Path.String()+": "+fe.Msg)
	}
	return diags
}

func attrPath(p fielderr.Path) path.Path {
	var out path.Path
	for i, s := range p {
		switch s.Kind {
		case fielderr.KindName:
			if i == 0 {
				out = path.Root(s.Name)
			} else {
				out = out.AtName(s.Name)
			}
		case fielderr.KindIndex:
			out = out.AtListIndex(s.Index)
		case fielderr.KindKey:
			out = out.AtMapKey(s.Name)
		case fielderr.KindElem:
			out = out.AtSetValue(types.StringValue(s.Name))
		}
	}
	return out
}
