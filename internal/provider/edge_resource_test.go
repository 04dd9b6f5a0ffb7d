package provider

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/classhub/terraform-provider-jhub/internal/testkit"
)

// Bad hub settings fail the plan, before anything touches a droplet.
func TestAccEdge_validation(t *testing.T) {
	for name, tc := range map[string]struct{ attrs, want string }{
		"base url":              {`base_url = "/a b/"`, `base_url`},
		"internal port":         {`extra_ufw_rules = ["allow 881/tcp"]`, `(?s)port 881.*internal`},
		"ufw injection":         {`extra_ufw_rules = ["allow 22; reboot"]`, `not a ufw rule`},
		"acme no email":         {`tls = { mode = "acme" }`, `(?s)email`},
		"auth kind":             {`auth = { kind = "ldap" }`, `(?s)auth.kind`},
		"no hub host":           {`hub_hosts = []`, `(?s)hub_hosts`},
		"shared no pass":        {`auth = { kind = "shared-password" }`, `(?s)auth.password: required.*set\s+auth.password,\s+or\s+auth.password_wo\s+with\s+auth.password_wo_version`},
		"oidc email no domains": {`auth = { kind = "oidc", client_id = "jhub", client_secret = "s3cret-oidc-value", issuer_url = "https://sso.example.edu", username_claim = "email" }`, `(?s)auth.allowed_domains: required with username_claim email`},
		"oidc http issuer":      {`auth = { kind = "oidc", client_id = "jhub", client_secret = "s3cret-oidc-value", issuer_url = "http://sso.example.edu", username_claim = "preferred_username" }`, `(?s)auth.issuer_url: .*must be an https`},
		"github ca not PEM":     {`auth = { kind = "github", client_id = "Iv1.x", client_secret = "s3cret-gh-value", ca_pem = "not a certificate" }`, `(?s)auth.ca_pem: must be PEM certificates`},
		"github bad org":        {`auth = { kind = "github", client_id = "Iv1.x", client_secret = "s3cret-gh-value", github_org = "a/b" }`, `(?s)auth.github_org`},
		"student named root":    {`allowed_users = ["alice", "root"]`, `(?s)Error: Invalid hub settings.*\nallowed_users\["root"\]: "root" is a system or service account`},
		"admin is the ssh user": {`admin_users = ["jhub"]`, `(?s)admin_users\["jhub"\].*droplet's admin user`},
		// Every bad name at once, each at its element with the fix.
		"package names":         {`student_packages = ["python3-numpy", "Python3-Pandas", "python3-scipy=1.13.1", "x"]`, `(?s)(Invalid Debian package name.*?student_packages\["(Python3-Pandas|python3-scipy=1\.13\.1|x)"\]: .*?){3}`},
		"package case":          {`student_packages = ["Python3-Pandas"]`, `(?s)student_packages\["Python3-Pandas"\]: "Python3-Pandas"\s+is\s+not\s+a\s+Debian\s+package\s+name.*write\s+"python3-pandas"`},
		"package pin":           {`student_packages = ["python3-scipy=1.13.1"]`, `(?s)student_packages\["python3-scipy=1.13.1"\]: .*pins\s+a\s+version.*write\s+"python3-scipy"`},
		"course file escapes":   {`course_files = { "../../.bashrc" = "x" }`, `(?s)course_files\["../../.bashrc"\].*clean relative path`},
		"public as private key": {`ssh_private_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJgqmntdaSZzYtx4A8iHNUkF9s/OA5ElKCgCb1QqDJZe"`, `(?s)ssh_private_key.*public key`},
	} {
		t.Run(name, func(t *testing.T) {
			attrs := map[string]string{
				"ssh_private_key": fmt.Sprintf("ssh_private_key = %q", testkit.NewSSHKey(t, "").PrivatePEM),
				"hub_hosts":       `hub_hosts = ["hub.example.edu"]`,
				"auth":            `auth = { kind = "dummy" }`,
				"allowed_users":   `allowed_users = ["alice"]`,
				"tls":             `tls = { mode = "selfsigned" }`,
				"size":            "droplet_memory = 4096\n  droplet_vcpus = 2",
			}
			extra := tc.attrs
			for k := range attrs {
				if regexp.MustCompile(`^` + k + ` =`).MatchString(tc.attrs) {
					attrs[k] = tc.attrs
					extra = ""
				}
			}
			accTest(t, resource.TestCase{Steps: []resource.TestStep{{
				Config: fmt.Sprintf(`
provider "jhub" {
  token = "unused"
}

resource "jhub_edge" "hub" {
  host            = "198.18.0.2"
  host_public_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJgqmntdaSZzYtx4A8iHNUkF9s/OA5ElKCgCb1QqDJZe"
  %s
  %s
  %s
  %s
  %s
  %s
  %s
}`, attrs["ssh_private_key"], attrs["hub_hosts"], attrs["auth"], attrs["tls"], attrs["size"], attrs["allowed_users"], extra),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(tc.want),
			}}})
		})
	}
}

