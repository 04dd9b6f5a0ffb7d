package provider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"golang.org/x/crypto/bcrypt"

	"github.com/classhub/terraform-provider-jhub/internal/fielderr"
	"github.com/classhub/terraform-provider-jhub/internal/hubconfig"
	"github.com/classhub/terraform-provider-jhub/internal/installer"
)

// Each secret jhub_edge only passes through to the droplet (hubconfig's
// Secret* attributes) has a write-only form (Terraform 1.11): NAME_wo,
// which Terraform keeps in no plan and no state, with NAME_wo_version,
// which is kept and whose change installs the value. The provider keeps a
// verifier of the installed file (bcrypt of its sha256) in private state,
// so that Read can check the droplet's copy for drift and an apply that
// does not change the version keeps it.
const (
	writeOnlySuffix = "_wo"
	versionSuffix   = "_wo_version"
	// secretFilesKey is the private state key of the verifiers, by attribute.
	secretFilesKey = "secret_files"
)

// writeOnlySecrets are the attributes with a write-only form.
var writeOnlySecrets = []string{hubconfig.SecretPassword, hubconfig.SecretAdminPasswords, hubconfig.SecretClientSecret, hubconfig.SecretDNSToken, hubconfig.SecretKeyPEM}

// writeOnlyDocs is the part of each write-only attribute's description
// that says how it is installed.
func writeOnlyDocs(name string) string {
	return " Write-only (Terraform 1.11 or later): neither Terraform nor the provider keeps it in plan or state; the provider keeps only a " +
		"bcrypt hash of the installed file's sha256 (private state), to find the droplet's copy changed. Conflicts with `" + name + "`; requires `" +
		name + versionSuffix + "`. The value is installed when the hub is created and when `" + name + versionSuffix + "` changes " +
		"(and again on a new droplet, or to repair a copy changed on the droplet): changing the value alone does nothing."
}

// writeOnlyString is the write-only form of the sensitive string attribute
// name and its version.
func writeOnlyString(name, what string) (schema.StringAttribute, schema.Int64Attribute) {
	return schema.StringAttribute{
		MarkdownDescription: what + writeOnlyDocs(name),
		Optional:            true, Sensitive: true, WriteOnly: true,
		Validators: []validator.String{
			stringvalidator.ConflictsWith(path.MatchRelative().AtParent().AtName(name)),
			stringvalidator.AlsoRequires(path.MatchRelative().AtParent().AtName(name + versionSuffix)),
		},
	}, writeOnlyVersion(name)
}

// writeOnlyMap is writeOnlyString for a map of secrets.
func writeOnlyMap(name, what string) (schema.MapAttribute, schema.Int64Attribute) {
	return schema.MapAttribute{
		MarkdownDescription: what + writeOnlyDocs(name),
		Optional:            true, Sensitive: true, WriteOnly: true, ElementType: types.StringType,
		Validators: []validator.Map{
			mapvalidator.ConflictsWith(path.MatchRelative().AtParent().AtName(name)),
			mapvalidator.AlsoRequires(path.MatchRelative().AtParent().AtName(name + versionSuffix)),
		},
	}, writeOnlyVersion(name)
}

func writeOnlyVersion(name string) schema.Int64Attribute {
	return schema.Int64Attribute{
		MarkdownDescription: "Used together with `" + name + writeOnlySuffix + "` to install it: increment this value when `" + name + writeOnlySuffix +
			"` changes. Kept in state; changing it is an in-place update that installs the configured `" + name + writeOnlySuffix + "`.",
		Optional:   true,
		Validators: []validator.Int64{int64validator.AlsoRequires(path.MatchRelative().AtParent().AtName(name + writeOnlySuffix))},
	}
}

// writeOnlyField is a secret given in its write-only form: the value (null
// where the configuration was not read) and its version.
type writeOnlyField struct {
	value   attr.Value
	version types.Int64
}

// writeOnlyFields maps each secret given in its write-only form (by
// hubconfig's Secret* attribute) to its value and version. The version is
// required with the value, so in state, where the value is null, it says
// which secrets are withheld.
func (m *edgeModel) writeOnlyFields() map[string]writeOnlyField {
	out := map[string]writeOnlyField{}
	add := func(attr string, value attr.Value, version types.Int64) {
		if !version.IsNull() {
			out[attr] = writeOnlyField{value, version}
		}
	}
	if a := m.Auth; a != nil {
		add(hubconfig.SecretPassword, a.PasswordWO, a.PasswordWOVersion)
		add(hubconfig.SecretAdminPasswords, a.AdminPasswordsWO, a.AdminPasswordsWOVersion)
		add(hubconfig.SecretClientSecret, a.ClientSecretWO, a.ClientSecretWOVersion)
	}
	if t := m.TLS; t != nil {
		add(hubconfig.SecretDNSToken, t.DNSTokenWO, t.DNSTokenWOVersion)
		add(hubconfig.SecretKeyPEM, t.KeyPEMWO, t.KeyPEMWOVersion)
	}
	return out
}

