package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
)

// ValidateConfig checks what one attribute's validator cannot: labels against
// each other and the zone. Every broken rule is reported, at its record.
func (r *domainResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var cfg domainModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() || cfg.Records.IsNull() || cfg.Records.IsUnknown() {
		return
	}
	records := map[string]recordModel{}
	resp.Diagnostics.Append(cfg.Records.ElementsAs(ctx, &records, false)...)
	zone := cfg.Name.ValueString()
	// Only canonical labels pass (lowercase, relative, no trailing dot), so two
	// spellings of one host can never both reach the API.
	for _, label := range sortedKeys(records) {
		p := path.Root("records").AtMapKey(label)
		if msg := checkLabel(label, zone, cfg.Name.IsUnknown()); msg != "" {
			resp.Diagnostics.AddAttributeError(p, "Invalid record label", msg)
			continue
		}
		rec := records[label]
		if rec.IPv4.IsNull() && rec.IPv6.IsNull() {
			resp.Diagnostics.AddAttributeError(p, "Record without an address",
				fmt.Sprintf("records[%q] sets neither ipv4 nor ipv6; set at least one.", label))
		}
	}
}

// ModifyPlan fills fqdns from the labels, which are known at plan time even
// when the addresses are not, and checks against the zone as it is what
// apply would otherwise find out: that the zone may be used, and that no
// record is in the way of one to be added.
func (r *domainResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	var plan domainModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	var state *domainModel
	if !req.State.Raw.IsNull() {
		state = &domainModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, state)...)
	}
	imported, d := wasImported(ctx, req.Private)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() || plan.Records.IsUnknown() || plan.Name.IsUnknown() || plan.CAAIssuer.IsUnknown() {
		return
	}
	plan.FQDNs, d = fqdnMap(plan.Name.ValueString(), plan.Records)
	resp.Diagnostics.Append(d...)
	plan.ID = plan.Name
	// Record IDs stay as they are unless the records change.
	if state != nil && plan.Records.Equal(state.Records) && plan.CAAIssuer.Equal(state.CAAIssuer) {
		plan.RecordIDs, plan.AdoptedRecordIDs = state.RecordIDs, state.AdoptedRecordIDs
	}
	if r.client != nil {
		r.checkZone(ctx, &plan, state, imported, &resp.Diagnostics)
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// checkZone looks at the zone for what the plan would run into.
func (r *domainResource) checkZone(ctx context.Context, plan, state *domainModel, imported bool, diags *diag.Diagnostics) {
	zone := plan.Name.ValueString()
	own := &ownership{Created: map[string]int{}, Adopted: map[string]int{}}
	if state == nil {
		_, _, err := r.client.do.Domains.Get(ctx, zone)
		switch {
		case isNotFound(err):
			return // a new zone holds nothing in the way
		case err != nil:
			diags.AddAttributeError(path.Root("name"), "Cannot check the zone", apiError("looking up zone "+zone, err))
			return
		case !plan.AdoptExisting.ValueBool():
			diags.AddAttributeError(path.Root("name"), "Zone already exists",
				fmt.Sprintf("The zone %s already exists in this DigitalOcean account. Set adopt_existing = true to add the hub's records to it without owning the zone, "+
					"or import it (`terraform import`) to also take over the records it already has for these names.", zone))
			return
		}
	} else {
		var d diag.Diagnostics
		own, d = ownershipOf(ctx, state)
		diags.Append(d...)
	}
	desired, d := desiredRecords(ctx, plan)
	diags.Append(d...)
	for _, k := range sortedKeys(own.Adopted) {
		if _, keep := desired[k]; !keep {
			diags.AddWarning("Record left in the zone",
				fmt.Sprintf("The record %s (id %d) of %s leaves this resource's records, but an import took it over rather than creating it: it stays in the zone, unmanaged.", k, own.Adopted[k], zone))
		}
	}
	var toAdd []string
	for _, k := range sortedKeys(desired) {
		if _, ok := own.manages(k); !ok {
			toAdd = append(toAdd, k)
		}
	}
	if len(toAdd) == 0 {
		return
	}
	existing, err := listRecords(ctx, r.client.do, zone)
	if err != nil {
		diags.AddAttributeError(path.Root("records"), "Cannot check the zone's records", apiError("listing records of "+zone, err))
		return
	}
	for _, k := range toAdd {
		p := place(zone, k, existing, imported)
		switch {
		case p.conflict != "":
			diags.AddAttributeError(keyPath(k), "Record conflicts with one this resource does not manage", p.conflict)
		case p.adopt != nil:
			diags.AddAttributeWarning(keyPath(k), "Existing record taken over",
				fmt.Sprintf("The zone's %s record for %q (id %d, data %s) is taken over and set as configured. It was not created by this resource, so it stays in the zone when it leaves records or the resource is destroyed.",
					p.adopt.Type, p.adopt.Name, p.adopt.ID, p.adopt.Data))
		}
	}
}
