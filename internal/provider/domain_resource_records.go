package provider

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"
)

// ownership is what this resource manages, so that it never deletes a record
// or a zone somebody else made. It is kept in state (owns_zone, record_ids,
// adopted_record_ids). Keys are "label/TYPE", or "@/CAA/tag" for CAA.
type ownership struct {
	ZoneCreated bool
	Created     map[string]int // record ids this resource created: destroy deletes them
	Adopted     map[string]int // record ids an import took over: updated, never deleted
}

// ownershipOf reads ownership from state. An imported zone has none
// recorded yet: it owns nothing.
func ownershipOf(ctx context.Context, m *domainModel) (*ownership, diag.Diagnostics) {
	var diags diag.Diagnostics
	o := &ownership{ZoneCreated: m.OwnsZone.ValueBool(), Created: map[string]int{}, Adopted: map[string]int{}}
	for _, f := range []struct {
		from types.Map
		into map[string]int
	}{{m.RecordIDs, o.Created}, {m.AdoptedRecordIDs, o.Adopted}} {
		ids := map[string]int64{}
		if !f.from.IsNull() && !f.from.IsUnknown() {
			diags.Append(f.from.ElementsAs(ctx, &ids, false)...)
		}
		for k, id := range ids {
			f.into[k] = int(id)
		}
	}
	return o, diags
}

// manages returns the id of the record this resource manages under key.
func (o *ownership) manages(key string) (int, bool) {
	if id, ok := o.Created[key]; ok {
		return id, true
	}
	id, ok := o.Adopted[key]
	return id, ok
}

func (o *ownership) into(m *domainModel) diag.Diagnostics {
	var diags diag.Diagnostics
	idMap := func(ids map[string]int) types.Map {
		elems := map[string]attr.Value{}
		for k, id := range ids {
			elems[k] = types.Int64Value(int64(id))
		}
		v, d := types.MapValue(types.Int64Type, elems)
		diags.Append(d...)
		return v
	}
	m.RecordIDs, m.AdoptedRecordIDs = idMap(o.Created), idMap(o.Adopted)
	m.OwnsZone = types.BoolValue(o.ZoneCreated)
	return diags
}

// desiredRecords lists the API records the model asks for, by key. An
// address unknown at plan time still names its record.
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
	if !m.CAAIssuer.IsNull() {
		issuer := m.CAAIssuer.ValueString()
		out["@/CAA/issue"] = godo.DomainRecordEditRequest{Type: "CAA", Name: "@", Data: issuer, Tag: "issue", Flags: 0, TTL: defaultRecordTTL}
		// ";" forbids every CA from issuing wildcards: a hub never needs one.
		out["@/CAA/issuewild"] = godo.DomainRecordEditRequest{Type: "CAA", Name: "@", Data: ";", Tag: "issuewild", Flags: 0, TTL: defaultRecordTTL}
	}
	return out, diags
}