// copyWriteOnly takes the write-only values from the configuration, the
// only place they are: plan and state hold them as null.
func (m *edgeModel) copyWriteOnly(cfg *edgeModel) {
	if m.Auth != nil && cfg.Auth != nil {
		m.Auth.PasswordWO, m.Auth.AdminPasswordsWO, m.Auth.ClientSecretWO = cfg.Auth.PasswordWO, cfg.Auth.AdminPasswordsWO, cfg.Auth.ClientSecretWO
	}
	if m.TLS != nil && cfg.TLS != nil {
		m.TLS.DNSTokenWO, m.TLS.KeyPEMWO = cfg.TLS.DNSTokenWO, cfg.TLS.KeyPEMWO
	}
}

// orWriteOnly is the value of a secret given in either form.
func orWriteOnly(plain, wo types.String) string {
	if plain.IsNull() {
		return wo.ValueString()
	}
	return plain.ValueString()
}

// writeOnlyDiags is fieldDiags for the hub's settings: an error about a
// secret given in its write-only form is shown at that attribute, and one
// about a missing secret names both forms.
func writeOnlyDiags(summary string, err error, m *edgeModel) diag.Diagnostics {
	versions := m.writeOnlyFields()
	for _, fe := range fielderr.All(err) {
		attr := fe.Path.String()
		if _, ok := versions[attr]; ok {
			if p, perr := fielderr.Parse(attr + writeOnlySuffix); perr == nil {
				fe.Path = p
			}
		} else if strings.HasPrefix(fe.Msg, "required") && slices.Contains(writeOnlySecrets, attr) {
			fe.Msg += "; set " + attr + ", or " + attr + writeOnlySuffix + " with " + attr + versionSuffix + " to keep it out of the state"
		}
	}
	return fieldDiags(summary, err)
}

// verifiers are the private state's bcrypt hashes of the installed files of
// the write-only secrets, by attribute.
type verifiers map[string]string

func readVerifiers(ctx context.Context, get func(context.Context, string) ([]byte, diag.Diagnostics)) (verifiers, diag.Diagnostics) {
	raw, diags := get(ctx, secretFilesKey)
	v := verifiers{}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &v); err != nil {
			diags.AddError("Cannot read the provider's private state", "The hashes of the installed write-only secrets are unreadable ("+err.Error()+"); the next apply installs every write-only value again.")
		}
	}
	return v, diags
}

func (v verifiers) save(ctx context.Context, set func(context.Context, string, []byte) diag.Diagnostics) diag.Diagnostics {
	raw, err := json.Marshal(v)
	if err != nil {
		var diags diag.Diagnostics
		diags.AddError("Cannot write the provider's private state", err.Error())
		return diags
	}
	return set(ctx, secretFilesKey, raw)
}

// verifies reports whether the file of attr with the given sha256 is the
// one installed.
func (v verifiers) verifies(attr, sha string) bool {
	h, ok := v[attr]
	return ok && sha != "" && bcrypt.CompareHashAndPassword([]byte(h), []byte(sha)) == nil
}

// record returns the verifiers after an install: for each write-only
// secret's file (attrs: path → attribute), the hash of what the droplet
// holds now, reusing old's where the file did not change.
func (v verifiers) record(files []installer.File, attrs map[string]string, versions map[string]writeOnlyField, res installer.Result) (verifiers, error) {
	out := verifiers{}
	for _, f := range files {
		attr, ok := attrs[f.Path]
		if _, wo := versions[attr]; !ok || !wo {
			continue
		}
		sha := f.Keep
		if !slices.Contains(res.Kept, f.Path) {
			sum := sha256.Sum256(f.Content)
			sha = hex.EncodeToString(sum[:])
		}
		if v.verifies(attr, sha) {
			out[attr] = v[attr]
			continue
		}
		h, err := bcrypt.GenerateFromPassword([]byte(sha), bcrypt.DefaultCost)
		if err != nil {
			return nil, err
		}
		out[attr] = string(h)
	}
	return out, nil
}
