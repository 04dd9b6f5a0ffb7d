package hubconfig

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/classhub/terraform-provider-jhub/internal/ondroplet"
)

// Unit names this package renders (ProxyCHP adds CHPUnit).
const (
	EdgeUnit = "jhub-edge.service"
	HubUnit  = "jupyterhub.service"
	CHPUnit  = "configurable-http-proxy.service"
)

// File is one file of a release.
type File struct {
	Path    string      // absolute path on the droplet once the release is current: under Current, or a unit under UnitDir
	Mode    os.FileMode // permission bits: 0600 for secrets, 0644 otherwise
	Owner   string      // user (and group of the same name) owning the file: ondroplet.RootUser or ondroplet.EdgeUser
	Content []byte
	Secret  bool // never log or diff Content
	// Attr names the given secret (SecretPassword, …) that is this file's
	// whole content, "" for other files. A withheld secret's file has no
	// Content.
	Attr string
	// Restart names the unit to restart when this file's content differs
	// from the running release's file at the same path ("" = none). Every
	// unit file restarts its own unit; jhub-edge otherwise reloads (SIGHUP,
	// no dropped connections) on every release: its unit carries a digest of
	// what a reload cannot apply.
	Restart string
}

// Render validates s and returns the files of its release, sorted by path:
// the release's own files under Current and the units under UnitDir. Equal
// Settings give byte-identical output.
func Render(s Settings) ([]File, error) {
	return render(s, layout{current: ondroplet.Current, unitDir: ondroplet.UnitDir})
}

// layout is where a render puts things; tests relocate it below a
// temporary directory.
type layout struct{ current, unitDir string }

func render(s Settings, l layout) ([]File, error) {
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("hubconfig: invalid settings:\n%w", err)
	}
	return build(normalize(s), l)
}

// normalize fills defaults; s is valid.
func normalize(s Settings) Settings {
	s.BaseURL, _ = NormalizeBaseURL(s.BaseURL)
	if s.HubBindURL == "" {
		s.HubBindURL = DefaultHubBindURL
	}
	if u, err := url.Parse(s.HubBindURL); err == nil {
		s.HubBindURL = "http://" + u.Host
	}
	if s.Spawner.DefaultURL == "" {
		s.Spawner.DefaultURL = DefaultURL
	}
	if s.EdgeBinary == "" {
		s.EdgeBinary = DefaultEdgeBinary
	}
	if s.Edge.ProxyMode == "" {
		s.Edge.ProxyMode = ProxyCHPAPI
	}
	if c := s.IdleCull; c != nil && c.Every == 0 {
		s.IdleCull = &IdleCull{Timeout: c.Timeout, Every: min(c.Timeout/2, 5*time.Minute).Truncate(time.Second)}
	}
	return s
}

// release collects the files of one release.
type release struct {
	layout
	files []File
}

// path is where a release file is once the release is current.
func (r *release) path(rel string) string { return path.Join(r.current, rel) }

// add appends a file and returns it for setting Restart; the pointer is
// valid until the next add.
func (r *release) add(rel string, mode os.FileMode, owner string, content []byte) *File {
	r.files = append(r.files, File{Path: r.path(rel), Mode: mode, Owner: owner, Content: content})
	return &r.files[len(r.files)-1]
}

func (r *release) secret(rel, owner string, content []byte) *File {
	f := r.add(rel, ondroplet.SecretMode, owner, content)
	f.Secret = true
	return f
}

// Paths inside a release.
const (
	edgeConfigName = "edge.yaml"
	hubConfigName  = "jupyterhub_config.py"
	cullerName     = "idle_culler.py"
	hubClassesName = "jhub_hub.py"
	checkHubName   = "check_hub.py"
	seedCourseName = "seed_course.py"
	gitPullName    = "jhub_gitpull.py" // the servers' git-pull extension; jhub_hub.py's prepare links it onto their path
	secretsDir     = "secrets"
	// IdentityKeyFile is the HMAC key of the identity the edge hands the
	// hub after an OAuth login (edgeconfig.IdentityHeader), 0600 jhub-edge.
	IdentityKeyFile       = secretsDir + "/identity_key"
	oauthClientSecretFile = secretsDir + "/oauth_client_secret"
	// loginCAFile holds auth.ca_pem, the roots the edge trusts for the
	// login provider (not secret).
	loginCAFile = "tls/login_ca.pem"
	sitesDir    = "sites"
)