// The write-only forms of the secrets are checked at plan time like the
// plain ones, with their values from the configuration, and each mistake is
// shown at the attribute that holds it. Planned, they are null.
func TestAccEdge_writeOnlyPlan(t *testing.T) {
	key := testkit.NewSSHKey(t, "").PrivatePEM
	config := func(auth, extra string) string {
		tls := `tls = { mode = "selfsigned" }`
		if strings.HasPrefix(extra, "tls =") {
			tls, extra = extra, ""
		}
		return fmt.Sprintf(`
provider "jhub" {
  token = "unused"
}

resource "jhub_edge" "hub" {
  host            = "198.18.0.2"
  host_public_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJgqmntdaSZzYtx4A8iHNUkF9s/OA5ElKCgCb1QqDJZe"
  ssh_private_key = %q
  hub_hosts       = ["hub.example.edu"]
  allowed_users   = ["alice"]
  droplet_memory  = 4096
  droplet_vcpus   = 2
  auth            = %s
  %s
  %s
}`, key, auth, tls, extra)
	}
	fails := func(auth, extra, want string) resource.TestStep {
		return resource.TestStep{Config: config(auth, extra), PlanOnly: true, ExpectError: regexp.MustCompile(want)}
	}
	hub := "jhub_edge.hub"
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: config(`{
    kind                       = "shared-password"
    password_wo                = "a-class-password-wo"
    password_wo_version        = 1
    admin_passwords_wo         = { prof = "prof-own-password-wo" }
    admin_passwords_wo_version = 1
  }`, `admin_users = ["prof"]`),
				PlanOnly: true, ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(hub, tfjsonpath.New("auth").AtMapKey("password_wo"), knownvalue.Null()),
					plancheck.ExpectKnownValue(hub, tfjsonpath.New("auth").AtMapKey("admin_passwords_wo"), knownvalue.Null()),
					plancheck.ExpectKnownValue(hub, tfjsonpath.New("auth").AtMapKey("password"), knownvalue.Null()),
					plancheck.ExpectKnownValue(hub, tfjsonpath.New("auth").AtMapKey("password_wo_version"), knownvalue.Int64Exact(1)),
				}},
			},
			// The cross-field checks see the write-only values.
			fails(`{ kind = "shared-password", password_wo = "short", password_wo_version = 1 }`, "",
				`(?s)auth.password_wo: too short`),
			fails(`{
    kind = "shared-password", password_wo = "the-same-password-x", password_wo_version = 1,
    admin_passwords_wo = { prof = "the-same-password-x" }, admin_passwords_wo_version = 1
  }`, `admin_users = ["prof"]`, `(?s)auth.admin_passwords_wo:\s+the\s+password\s+of\s+"prof"\s+is\s+the\s+class\s+password`),
			fails(`{ kind = "shared-password", password = "a-class-password", admin_passwords_wo = {}, admin_passwords_wo_version = 1 }`, `admin_users = ["prof"]`,
				`(?s)auth.admin_passwords_wo:\s+no\s+password\s+for\s+admin_users\[0\]\s+"prof"`),
			fails(`{ kind = "github", client_id = "Iv1.x", client_secret_wo = "two\nlines", client_secret_wo_version = 1 }`, "",
				`(?s)auth.client_secret_wo:\s+required\s+with\s+auth.kind\s+"github"`),
			fails(`{ kind = "dummy" }`, `tls = { mode = "acme", acme_email = "a@example.edu", acme_challenges = ["dns-01"], dns_token_wo = "dop v1", dns_token_wo_version = 1 }`,
				`(?s)tls.dns_token_wo:\s+must\s+not\s+contain\s+whitespace`),
			// One form at a time, and the version with the value.
			fails(`{ kind = "shared-password", password = "a-class-password", password_wo = "a-class-password", password_wo_version = 1 }`, "",
				`(?s)Attribute\s+"auth.password"\s+cannot\s+be\s+specified\s+when\s+"auth.password_wo"\s+is\s+specified`),
			fails(`{ kind = "shared-password", password_wo = "a-class-password" }`, "",
				`(?s)Attribute\s+"auth.password_wo_version"\s+must\s+be\s+specified\s+when\s+"auth.password_wo"\s+is\s+specified`),
			fails(`{ kind = "shared-password", password = "a-class-password", password_wo_version = 2 }`, "",
				`(?s)Attribute\s+"auth.password_wo"\s+must\s+be\s+specified\s+when\s+"auth.password_wo_version"\s+is\s+specified`),
		},
	})
}
