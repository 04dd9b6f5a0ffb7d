package provider

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/boolplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
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

// NewDomainResource is the jhub_domain resource.
func NewDomainResource() resource.Resource { return &domainResource{} }

type domainResource struct{ client *client }

type domainModel struct {
	ID            types.String `tfsdk:"id"`
	Name          types.String `tfsdk:"name"`
	AdoptExisting types.Bool   `tfsdk:"adopt_existing"`
	Records       types.Map    `tfsdk:"records"`
	CAAIssuer     types.String `tfsdk:"caa_issuer"`
	FQDNs         types.Map    `tfsdk:"fqdns"`
	OwnsZone      types.Bool   `tfsdk:"owns_zone"`
	RecordIDs     types.Map    `tfsdk:"record_ids"`
}

type recordModel struct {
	IPv4 types.String `tfsdk:"ipv4"`
	IPv6 types.String `tfsdk:"ipv6"`
	TTL  types.Int64  `tfsdk:"ttl"`
}

var recordAttrTypes = map[string]attr.Type{"ipv4": types.StringType, "ipv6": types.StringType, "ttl": types.Int64Type}

const defaultRecordTTL = 1800

func (r *domainResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_domain"
}

func (r *domainResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "A DigitalOcean DNS zone and the address records a class hub needs: the hub host and any other hosts served next to it. " +
			"Destroy removes only what this resource created: in an adopted zone, records it did not create are never touched.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Description:   "The zone name.",
				Computed:      true,
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"name": schema.StringAttribute{
				Description:   "The zone, for example `example.edu`: lowercase, without a trailing dot. Changing it replaces the zone.",
				Required:      true,
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
				Validators:    []validator.String{checkString("Invalid domain name", "must be a lowercase domain name without a trailing dot", checkZoneName)},
			},
			"adopt_existing": schema.BoolAttribute{
				Description: "When the zone already exists in the account, manage records in it instead of failing. " +
					"An adopted zone is kept on destroy; only the records this resource created are deleted.",
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(false),
			},
			"records": schema.MapNestedAttribute{
				Description: "Address records, keyed by host label relative to the zone (`hub`, `www`, `lab.cs`) or `@` for the zone apex. " +
					"Each entry creates an A record, an AAAA record, or both. Records update in place.",
				Required: true,
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"ipv4": schema.StringAttribute{Description: "IPv4 address for an A record.", Optional: true, Validators: []validator.String{checkString("Invalid IPv4 address", "must be an IPv4 address", checkIP(false))}},
						"ipv6": schema.StringAttribute{Description: "IPv6 address for an AAAA record.", Optional: true, Validators: []validator.String{checkString("Invalid IPv6 address", "must be an IPv6 address", checkIP(true))}},
						"ttl": schema.Int64Attribute{
							Description: fmt.Sprintf("Time to live in seconds, at least 30. Defaults to %d.", defaultRecordTTL),
							Optional:    true, Computed: true,
							Default:    int64default.StaticInt64(defaultRecordTTL),
							Validators: []validator.Int64{int64validator.AtLeast(30)},
						},
					},
				},
			},
			"caa_issuer": schema.StringAttribute{
				Description: "When set, CAA records at the apex allow only this certificate authority to issue (`letsencrypt.org` for Let's Encrypt) and forbid wildcard issuance.",
				Optional:    true,
				Validators:  []validator.String{checkString("Invalid CAA issuer", "must be the certificate authority's domain name", checkZoneName)},
			},
			"fqdns": schema.MapAttribute{
				Description: "The fully qualified name of each record label, for example `hub.example.edu`.",
				Computed:    true,
				ElementType: types.StringType,
			},
			// Ownership lives in state, not private data: Terraform keeps state, but
			// not private data, for an object whose create failed (tainted), and
			// destroy must still remove exactly what was made.
			"owns_zone": schema.BoolAttribute{
				Description:   "Whether destroy deletes the zone: true when this resource created the zone or imported it, false when it adopted an existing one.",
				Computed:      true,
				PlanModifiers: []planmodifier.Bool{boolplanmodifier.UseStateForUnknown()},
			},
			"record_ids": schema.MapAttribute{
				Description: "The DigitalOcean IDs of the records this resource manages, keyed by `label/TYPE` (`@/CAA/issue` for CAA). Destroy deletes exactly these.",
				Computed:    true,
				ElementType: types.Int64Type,
			},
		},
	}
}

