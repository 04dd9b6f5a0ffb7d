package cloudinit

import (
	"bytes"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestRenderStructure(t *testing.T) {
	c := fullConfig(t)
	doc := decode(t, mustRender(t, c))

	users := get(t, doc, "users").([]any)
	if len(users) != 1 {
		t.Fatalf("users: want exactly the admin (no cloud-init default user), got %v", users)
	}
	u := users[0].(map[string]any)
	want := map[string]any{
		"name": "teacher", "shell": "/bin/bash", "sudo": "ALL=(ALL) NOPASSWD:ALL", "lock_passwd": true,
		"ssh_authorized_keys": []any{c.AdminKeys[0], c.AdminKeys[1]},
	}
	if !reflect.DeepEqual(u, want) {
		t.Errorf("admin user:\n got %v\nwant %v", u, want)
	}

	if got := get(t, doc, "ssh_keys").(map[string]any); !reflect.DeepEqual(got, map[string]any{
		"ed25519_private": c.HostKey.Private, "ed25519_public": c.HostKey.Public,
	}) {
		t.Errorf("ssh_keys: want exactly the pinned ed25519 pair, got keys %v", slices.Sorted(func(yield func(string) bool) {
			for k := range got {
				yield(k)
			}
		}))
	}
	for key, want := range map[string]any{
		"ssh_deletekeys": true, "ssh_pwauth": false, "disable_root": true,
		"hostname": "hub", "fqdn": "hub.class.example.org", "preserve_hostname": false, "package_update": true,
	} {
		if got := get(t, doc, key); got != want {
			t.Errorf("%s: got %v, want %v", key, got, want)
		}
	}
	if got := strList(t, get(t, doc, "ssh_genkeytypes")); !slices.Equal(got, []string{"ed25519"}) {
		t.Errorf("ssh_genkeytypes: got %v, want [ed25519]", got)
	}

	files := writeFilesByPath(t, doc)
	sshd := files["/etc/ssh/sshd_config.d/10-jhub.conf"]
	if sshd == nil {
		t.Fatal("no sshd drop-in in write_files")
	}
	for _, line := range []string{"PermitRootLogin no", "PasswordAuthentication no", "KbdInteractiveAuthentication no", "HostKey /etc/ssh/ssh_host_ed25519_key"} {
		if !slices.Contains(strings.Split(sshd["content"].(string), "\n"), line) {
			t.Errorf("sshd drop-in lacks %q", line)
		}
	}
	for path, f := range files {
		if _, ok := f["permissions"].(string); !ok {
			t.Errorf("%s: permissions %v is a %T, want a quoted string", path, f["permissions"], f["permissions"])
		}
	}
	if p := files["/usr/local/sbin/jhub-block-metadata"]["permissions"]; p != "0755" {
		t.Errorf("metadata script permissions %v, want 0755", p)
	}
	if p := files["/etc/ssh/sshd_config.d/10-jhub.conf"]["permissions"]; p != "0644" {
		t.Errorf("sshd drop-in permissions %v, want 0644", p)
	}

	// The metadata rule: the snippet holds it, the script splices it into
	// ufw's before.rules (loaded on every ufw start and reload).
	snippet := files["/etc/ufw/jhub-before-output.rules"]["content"].(string)
	if !slices.Contains(strings.Split(snippet, "\n"), "-A ufw-before-output -d 169.254.169.254 -m owner ! --uid-owner 0 -j REJECT") {
		t.Errorf("metadata rule missing from the ufw snippet:\n%s", snippet)
	}
	script := files["/usr/local/sbin/jhub-block-metadata"]["content"].(string)
	for _, s := range []string{"rules=/etc/ufw/before.rules", "/etc/ufw/jhub-before-output.rules", "# End required lines"} {
		if !strings.Contains(script, s) {
			t.Errorf("metadata script does not mention %q", s)
		}
	}

	// runcmd: the firewall, exactly, then the hub, then the user's commands.
	var cmds []string
	for _, e := range get(t, doc, "runcmd").([]any) {
		cmds = append(cmds, strings.Join(strList(t, e), " "))
	}
	wantCmds := []string{
		"ufw --force reset",
		"/usr/local/sbin/jhub-block-metadata",
		"ufw default deny incoming",
		"ufw default allow outgoing",
		"ufw limit 22/tcp",
		"ufw allow 80/tcp",
		"ufw allow 443/tcp",
		"ufw --force enable",
		"env DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=600 install --no-install-recommends jupyterhub jupyterlab python3-nbgitpuller node-configurable-http-proxy",
		"touch /var/lib/extra-ran",
	}
	if !slices.Equal(cmds, wantCmds) {
		t.Errorf("runcmd:\n got %q\nwant %q", cmds, wantCmds)
	}

	if got := get(t, doc, "swap"); !reflect.DeepEqual(got, map[string]any{"filename": "/swapfile", "size": 2048 << 20, "maxsize": 2048 << 20}) {
		t.Errorf("swap: got %v", got)
	}
	if got := strList(t, get(t, doc, "packages")); !slices.Equal(got, []string{"ufw", "unattended-upgrades", "htop", "git", "python3-numpy=1:1.24.2-1", "tmux"}) {
		t.Errorf("packages: got %v", got)
	}
	auto := files["/etc/apt/apt.conf.d/20auto-upgrades"]["content"].(string)
	for _, line := range []string{`APT::Periodic::Update-Package-Lists "1";`, `APT::Periodic::Unattended-Upgrade "1";`} {
		if !strings.Contains(auto, line) {
			t.Errorf("20auto-upgrades lacks %s", line)
		}
	}
	if got := get(t, doc, "apt", "primary", 0, "uri"); got != "http://mirror.lab.test/debian" {
		t.Errorf("apt primary: %v", got)
	}
	if got := get(t, doc, "apt", "security", 0, "uri"); got != "http://mirror.lab.test/debian-security" {
		t.Errorf("apt security: %v", got)
	}
	if got := get(t, doc, "timezone"); got != "Europe/Berlin" {
		t.Errorf("extra timezone not merged: %v", got)
	}
}

func TestRenderMinimal(t *testing.T) {
	doc := decode(t, mustRender(t, minimalConfig(t)))
	for _, absent := range []string{"swap", "apt", "fqdn"} {
		if _, ok := doc[absent]; ok {
			t.Errorf("%s present in a minimal payload: %v", absent, doc[absent])
		}
	}
	if got := get(t, doc, "hostname"); got != "hub" {
		t.Errorf("hostname %v", got)
	}
	c := minimalConfig(t)
	c.Hostname = "Hub-1.Class.Example.ORG"
	upper := decode(t, mustRender(t, c))
	if upper["hostname"] != "hub-1" || upper["fqdn"] != "hub-1.class.example.org" {
		t.Errorf("a mixed-case droplet name is not rendered lower-case: %v %v", upper["hostname"], upper["fqdn"])
	}
	last := strList(t, get(t, doc, "runcmd", len(get(t, doc, "runcmd").([]any))-1))
	if !slices.Contains(last, "jupyterhub") {
		t.Errorf("default HubInstall did not install jupyterhub: %v", last)
	}
}

func TestRenderDeterministic(t *testing.T) {
	c := fullConfig(t)
	a, b := mustRender(t, c), mustRender(t, c)
	if !bytes.Equal(a, b) {
		t.Fatal("two renders of the same Config differ; every plan would show a user_data change")
	}
	c.SwapMiB = 1024
	if bytes.Equal(a, mustRender(t, c)) {
		t.Fatal("changing SwapMiB did not change the payload")
	}
}

// Every payload shape the provider can produce passes the real schema.
func TestRenderedPayloadsPassCloudInitSchema(t *testing.T) {
	cases := map[string]func(*Config){
		"full":         func(*Config) {},
		"minimal":      func(c *Config) { *c = minimalConfig(t) },
		"no swap":      func(c *Config) { c.SwapMiB = 0 },
		"image mirror": func(c *Config) { c.AptMirror, c.AptSecurityMirror = "", "" },
		"no extra":     func(c *Config) { c.ExtraCloudConfig = "" },
		"extra maps and lists": func(c *Config) {
			c.ExtraCloudConfig = "apt:\n  conf: |\n    Acquire::Retries \"3\";\nwrite_files:\n  - path: /etc/motd\n    content: hello\n    permissions: '0644'\nbootcmd:\n  - [sh, -c, 'echo \"$(date)\" > /run/booted']\nntp:\n  enabled: true\n"
		},
		"metacharacters in keys": func(c *Config) {
			c.AdminKeys = []string{`command="echo 'hi' # : {x} [y]",no-pty ` + adminKey(t, `c: #d & *e ! %f`)}
		},
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := fullConfig(t)
			mutate(&c)
			requireSchemaValid(t, mustRender(t, c))
		})
	}
}

