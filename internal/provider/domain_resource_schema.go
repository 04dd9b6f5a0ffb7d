package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/boolplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

type domainModel struct {
	ID               types.String `tfsdk:"id"`
	Name             types.String `tfsdk:"name"`
	AdoptExisting    types.Bool   `tfsdk:"adopt_existing"`
	Records          types.Map    `tfsdk:"records"`
	CAAIssuer        types.String `tfsdk:"caa_issuer"`
	FQDNs            types.Map    `tfsdk:"fqdns"`
	NameServers      types.List   `tfsdk:"name_servers"`
	OwnsZone         types.Bool   `tfsdk:"owns_zone"`
	RecordIDs        types.Map    `tfsdk:"record_ids"`
	AdoptedRecordIDs types.Map    `tfsdk:"adopted_record_ids"`
}

type recordModel struct {
	IPv4 types.String `tfsdk:"ipv4"`
	IPv6 types.String `tfsdk:"ipv6"`
	TTL  types.Int64  `tfsdk:"ttl"`
}

var recordAttrTypes = map[string]attr.Type{"ipv4": types.StringType, "ipv6": types.StringType, "ttl": types.Int64Type}

const defaultRecordTTL = 1800

func (r *domainResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	zoneName := checkString("Invalid domain name", "must be a lowercase domain name without a trailing dot", checkZoneName)
	resp.Schema = schema.Schema{
		MarkdownDescription: "A DigitalOcean DNS zone and the address records a class hub needs: the hub host and any other hosts served next to it.\n\n" +
			"The resource deletes only what it created. A zone it adopted (`adopt_existing`) or imported stays on destroy, and so does every record it did not create: " +
			"records an import took over are released, never deleted, when they leave `records` or the resource is destroyed.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "The zone name.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"name": schema.StringAttribute{
				MarkdownDescription: "The zone, for example `example.edu`: lowercase, without a trailing dot. Changing it replaces the resource.",
				Required:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
				Validators:          []validator.String{zoneName},
			},
			"adopt_existing": schema.BoolAttribute{
				MarkdownDescription: "When the zone already exists in the account, add the records to it instead of failing. " +
					"An adopted zone is kept on destroy; only the records this resource created are deleted. Records that already exist for the same names are not taken over: " +
					"the plan fails on them (import the zone to take them over).",
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(false),
			},
			"records": schema.MapNestedAttribute{
				MarkdownDescription: "Address records, keyed by host label relative to the zone (`hub`, `www`, `lab.cs`) or `@` for the zone apex. " +
					"Each entry creates an A record, an AAAA record, or both. Records update in place.",
				Required: true,
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"ipv4": schema.StringAttribute{
							MarkdownDescription: "IPv4 address for an A record.",
							Optional:            true,
							Validators:          []validator.String{checkString("Invalid IPv4 address", "must be an IPv4 address", checkIP(false))},
						},
						"ipv6": schema.StringAttribute{
							MarkdownDescription: "IPv6 address for an AAAA record.",
							Optional:            true,
							Validators:          []validator.String{checkString("Invalid IPv6 address", "must be an IPv6 address", checkIP(true))},
						},
						"ttl": schema.Int64Attribute{
							MarkdownDescription: fmt.Sprintf("Time to live in seconds, at least 30. Defaults to `%d`.", defaultRecordTTL),
							Optional:            true,
							Computed:            true,
							Default:             int64default.StaticInt64(defaultRecordTTL),
							Validators:          []validator.Int64{int64validator.AtLeast(30)},
						},
					},
				},
			},
			"caa_issuer": schema.StringAttribute{
				MarkdownDescription: "When set, CAA records at the apex allow only this certificate authority to issue (`letsencrypt.org` for Let's Encrypt) and forbid wildcard issuance.",
				Optional:            true,
				Validators:          []validator.String{checkString("Invalid CAA issuer", "must be the certificate authority's domain name", checkZoneName)},
			},
			"fqdns": schema.MapAttribute{
				MarkdownDescription: "The fully qualified name of each record label, for example `hub.example.edu`. Known at plan time.",
				Computed:            true,
				ElementType:         types.StringType,
			},
			"name_servers": schema.ListAttribute{
				MarkdownDescription: "The zone's name servers, from its NS records at the apex (DigitalOcean's are `ns1.digitalocean.com`, `ns2…` and `ns3…`): " +
					"set these at the domain's registrar, or as NS records in the parent zone, for the records to be seen.",
				Computed:      true,
				ElementType:   types.StringType,
				PlanModifiers: []planmodifier.List{listplanmodifier.UseStateForUnknown()},
			},
			// Ownership lives in state, not private data: Terraform keeps state, but
			// not private data, for an object whose create failed (tainted), and
			// destroy must still remove exactly what was made.
			"owns_zone": schema.BoolAttribute{
				MarkdownDescription: "Whether destroy deletes the zone: true only when this resource created it.",
				Computed:            true,
				PlanModifiers:       []planmodifier.Bool{boolplanmodifier.UseStateForUnknown()},
			},
			"record_ids": schema.MapAttribute{
				MarkdownDescription: "The DigitalOcean IDs of the records this resource created, keyed by `label/TYPE` (`@/CAA/issue` for CAA). Destroy deletes exactly these.",
				Computed:            true,
				ElementType:         types.Int64Type,
			},
			"adopted_record_ids": schema.MapAttribute{
				MarkdownDescription: "The DigitalOcean IDs of the records that existed when the zone was imported and that this resource manages since, keyed like `record_ids`. " +
					"They are updated to match `records`, and left in the zone when they leave `records` or the resource is destroyed.",
				Computed:    true,
				ElementType: types.Int64Type,
			},
		},
	}
}