func (r *domainResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

// ValidateConfig checks what one attribute's validator cannot: labels against each other and the zone.
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

// ModifyPlan fills fqdns from the labels, which are known at plan time even when the addresses are not.
func (r *domainResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	var plan domainModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() || plan.Records.IsUnknown() || plan.Name.IsUnknown() {
		return
	}
	fqdns, d := fqdnMap(plan.Name.ValueString(), plan.Records)
	resp.Diagnostics.Append(d...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("fqdns"), fqdns)...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("id"), plan.Name)...)
	// Record IDs stay as they are unless the records change.
	if !req.State.Raw.IsNull() {
		var state domainModel
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
		if plan.Records.Equal(state.Records) && plan.CAAIssuer.Equal(state.CAAIssuer) {
			resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("record_ids"), state.RecordIDs)...)
		}
	}
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
	own := ownership{Records: map[string]int{}}

	_, _, err := r.client.do.Domains.Get(ctx, zone)
	switch {
	case err == nil && !plan.AdoptExisting.ValueBool():
		resp.Diagnostics.AddAttributeError(path.Root("name"), "Zone already exists",
			fmt.Sprintf("The zone %s already exists in this DigitalOcean account. Set adopt_existing = true to add the hub's records to it without owning the zone, or import it with `terraform import` to take it over.", zone))
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
	syncErr := r.syncRecords(ctx, zone, &plan, &own)
	plan.ID = plan.Name
	resp.Diagnostics.Append(own.into(&plan)...)
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
	if own == nil {
		// Imported: take over the zone's address records and a CAA pair at the apex.
		own = &ownership{ZoneCreated: true, Records: map[string]int{}}
		all, err := listRecords(ctx, r.client.do, zone)
		if err != nil {
			resp.Diagnostics.AddError("Cannot read records", apiError("listing records of "+zone, err))
			return
		}
		for _, rec := range all {
			if k, ok := importKey(rec); ok {
				own.Records[k] = rec.ID
				found[k] = rec
			}
		}
	} else {
		for k, id := range own.Records {
			rec, _, err := r.client.do.Domains.Record(ctx, zone, id)
			switch {
			case isNotFound(err):
				tflog.Warn(ctx, "record deleted outside Terraform; it will be created again", map[string]any{"zone": zone, "record": k})
				delete(own.Records, k)
			case err != nil:
				resp.Diagnostics.AddError("Cannot read record", apiError(fmt.Sprintf("reading record %s (id %d) of %s", k, id, zone), err))
				return
			default:
				found[k] = *rec
			}
		}
	}

	records, caa := recordsFromAPI(found)
	state.Records = recordsValue(records)
	state.CAAIssuer = caa
	if state.AdoptExisting.IsNull() {
		state.AdoptExisting = types.BoolValue(false)
	}
	state.ID = state.Name
	var d2 diag.Diagnostics
	state.FQDNs, d2 = fqdnMap(zone, state.Records)
	resp.Diagnostics.Append(d2...)
	resp.Diagnostics.Append(own.into(&state)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *domainResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	if !requireClient(r.client, &resp.Diagnostics) {
		return
	}
	var plan, state domainModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	own, d := ownershipOf(ctx, &state)
	resp.Diagnostics.Append(d...)
	if own == nil {
		own = &ownership{Records: map[string]int{}}
	}
	syncErr := r.syncRecords(ctx, plan.Name.ValueString(), &plan, own)
	resp.Diagnostics.Append(own.into(&plan)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	resp.Diagnostics.Append(syncErr...)
}

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
	if own == nil {
		return
	}
	zone := state.Name.ValueString()
	for _, k := range sortedKeys(own.Records) {
		if _, err := r.client.do.Domains.DeleteRecord(ctx, zone, own.Records[k]); err != nil && !isNotFound(err) {
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

func (r *domainResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	zone := strings.TrimSuffix(strings.ToLower(req.ID), ".")
	if msg := checkZoneName(zone); msg != "" {
		resp.Diagnostics.AddError("Invalid import ID", "Import a jhub_domain by its zone name, for example `terraform import jhub_domain.class example.edu`: "+msg)
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), zone)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), zone)...)
}

