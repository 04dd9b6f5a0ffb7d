package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"golang.org/x/crypto/ssh"
)

// resolveKeys turns the configured keys into DigitalOcean key references,
// registering public keys the account lacks (appended to registered, so
// destroy removes exactly those), and returns the public halves of the
// fingerprint keys.
func (r *dropletResource) resolveKeys(ctx context.Context, plan *dropletModel, registered *[]int64) ([]godo.DropletCreateSSHKey, []string, diag.Diagnostics) {
	var diags diag.Diagnostics
	var pubs []string
	diags.Append(plan.SSHPublicKeys.ElementsAs(ctx, &pubs, true)...)
	var refs []godo.DropletCreateSSHKey
	for i, pub := range pubs {
		at := path.Root("ssh_public_keys").AtListIndex(i)
		pk, comment, _, _, err := ssh.ParseAuthorizedKey([]byte(pub))
		if err != nil {
			diags.AddAttributeError(at, "Invalid SSH public key", err.Error())
			return nil, nil, diags
		}
		fp := ssh.FingerprintLegacyMD5(pk)
		key, _, err := r.client.do.Keys.GetByFingerprint(ctx, fp)
		if isNotFound(err) {
			name := fmt.Sprintf("jhub-%s-%d", plan.Name.ValueString(), i)
			if comment != "" {
				name += " " + comment
			}
			key, _, err = r.client.do.Keys.Create(ctx, &godo.KeyCreateRequest{Name: name, PublicKey: strings.TrimSpace(pub)})
			if err == nil {
				*registered = append(*registered, int64(key.ID))
			}
		}
		if err != nil {
			diags.AddAttributeError(at, "Cannot register SSH key", apiError("registering key "+fp, err))
			return nil, nil, diags
		}
		refs = append(refs, godo.DropletCreateSSHKey{ID: key.ID})
	}
	keys, d := r.fingerprintKeys(ctx, plan)
	diags.Append(d...)
	var extra []string
	for _, k := range keys {
		refs = append(refs, godo.DropletCreateSSHKey{ID: k.ID})
		extra = append(extra, k.PublicKey)
	}
	return refs, extra, diags
}

// fingerprintKeys looks up ssh_key_fingerprints in the account, reporting
// every missing one.
func (r *dropletResource) fingerprintKeys(ctx context.Context, plan *dropletModel) ([]godo.Key, diag.Diagnostics) {
	var fps []string
	diags := plan.SSHKeyFingerprints.ElementsAs(ctx, &fps, true)
	var keys []godo.Key
	for _, fp := range fps {
		key, _, err := r.client.do.Keys.GetByFingerprint(ctx, fp)
		if err != nil {
			diags.AddAttributeError(path.Root("ssh_key_fingerprints").AtSetValue(types.StringValue(fp)), "Unknown SSH key",
				apiError(fmt.Sprintf("looking up key %s in the account (add it under Settings → Security, or list it in ssh_public_keys instead)", fp), err))
			continue
		}
		keys = append(keys, *key)
	}
	return keys, diags
}

func (r *dropletResource) deleteKeys(ctx context.Context, ids []int64, diags *diag.Diagnostics) {
	for _, id := range ids {
		if _, err := r.client.do.Keys.DeleteByID(ctx, int(id)); err != nil && !isNotFound(err) {
			diags.AddWarning("SSH key left in the account", apiError(fmt.Sprintf("deleting SSH key %d that this resource registered (delete it under Settings → Security)", id), err))
		}
	}
}