// recordKey names a zone record the way ownership does; ok is false for
// records this resource never manages (NS, SOA, MX, TXT, other CAA).
func recordKey(rec godo.DomainRecord) (string, bool) {
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

// keyPath is the attribute a record key comes from.
func keyPath(key string) path.Path {
	if strings.HasPrefix(key, "@/CAA/") {
		return path.Root("caa_issuer")
	}
	label, _, _ := strings.Cut(key, "/")
	return path.Root("records").AtMapKey(label)
}

// placement says what happens to a desired record this resource does not
// manage yet: it is created, or an existing record is adopted, or it cannot
// be added.
type placement struct {
	adopt    *godo.DomainRecord // the record an import takes over
	conflict string             // why the record cannot be added
}

// place decides for a desired record key that the resource does not manage,
// given the zone's records. After an import (adopt) the one record of that
// name and type is taken over; otherwise an A or AAAA record beside one made
// by somebody else is refused, since two answers for the hub's name would
// send half the class elsewhere. CAA records may stand beside others.
func place(zone, key string, existing []godo.DomainRecord, adopt bool) placement {
	var same []godo.DomainRecord
	for _, rec := range existing {
		if k, ok := recordKey(rec); ok && k == key {
			same = append(same, rec)
		}
	}
	switch {
	case len(same) == 0:
		return placement{}
	case adopt && len(same) == 1:
		return placement{adopt: &same[0]}
	case adopt:
		return placement{conflict: fmt.Sprintf("The zone %s has %d %s records for %q (%s): an import adopts one record per name and type. Delete the extra ones outside Terraform, then plan again.",
			zone, len(same), same[0].Type, same[0].Name, describe(same))}
	case same[0].Type == "CAA":
		return placement{}
	default:
		return placement{conflict: fmt.Sprintf("The zone %s already has an %s record for %q (%s) that this resource did not create. Delete it, use another label, or import the zone to take it over.",
			zone, same[0].Type, same[0].Name, describe(same))}
	}
}

func describe(recs []godo.DomainRecord) string {
	parts := make([]string, len(recs))
	for i, r := range recs {
		parts[i] = fmt.Sprintf("id %d, data %s", r.ID, r.Data)
	}
	return strings.Join(parts, "; ")
}

// syncRecords makes the zone's managed records match the plan: it edits what
// changed, creates (or, after an import, adopts) what is missing, deletes
// the created records the plan dropped and releases the adopted ones. It
// updates own as it goes, so a failure halfway leaves an exact record of
// what exists.
func (r *domainResource) syncRecords(ctx context.Context, zone string, plan *domainModel, own *ownership, adopt bool) diag.Diagnostics {
	var diags diag.Diagnostics
	desired, d := desiredRecords(ctx, plan)
	diags.Append(d...)
	if diags.HasError() {
		return diags
	}
	for _, k := range sortedKeys(own.Created) {
		if _, keep := desired[k]; keep {
			continue
		}
		if _, err := r.client.do.Domains.DeleteRecord(ctx, zone, own.Created[k]); err != nil && !isNotFound(err) {
			diags.AddError("Cannot delete record", apiError(fmt.Sprintf("deleting record %s of %s", k, zone), err))
			return diags
		}
		delete(own.Created, k)
	}
	for _, k := range sortedKeys(own.Adopted) {
		if _, keep := desired[k]; !keep {
			tflog.Info(ctx, "releasing adopted record; it stays in the zone", map[string]any{"zone": zone, "record": k})
			delete(own.Adopted, k)
		}
	}
	var existing []godo.DomainRecord // listed once, when a record is to be added
	listed := false
	for _, k := range sortedKeys(desired) {
		want := desired[k]
		if id, ok := own.manages(k); ok {
			_, _, err := r.client.do.Domains.EditRecord(ctx, zone, id, &want)
			if err == nil {
				continue
			}
			if !isNotFound(err) {
				diags.AddError("Cannot update record", apiError(fmt.Sprintf("updating record %s of %s", k, zone), err))
				return diags
			}
			delete(own.Created, k)
			delete(own.Adopted, k)
		}
		if !listed {
			var err error
			if existing, err = listRecords(ctx, r.client.do, zone); err != nil {
				diags.AddError("Cannot read records", apiError("listing records of "+zone, err))
				return diags
			}
			listed = true
		}
		p := place(zone, k, existing, adopt)
		switch {
		case p.conflict != "":
			diags.AddAttributeError(keyPath(k), "Record conflicts with one this resource does not manage", p.conflict)
			return diags
		case p.adopt != nil:
			if _, _, err := r.client.do.Domains.EditRecord(ctx, zone, p.adopt.ID, &want); err != nil {
				diags.AddError("Cannot update record", apiError(fmt.Sprintf("updating the adopted record %s (id %d) of %s", k, p.adopt.ID, zone), err))
				return diags
			}
			own.Adopted[k] = p.adopt.ID
		default:
			rec, _, err := r.client.do.Domains.CreateRecord(ctx, zone, &want)
			if err != nil {
				diags.AddError("Cannot create record", apiError(fmt.Sprintf("creating %s record %q in %s", want.Type, want.Name, zone), err))
				return diags
			}
			own.Created[k] = rec.ID
			tflog.Debug(ctx, "created record", map[string]any{"zone": zone, "record": k, "id": rec.ID})
		}
	}
	return diags
}

// nameServers lists the zone's name servers from its NS records at the apex.
func nameServers(ctx context.Context, do *godo.Client, zone string) (types.List, error) {
	recs, err := listAll(func(opt *godo.ListOptions) ([]godo.DomainRecord, *godo.Response, error) {
		return do.Domains.RecordsByTypeAndName(ctx, zone, "NS", zone, opt)
	})
	if err != nil {
		return types.ListNull(types.StringType), err
	}
	var ns []string
	for _, r := range recs {
		ns = append(ns, strings.TrimSuffix(r.Data, "."))
	}
	sort.Strings(ns)
	l, _ := types.ListValueFrom(ctx, types.StringType, ns)
	return l, nil
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

// listRecords lists every record of a zone.
func listRecords(ctx context.Context, do *godo.Client, zone string) ([]godo.DomainRecord, error) {
	return listAll(func(opt *godo.ListOptions) ([]godo.DomainRecord, *godo.Response, error) {
		return do.Domains.Records(ctx, zone, opt)
	})
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