// syncRecords makes the zone's owned records match the plan: it edits what
// changed, creates what is missing and deletes what the plan dropped. It
// updates own as it goes, so a failure halfway leaves an exact record of what exists.
func (r *domainResource) syncRecords(ctx context.Context, zone string, plan *domainModel, own *ownership) diag.Diagnostics {
	var diags diag.Diagnostics
	desired, d := desiredRecords(ctx, plan)
	diags.Append(d...)
	if diags.HasError() {
		return diags
	}
	for _, k := range sortedKeys(own.Records) {
		if _, keep := desired[k]; keep {
			continue
		}
		if _, err := r.client.do.Domains.DeleteRecord(ctx, zone, own.Records[k]); err != nil && !isNotFound(err) {
			diags.AddError("Cannot delete record", apiError(fmt.Sprintf("deleting record %s of %s", k, zone), err))
			return diags
		}
		delete(own.Records, k)
	}
	for _, k := range sortedKeys(desired) {
		want := desired[k]
		if id, ok := own.Records[k]; ok {
			_, _, err := r.client.do.Domains.EditRecord(ctx, zone, id, &want)
			if err == nil {
				continue
			}
			if !isNotFound(err) {
				diags.AddError("Cannot update record", apiError(fmt.Sprintf("updating record %s of %s", k, zone), err))
				return diags
			}
			delete(own.Records, k)
		}
		if msg := r.foreignConflict(ctx, zone, want, own); msg != "" {
			diags.AddAttributeError(path.Root("records"), "Record conflicts with one this resource does not manage", msg)
			return diags
		}
		rec, _, err := r.client.do.Domains.CreateRecord(ctx, zone, &want)
		if err != nil {
			diags.AddError("Cannot create record", apiError(fmt.Sprintf("creating %s record %q in %s", want.Type, want.Name, zone), err))
			return diags
		}
		own.Records[k] = rec.ID
		tflog.Debug(ctx, "created record", map[string]any{"zone": zone, "record": k, "id": rec.ID})
	}
	return diags
}

// foreignConflict refuses to add an A or AAAA record beside one somebody else
// made: two answers for the hub's name would send half the class elsewhere.
func (r *domainResource) foreignConflict(ctx context.Context, zone string, want godo.DomainRecordEditRequest, own *ownership) string {
	if want.Type == "CAA" {
		return ""
	}
	fqdn := zone
	if want.Name != "@" {
		fqdn = want.Name + "." + zone
	}
	existing, _, err := r.client.do.Domains.RecordsByTypeAndName(ctx, zone, want.Type, fqdn, &godo.ListOptions{PerPage: 200})
	if err != nil {
		return ""
	}
	owned := map[int]bool{}
	for _, id := range own.Records {
		owned[id] = true
	}
	for _, rec := range existing {
		if !owned[rec.ID] {
			return fmt.Sprintf("The zone %s already has an %s record for %q (id %d, data %s) that this resource did not create. Delete it, or use another label.", zone, rec.Type, want.Name, rec.ID, rec.Data)
		}
	}
	return ""
}

// ownership is what this resource made, so that destroy never removes a
// record or a zone somebody else owns. It is kept in state (owns_zone, record_ids).
type ownership struct {
	ZoneCreated bool
	Records     map[string]int // "label/TYPE" or "@/CAA/tag" -> record id
}

// ownershipOf reads ownership from state; nil means none is recorded (an import).
func ownershipOf(ctx context.Context, m *domainModel) (*ownership, diag.Diagnostics) {
	if m.RecordIDs.IsNull() || m.RecordIDs.IsUnknown() {
		return nil, nil
	}
	ids := map[string]int64{}
	diags := m.RecordIDs.ElementsAs(ctx, &ids, false)
	o := &ownership{ZoneCreated: m.OwnsZone.ValueBool(), Records: map[string]int{}}
	for k, id := range ids {
		o.Records[k] = int(id)
	}
	return o, diags
}

func (o *ownership) into(m *domainModel) diag.Diagnostics {
	elems := map[string]attr.Value{}
	for k, id := range o.Records {
		elems[k] = types.Int64Value(int64(id))
	}
	ids, diags := types.MapValue(types.Int64Type, elems)
	m.RecordIDs = ids
	m.OwnsZone = types.BoolValue(o.ZoneCreated)
	return diags
}