func build(s Settings, l layout) ([]File, error) {
	r := &release{layout: l}
	given := func(rel, owner, attr string, content []byte) *File {
		if s.Withheld[attr] {
			content = nil
		}
		f := r.secret(rel, owner, content)
		f.Attr = attr
		return f
	}
	// The hub reads its config and these secrets only when it starts.
	r.secret(secretsDir+"/cookie_secret", ondroplet.RootUser, []byte(s.Secrets.CookieSecret+"\n")).Restart = HubUnit
	r.secret(secretsDir+"/proxy_token", ondroplet.EdgeUser, []byte(s.Secrets.ProxyToken+"\n")).Restart = HubUnit
	switch s.Auth.Kind {
	case AuthSharedPassword, AuthDummy:
		if s.gives(SecretPassword, s.Auth.Password) {
			given(secretsDir+"/hub_password", ondroplet.RootUser, SecretPassword, []byte(s.Auth.Password)).Restart = HubUnit
		}
		if len(s.AdminUsers) > 0 {
			pw, err := json.Marshal(s.Auth.AdminPasswords)
			if err != nil {
				return nil, fmt.Errorf("hubconfig: encoding auth.admin_passwords: %w", err)
			}
			given(secretsDir+"/admin_passwords", ondroplet.RootUser, SecretAdminPasswords, pw).Restart = HubUnit
		}
	case AuthGitHub, AuthOIDC:
		// The edge runs the login; the hub trusts only identities signed
		// with the shared key (root reads the edge's file).
		given(oauthClientSecretFile, ondroplet.EdgeUser, SecretClientSecret, []byte(s.Auth.ClientSecret+"\n"))
		if s.Auth.CAPEM != "" {
			r.add(loginCAFile, ondroplet.FileMode, ondroplet.RootUser, []byte(s.Auth.CAPEM))
		}
		r.secret(IdentityKeyFile, ondroplet.EdgeUser, []byte(s.Secrets.identityKey()+"\n")).Restart = HubUnit
	}
	if len(s.Secrets.BasicAuthHashes) > 0 {
		var b bytes.Buffer
		for _, u := range slices.Sorted(maps.Keys(s.Secrets.BasicAuthHashes)) {
			fmt.Fprintf(&b, "%s:%s\n", u, s.Secrets.BasicAuthHashes[u])
		}
		r.secret(secretsDir+"/htpasswd", ondroplet.EdgeUser, b.Bytes())
	}
	for _, site := range s.Edge.Sites {
		for _, p := range slices.Sorted(maps.Keys(site.StaticFiles)) {
			r.add(path.Join(sitesDir, site.Host, p), 0o644, "root", []byte(site.StaticFiles[p]))
		}
	}
	t := s.Edge.TLS
	switch t.Mode {
	case TLSPEM:
		r.add("tls/cert.pem", ondroplet.FileMode, ondroplet.RootUser, []byte(t.CertPEM))
		// The edge loads its key and its DNS token only when it starts.
		given(secretsDir+"/tls_key.pem", ondroplet.EdgeUser, SecretKeyPEM, []byte(t.KeyPEM)).Restart = EdgeUnit
	case TLSACME:
		if t.ACME.CARootPEM != "" {
			r.add("tls/acme_ca_root.pem", ondroplet.FileMode, ondroplet.RootUser, []byte(t.ACME.CARootPEM))
		}
		if s.gives(SecretDNSToken, t.ACME.DNSToken) {
			given(secretsDir+"/do_token", ondroplet.EdgeUser, SecretDNSToken, []byte(t.ACME.DNSToken+"\n")).Restart = EdgeUnit
		}
	}
	if s.Edge.ProxyMode == ProxyCHP {
		r.secret(secretsDir+"/chp.env", ondroplet.RootUser, []byte("CONFIGPROXY_AUTH_TOKEN="+s.Secrets.ProxyToken+"\n")).Restart = CHPUnit
	}

	edgeYAML, err := renderEdge(s, r)
	if err != nil {
		return nil, err
	}
	r.add(edgeConfigName, ondroplet.FileMode, ondroplet.RootUser, edgeYAML)
	// Not secret, but it lists the class roster: students need not read it.
	r.add(hubConfigName, ondroplet.SecretMode, ondroplet.RootUser, renderHub(s)).Restart = HubUnit
	r.add(checkHubName, ondroplet.FileMode, ondroplet.RootUser, checkHubPy)
	r.add(hubClassesName, ondroplet.FileMode, ondroplet.RootUser, hubClassesPy).Restart = HubUnit
	r.add(seedCourseName, ondroplet.FileMode, ondroplet.RootUser, seedCoursePy)
	// Servers import it when they start: no hub restart.
	r.add(gitPullName, ondroplet.FileMode, ondroplet.RootUser, gitPullPy)
	r.add(labOverridesName, ondroplet.FileMode, ondroplet.RootUser, labOverrides())
	addCourseFiles(r, s.CourseFiles)
	if s.IdleCull != nil {
		r.add(cullerName, ondroplet.FileMode, ondroplet.RootUser, idleCullerPy).Restart = HubUnit
	}
	for name, content := range renderUnits(s, r.current) {
		r.files = append(r.files, File{Path: path.Join(r.unitDir, name), Mode: ondroplet.FileMode, Owner: ondroplet.RootUser, Content: content, Restart: name})
	}
	slices.SortFunc(r.files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return r.files, nil
}
