package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"
)

var (
	_ resource.Resource                   = (*domainResource)(nil)
	_ resource.ResourceWithConfigure      = (*domainResource)(nil)
	_ resource.ResourceWithImportState    = (*domainResource)(nil)
	_ resource.ResourceWithValidateConfig = (*domainResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*domainResource)(nil)
)

// NewDomainResource is the jhub_domain resource. Its parts: the schema and
// model (domain_resource_schema.go), plan checks (_plan.go), records and
// their ownership (_records.go).
func NewDomainResource() resource.Resource { return &domainResource{} }

type domainResource struct{ client *client }

func (r *domainResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_domain"
}

func (r *domainResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *domainResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	if !requireClient(r.client, &resp.Diagnostics) {
		return
	}
	var plan domainModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	zone := plan.Name.ValueString()
	own := &ownership{Created: map[string]int{}, Adopted: map[string]int{}}

	// The plan checked the zone; it is looked up again in case it changed since.
	_, _, err := r.client.do.Domains.Get(ctx, zone)
	switch {
	case err == nil && !plan.AdoptExisting.ValueBool():
		resp.Diagnostics.AddAttributeError(path.Root("name"), "Zone already exists",
			fmt.Sprintf("The zone %s was created in this DigitalOcean account after the plan. Set adopt_existing = true to add the hub's records to it without owning the zone.", zone))
		return
	case err == nil:
		tflog.Info(ctx, "adopting existing zone", map[string]any{"zone": zone})
	case isNotFound(err):
		if _, _, err := r.client.do.Domains.Create(ctx, &godo.DomainCreateRequest{Name: zone}); err != nil {
			resp.Diagnostics.AddError("Cannot create zone", apiError("creating zone "+zone, err))
			return
		}
		own.ZoneCreated = true
	default:
		resp.Diagnostics.AddError("Cannot read zone", apiError("looking up zone "+zone, err))
		return
	}

	// From here on the zone exists: whatever happens, state records what was
	// made (tainted on error), so destroy undoes exactly that.
	syncErr := r.syncRecords(ctx, zone, &plan, own, false)
	plan.ID = plan.Name
	resp.Diagnostics.Append(own.into(&plan)...)
	// The zone is fine without them: a failure here must not taint it.
	ns, err := nameServers(ctx, r.client.do, zone)
	if err != nil {
		resp.Diagnostics.AddWarning("Cannot read the zone's name servers", apiError("listing the NS records of "+zone, err)+"; name_servers is filled at the next refresh.")
	}
	plan.NameServers = ns
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	resp.Diagnostics.Append(syncErr...)
}

func (r *domainResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	if !requireClient(r.client, &resp.Diagnostics) {
		return
	}
	var state domainModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	own, d := ownershipOf(ctx, &state)
	resp.Diagnostics.Append(d...)
	zone := state.Name.ValueString()
	if _, _, err := r.client.do.Domains.Get(ctx, zone); err != nil {
		if isNotFound(err) {
			tflog.Warn(ctx, "zone is gone; removing it from state", map[string]any{"zone": zone})
			resp.State.RemoveResource(ctx)
			return
		}
		resp.Diagnostics.AddError("Cannot read zone", apiError("reading zone "+zone, err))
		return
	}

	found := map[string]godo.DomainRecord{}
	for _, ids := range []map[string]int{own.Created, own.Adopted} {
		for _, k := range sortedKeys(ids) {
			rec, _, err := r.client.do.Domains.Record(ctx, zone, ids[k])
			switch {
			case isNotFound(err):
				tflog.Warn(ctx, "record deleted outside Terraform; it will be created again", map[string]any{"zone": zone, "record": k})
				delete(ids, k)
			case err != nil:
				resp.Diagnostics.AddError("Cannot read record", apiError(fmt.Sprintf("reading record %s (id %d) of %s", k, ids[k], zone), err))
				return
			default:
				found[k] = *rec
			}
		}
	}
	ns, err := nameServers(ctx, r.client.do, zone)
	if err != nil {
		resp.Diagnostics.AddError("Cannot read the zone's name servers", apiError("listing the NS records of "+zone, err))
		return
	}

	records, caa := recordsFromAPI(found)
	state.Records = recordsValue(records)
	state.CAAIssuer = caa
	state.NameServers = ns
	if state.AdoptExisting.IsNull() {
		state.AdoptExisting = types.BoolValue(false)
	}
	state.ID = state.Name
	state.FQDNs, d = fqdnMap(zone, state.Records)
	resp.Diagnostics.Append(d...)
	resp.Diagnostics.Append(own.into(&state)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Update makes the managed records match the plan. The first apply after an
// import takes over the zone's records of the configured names and types.
func (r *domainResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	if !requireClient(r.client, &resp.Diagnostics) {
		return
	}
	var plan, state domainModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	imported, d := wasImported(ctx, req.Private)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	own, d := ownershipOf(ctx, &state)
	resp.Diagnostics.Append(d...)
	syncErr := r.syncRecords(ctx, plan.Name.ValueString(), &plan, own, imported)
	resp.Diagnostics.Append(own.into(&plan)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	resp.Diagnostics.Append(syncErr...)
	if !syncErr.HasError() {
		resp.Diagnostics.Append(clearImported(ctx, resp.Private)...)
	}
}

// Delete removes the records this resource created, and the zone if it
// created that too. Adopted records and zones stay.
func (r *domainResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	if !requireClient(r.client, &resp.Diagnostics) {
		return
	}
	var state domainModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	own, d := ownershipOf(ctx, &state)
	resp.Diagnostics.Append(d...)
	zone := state.Name.ValueString()
	for _, k := range sortedKeys(own.Created) {
		if _, err := r.client.do.Domains.DeleteRecord(ctx, zone, own.Created[k]); err != nil && !isNotFound(err) {
			resp.Diagnostics.AddError("Cannot delete record", apiError(fmt.Sprintf("deleting record %s of %s", k, zone), err))
			return
		}
	}
	if own.ZoneCreated {
		if _, err := r.client.do.Domains.Delete(ctx, zone); err != nil && !isNotFound(err) {
			resp.Diagnostics.AddError("Cannot delete zone", apiError("deleting zone "+zone, err))
		}
	}
}

// ImportState adopts a zone by name: it owns neither the zone nor any record
// in it, so destroy leaves both. The first apply takes over the records of
// the configured names and types (see adopted_record_ids).
func (r *domainResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	zone := strings.TrimSuffix(strings.ToLower(req.ID), ".")
	if msg := checkZoneName(zone); msg != "" {
		resp.Diagnostics.AddError("Invalid import ID", "Import a jhub_domain by its zone name, for example `terraform import jhub_domain.class example.edu`: "+msg)
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), zone)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), zone)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("owns_zone"), false)...)
	resp.Diagnostics.Append(markImported(ctx, resp.Private)...)
}