// desiredRecords lists the API records the plan asks for, by ownership key.
func desiredRecords(ctx context.Context, m *domainModel) (map[string]godo.DomainRecordEditRequest, diag.Diagnostics) {
	records := map[string]recordModel{}
	diags := m.Records.ElementsAs(ctx, &records, false)
	out := map[string]godo.DomainRecordEditRequest{}
	for label, rec := range records {
		ttl := int(rec.TTL.ValueInt64())
		if !rec.IPv4.IsNull() {
			out[label+"/A"] = godo.DomainRecordEditRequest{Type: "A", Name: label, Data: rec.IPv4.ValueString(), TTL: ttl}
		}
		if !rec.IPv6.IsNull() {
			out[label+"/AAAA"] = godo.DomainRecordEditRequest{Type: "AAAA", Name: label, Data: rec.IPv6.ValueString(), TTL: ttl}
		}
	}
	if issuer := m.CAAIssuer.ValueString(); issuer != "" {
		out["@/CAA/issue"] = godo.DomainRecordEditRequest{Type: "CAA", Name: "@", Data: issuer, Tag: "issue", Flags: 0, TTL: defaultRecordTTL}
		// ";" forbids every CA from issuing wildcards: a hub never needs one.
		out["@/CAA/issuewild"] = godo.DomainRecordEditRequest{Type: "CAA", Name: "@", Data: ";", Tag: "issuewild", Flags: 0, TTL: defaultRecordTTL}
	}
	return out, diags
}

// importKey names a record an import takes over, or says it is not one of ours.
func importKey(rec godo.DomainRecord) (string, bool) {
	switch rec.Type {
	case "A", "AAAA":
		return rec.Name + "/" + rec.Type, true
	case "CAA":
		if rec.Name == "@" && (rec.Tag == "issue" || rec.Tag == "issuewild") {
			return "@/CAA/" + rec.Tag, true
		}
	}
	return "", false
}

// recordsFromAPI folds API records back into the resource's shape.
func recordsFromAPI(found map[string]godo.DomainRecord) (map[string]recordModel, types.String) {
	out := map[string]recordModel{}
	caa := types.StringNull()
	for _, k := range sortedKeys(found) {
		rec := found[k]
		if rec.Type == "CAA" {
			if rec.Tag == "issue" {
				caa = types.StringValue(rec.Data)
			}
			continue
		}
		m, ok := out[rec.Name]
		if !ok {
			m = recordModel{IPv4: types.StringNull(), IPv6: types.StringNull()}
		}
		if rec.Type == "A" {
			m.IPv4 = types.StringValue(rec.Data)
		} else {
			m.IPv6 = types.StringValue(rec.Data)
		}
		m.TTL = types.Int64Value(int64(rec.TTL))
		out[rec.Name] = m
	}
	return out, caa
}

func recordsValue(records map[string]recordModel) types.Map {
	elems := map[string]attr.Value{}
	for label, rec := range records {
		elems[label] = types.ObjectValueMust(recordAttrTypes, map[string]attr.Value{"ipv4": rec.IPv4, "ipv6": rec.IPv6, "ttl": rec.TTL})
	}
	return types.MapValueMust(types.ObjectType{AttrTypes: recordAttrTypes}, elems)
}

func fqdnMap(zone string, records types.Map) (types.Map, diag.Diagnostics) {
	elems := map[string]attr.Value{}
	for label := range records.Elements() {
		elems[label] = types.StringValue(fqdn(label, zone))
	}
	return types.MapValue(types.StringType, elems)
}

func fqdn(label, zone string) string {
	if label == "@" {
		return zone
	}
	return label + "." + zone
}

// listRecords pages through every record of a zone.
func listRecords(ctx context.Context, do *godo.Client, zone string) ([]godo.DomainRecord, error) {
	var all []godo.DomainRecord
	opt := &godo.ListOptions{Page: 1, PerPage: 200}
	for {
		recs, resp, err := do.Domains.Records(ctx, zone, opt)
		if err != nil {
			return nil, err
		}
		all = append(all, recs...)
		if resp.Links == nil || resp.Links.IsLastPage() {
			return all, nil
		}
		page, err := resp.Links.CurrentPage()
		if err != nil {
			return nil, err
		}
		opt.Page = page + 1
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
