package edgeconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// exampleIn returns the annotated example with its absolute paths moved
// under dir, where the files it names are created.
func exampleIn(t testing.TB, dir string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/edge.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"etc/jhub-edge", "srv/www", "var/lib/jhub-edge"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for name, mode := range map[string]os.FileMode{"etc/jhub-edge/proxy-token": 0o600, "etc/jhub-edge/htpasswd": 0o644} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x:{SHA}x\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	s := string(b)
	for _, p := range []string{"/etc/jhub-edge", "/srv/www", "/var/lib/jhub-edge"} {
		s = strings.ReplaceAll(s, p, dir+p)
	}
	return []byte(s)
}

func TestExampleConfig(t *testing.T) {
	dir := t.TempDir()
	cfg, err := ParseConfig(exampleIn(t, dir))
	if err != nil {
		t.Fatalf("the documented example must be valid: %v", err)
	}
	if cfg.Hub.BaseURL != "/jhub/" || cfg.Hub.Mode != ModeCHPAPI || len(cfg.Sites) != 2 || !*cfg.HSTS ||
		cfg.Limits.ReadHeaderTimeout != 10*time.Second || cfg.Sites[1].BasicAuth.Realm != "Grades" ||
		cfg.Limits.BodyTimeout != DefaultBodyTimeout || cfg.Limits.BodyMinRate != DefaultBodyMinRate ||
		cfg.Limits.MaxConnsPerClient != DefaultMaxConnsPerClient || cfg.Limits.AuthMaxFailures != DefaultAuthMaxFailures ||
		cfg.Limits.AuthFailureWindow != DefaultAuthFailureWindow {
		t.Errorf("example decoded as %+v", cfg)
	}
	c := cfg.ToCerts()
	if c.Mode != "acme" || c.ACME.Email != "admin@example.edu" || strings.Join(c.Hosts, ",") != "hub.example.edu,www.example.edu,grades.example.edu" {
		t.Errorf("certs config %+v", c)
	}
}