// The schema check has teeth: the same payload with an unquoted mode, the
// mistake the quoting rule is about, is rejected.
func TestCloudInitSchemaRejectsUnquotedMode(t *testing.T) {
	good := mustRender(t, fullConfig(t))
	bad := bytes.Replace(good, []byte(`permissions: "0644"`), []byte(`permissions: 0644`), 1)
	if bytes.Equal(good, bad) {
		t.Fatal(`no "permissions: \"0644\"" line to break`)
	}
	ok, out := cloudInitSchema(t, bad)
	if ok || !strings.Contains(out, "permissions") {
		t.Fatalf("cloud-init schema accepted an integer mode:\n%s", out)
	}
}

func TestNoSecretsInUserData(t *testing.T) {
	// Values the provider holds for jhub_edge; none may reach user_data.
	tlsKey := tlsKeyPEM(t)
	secrets := map[string]string{
		"cookie secret": "6f1c3e9a0b7d4c2e8f5a1b3c7d9e0f2a4b6c8d0e1f3a5b7c9d2e4f6a8b0c1d3e",
		"proxy token":   "Zq3vT8pL2mXw9sK4rY7nB1cF6hJ0dG5a",
		"basic auth":    "correct horse battery staple",
		"do token":      "dop_v1_4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c",
		"tls key":       tlsKey,
	}
	c := fullConfig(t)
	out := string(mustRender(t, c))
	for name, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("%s appears in user_data", name)
		}
	}
	begins := regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----`).FindAllString(out, -1)
	if len(begins) != 1 {
		t.Fatalf("want exactly one private key (the host key) in user_data, found %d", len(begins))
	}
	if got := get(t, decode(t, []byte(out)), "ssh_keys", "ed25519_private"); got != c.HostKey.Private {
		t.Fatal("the one private key in user_data is not the host key")
	}

	// The ways a secret could be smuggled in are refused, and the refusal
	// does not echo it.
	smuggle := map[string]func(*Config){
		"tls key as admin key": func(c *Config) { c.AdminKeys = []string{tlsKey} },
		"tls key in extra": func(c *Config) {
			c.ExtraCloudConfig = "write_files:\n  - path: /etc/key.pem\n    content: |\n" + indent(tlsKey, "      ")
		},
		"password in extra": func(c *Config) { c.ExtraCloudConfig = "password: " + secrets["basic auth"] },
		"chpasswd in extra": func(c *Config) {
			c.ExtraCloudConfig = "chpasswd:\n  users:\n    - {name: teacher, password: '" + secrets["basic auth"] + "'}"
		},
		"encrypted key as host key": func(c *Config) { c.HostKey.Private = encryptedHostKey(t) },
	}
	for name, mutate := range smuggle {
		t.Run(name, func(t *testing.T) {
			c := fullConfig(t)
			mutate(&c)
			_, err := Render(c)
			if err == nil {
				t.Fatal("rendered")
			}
			for sname, s := range secrets {
				if strings.Contains(err.Error(), s) || strings.Contains(err.Error(), "PRIVATE KEY") {
					t.Errorf("error echoes the %s: %v", sname, err)
				}
			}
		})
	}
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n"+prefix) + "\n"
}

func TestSizeLimit(t *testing.T) {
	withMotd := func(n int) Config {
		c := minimalConfig(t)
		c.ExtraCloudConfig = "write_files:\n  - path: /etc/motd\n    permissions: '0644'\n    content: " + strings.Repeat("a", n) + "\n"
		return c
	}
	base := len(mustRender(t, withMotd(1000)))
	fit := 1000 + MaxUserData - base

	exact, err := Render(withMotd(fit))
	if err != nil || len(exact) != MaxUserData {
		t.Fatalf("a payload of exactly %d bytes: len %d, err %v", MaxUserData, len(exact), err)
	}
	requireSchemaValid(t, exact)

	_, err = Render(withMotd(fit + 1))
	if !isFieldErr(err, "extra_cloud_config") {
		t.Fatalf("one byte over: want a field error on extra_cloud_config, got %v", err)
	}
	for _, s := range []string{strconv.Itoa(MaxUserData + 1), strconv.Itoa(MaxUserData), "64 KiB"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not name %s", err, s)
		}
	}

	_, err = Render(withMotd(200 << 10))
	if err == nil || !strings.Contains(err.Error(), fmt.Sprint(MaxUserData)) {
		t.Fatalf("200 KiB extra: %v", err)
	}
}

func BenchmarkRender(b *testing.B) {
	c := fullConfig(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Render(c); err != nil {
			b.Fatal(err)
		}
	}
}