func TestConfigDefaults(t *testing.T) {
	dir := tokenDir(t)
	cfg, err := ParseConfig([]byte(strings.ReplaceAll(`version: 1
tls: {mode: selfsigned, storage_dir: "{{dir}}/tls"}
hub: {hosts: [Hub.Test], api_token_file: "{{dir}}/token"}
`, "{{dir}}", dir)))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != (ListenConfig{HTTP: ":80", HTTPS: ":443", API: "127.0.0.1:8001"}) || cfg.Hub.Mode != ModeCHPAPI ||
		cfg.Hub.BaseURL != "/" || !*cfg.HSTS || !*cfg.Log.Access || cfg.Limits.MaxHeaderBytes != DefaultMaxHeaderBytes ||
		cfg.Limits.IdleTimeout != DefaultIdleTimeout || cfg.Hub.Hosts[0] != "hub.test" ||
		cfg.Limits.BodyTimeout != DefaultBodyTimeout || cfg.Limits.BodyMinRate != DefaultBodyMinRate ||
		cfg.Limits.MaxConnsPerClient != DefaultMaxConnsPerClient || cfg.Limits.AuthMaxFailures != DefaultAuthMaxFailures ||
		cfg.Limits.AuthFailureWindow != DefaultAuthFailureWindow {
		t.Errorf("defaults: %+v", cfg)
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	dir := tokenDir(t)
	if err := os.WriteFile(filepath.Join(dir, "open-token"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "empty-token"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	const head = "version: 1\ntls: {mode: selfsigned, storage_dir: /tmp/x}\n"
	const hub = "hub: {hosts: [hub.test], api_token_file: \"{{dir}}/token\"}\n"
	for _, tc := range []struct{ yaml, want string }{
		{head + hub + "bogus: 1\n", "field bogus not found"},
		{head + "hub: {hosts: [hub.test], api_token_file: \"{{dir}}/token\", upstraem: x}\n", "field upstraem not found"},
		{"version: 2\ntls: {mode: selfsigned, storage_dir: /tmp/x}\n" + hub, "version: must be 1"},
		{head + hub + "listen: {api: \"0.0.0.0:8001\"}\n", "listen.api: \"0.0.0.0:8001\" is not a loopback address"},
		{head + hub + "listen: {https: \"443\"}\n", "listen.https: \"443\" is not host:port"},
		{"version: 1\ntls: {mode: magic, storage_dir: /tmp/x}\n" + hub, "tls.mode: \"magic\" is not one of"},
		{"version: 1\ntls: {mode: selfsigned}\n" + hub, "tls.storage_dir: required"},
		{"version: 1\ntls: {mode: pem, storage_dir: /tmp/x}\n" + hub, "tls.pem.cert_file: required"},
		{"version: 1\ntls: {mode: acme, storage_dir: /tmp/x, acme: {challenges: [http-02]}}\n" + hub, "tls.acme.challenges[0]: \"http-02\""},
		{head, "hub.hosts: at least one host name is required"},
		{head + "hub: {hosts: [hub.test], api_token_file: \"{{dir}}/token\", base_url: /jhub}\n", "hub.base_url: \"/jhub\" must start and end with '/'"},
		{head + "hub: {hosts: [hub.test]}\n", "hub.api_token_file: required with mode chp-api"},
		{head + "hub: {hosts: [hub.test], api_token_file: \"{{dir}}/open-token\"}\n", "hub.api_token_file: token file {{dir}}/open-token is readable by group or others (mode 0644); chmod 0600 it"},
		{head + "hub: {hosts: [hub.test], api_token_file: \"{{dir}}/empty-token\"}\n", "is empty"},
		{head + "hub: {hosts: [hub.test], mode: upstream}\n", "hub.upstream: required with mode upstream"},
		{head + "hub: {hosts: [hub.test], mode: upstream, upstream: \"127.0.0.1:8000\"}\n", "hub.upstream: \"127.0.0.1:8000\" must be an absolute http:// or https:// URL"},
		{head + "hub: {hosts: [hub.test], mode: both, api_token_file: \"{{dir}}/token\"}\n", "hub.mode: \"both\" is not one of chp-api, upstream"},
		{head + "hub: {hosts: [\"hub.test:443\"], api_token_file: \"{{dir}}/token\"}\n", "hub.hosts[0]: \"hub.test:443\" is not a valid host name"},
		{head + hub + "sites: [{host: a.test, upstream: \"http://x\"}, {host: b.test, static: {root: /x/does/not/exist}}]\n", "sites[1].static.root: directory /x/does/not/exist does not exist"},
		{head + hub + "sites: [{host: hub.test, upstream: \"http://x\"}]\n", "sites[0].host: host \"hub.test\" is already used by hub.hosts[0]"},
		{head + hub + "sites: [{host: a.test, upstream: \"http://x\", static: {root: /tmp}}]\n", "sites[0]: set either static or upstream, not both"},
		{head + hub + "sites: [{host: a.test}]\n", "sites[0]: set static.root or upstream"},
		{head + hub + "sites: [{host: a.test, static: {root: tmp}}]\n", "sites[0].static.root: \"tmp\" must be an absolute path"},
		{head + hub + "sites: [{host: a.test, upstream: \"http://x\", basic_auth: {htpasswd: /nope, paths: [admin]}}]\n", "sites[0].basic_auth.htpasswd: file /nope does not exist"},
		{head + hub + "sites: [{host: a.test, upstream: \"http://x\", basic_auth: {htpasswd: /nope, paths: [admin]}}]\n", "sites[0].basic_auth.paths[0]: \"admin\" must start with '/'"},
		{head + hub + "limits: {max_header_bytes: 10}\n", "limits.max_header_bytes: 10 is outside"},
		{head + hub + "limits: {read_header_timeout: soon}\n", "cannot unmarshal"},
		{head + hub + "limits: {body_timeout: -1s}\n", "limits.body_timeout: must be positive"},
		{head + hub + "limits: {body_min_rate: -5}\n", "limits.body_min_rate: must be positive"},
		{head + hub + "limits: {max_conns_per_client: -1}\n", "limits.max_conns_per_client: must be positive"},
		{head + hub + "limits: {upgrade_timeout: -1s}\n", "limits.upgrade_timeout: must be positive"},
		{head + hub + "limits: {auth_max_failures: -1}\n", "limits.auth_max_failures: must be positive"},
		{head + hub + "limits: {auth_failure_window: -1m}\n", "limits.auth_failure_window: must be positive"},
		{head + hub + "log: {level: loud}\n", "log.level: \"loud\" is not one of"},
		{head + hub + "---\nversion: 1\n", "more than one YAML document"},
		{"", "the file is empty"},
	} {
		y := strings.ReplaceAll(tc.yaml, "{{dir}}", dir)
		want := strings.ReplaceAll(tc.want, "{{dir}}", dir)
		_, err := ParseConfig([]byte(y))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("config:\n%s\nerror: %v\nwant it to contain: %s", y, err, want)
		}
	}
}

// FuzzParseConfig: the parser never panics, and whatever it accepts is
// internally consistent.
func FuzzParseConfig(f *testing.F) {
	dir := f.TempDir()
	f.Add(exampleIn(f, dir))
	f.Add([]byte("version: 1\ntls: {mode: selfsigned, storage_dir: /tmp/x}\nhub: {hosts: [a.b], mode: upstream, upstream: \"http://127.0.0.1:1\"}\n"))
	f.Add([]byte("version: 1\nsites: [{host: x, static: {root: /}}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data)
		if err != nil {
			return
		}
		if cfg.Version != 1 || len(cfg.Hub.Hosts) == 0 || cfg.HSTS == nil || cfg.Log.Access == nil {
			t.Fatalf("accepted an inconsistent config: %+v", cfg)
		}
		seen := map[string]bool{}
		for _, h := range cfg.Hosts() {
			if seen[h] || !validHostname(h) {
				t.Fatalf("accepted duplicate or invalid host %q", h)
			}
			seen[h] = true
		}
	})
}

// tokenDir holds the token file the example's chp-api hub refers to.
func tokenDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte("0123456789abcdef0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}
