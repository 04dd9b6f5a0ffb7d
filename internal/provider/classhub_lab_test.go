//go:build lab

package provider

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/classhub/terraform-provider-jhub/internal/hubclient"
	"github.com/classhub/terraform-provider-jhub/internal/hubconfig"
	"github.com/classhub/terraform-provider-jhub/internal/installer"
	"github.com/classhub/terraform-provider-jhub/internal/lab"
	"github.com/classhub/terraform-provider-jhub/internal/lab/labtest"

	"github.com/classhub/terraform-provider-jhub/internal/testkit"
)

// classHub is one end-to-end run's world: the lab, the admin's key, and
// what a student's browser trusts.
type classHub struct {
	lab          *lab.Lab
	adminPEM     string
	adminPub     string
	caPEM        string // roots of what Pebble issues
	acmeCAPEM    string // trust for Pebble's own HTTPS
	roots        *x509.CertPool
	zone, hubFQN string
	hostKey      string // the droplet's, from state
	admin        string // the droplet's admin user, who has sudo
	serial       string // of the first certificate the hub served
}

func newClassHub(t *testing.T) *classHub {
	t.Helper()
	l := labtest.Start(t)
	// As on a Terraform Cloud agent: no home directory with keys or config.
	t.Setenv("HOME", t.TempDir())
	admin := testkit.NewSSHKey(t, "teacher@lab")
	env := l.Env()
	ca, err := os.ReadFile(env.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	acmeCA, err := os.ReadFile(env.ACMECAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca) {
		t.Fatalf("%s holds no certificate", env.CAFile)
	}
	return &classHub{
		lab: l, adminPEM: admin.PrivatePEM,
		adminPub: admin.AuthorizedKey,
		caPEM:    string(ca), acmeCAPEM: string(acmeCA), roots: roots,
		zone: "cs101.lab.test", hubFQN: "hub.cs101.lab.test", admin: "sysadmin",
	}
}

// config is the class hub: the same three resources as examples/class-hub,
// against the lab. students and baseURL vary per step.
func (h *classHub) config(students []string, baseURL string) string {
	env := h.lab.Env()
	quoted := make([]string, len(students))
	for i, s := range students {
		quoted[i] = fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf(`
provider "jhub" {
  token        = %[1]q
  api_endpoint = %[2]q
}

resource "jhub_droplet" "hub" {
  name                = "hub-cs101"
  region              = "fra1"
  size                = "s-2vcpu-4gb"
  admin_user          = "sysadmin"
  ssh_public_keys     = [%[3]q]
  swap_mib            = 0
  apt_mirror          = %[4]q
  apt_security_mirror = %[5]q
}

resource "jhub_domain" "class" {
  name    = %[6]q
  records = {
    hub = { ipv4 = jhub_droplet.hub.ipv4_address }
    www = { ipv4 = jhub_droplet.hub.ipv4_address }
  }
}

resource "jhub_edge" "hub" {
  host            = jhub_droplet.hub.ipv4_address
  host_public_key = jhub_droplet.hub.host_public_key
  ssh_user        = jhub_droplet.hub.admin_user
  ssh_private_key = %[7]q

  hub_hosts     = [jhub_domain.class.fqdns["hub"]]
  base_url      = %[8]q
  auth          = { kind = "shared-password", password = "class-password", admin_passwords = { teacher = "teacher-password-1234" } }
  allowed_users = [%[9]s]
  admin_users   = ["teacher"]
  droplet_memory = jhub_droplet.hub.memory
  droplet_vcpus  = jhub_droplet.hub.vcpus

  tls = {
    mode               = "acme"
    acme_email         = "teacher@cs101.lab.test"
    acme_directory_url = %[10]q
    acme_ca_root_pem   = %[11]q
    acme_challenges    = ["http-01"]
  }
  trusted_ca_pem = %[12]q

  sites = [{
    host         = jhub_domain.class.fqdns["www"]
    static_files = { "index.html" = "<h1>CS 101</h1>" }
    basic_auth   = { paths = ["/private/"] }
  }]
  basic_auth_users = { ta = "ta-password" }
}
`, env.Token, env.APIURL, h.adminPub, env.AptMirror, env.AptSecurityMirror, h.zone, h.adminPEM,
		baseURL, strings.Join(quoted, ", "), env.ACMEDirectory, h.acmeCAPEM, h.caPEM)
}

func (h *classHub) client(t *testing.T, baseURL string) *hubclient.Client {
	t.Helper()
	c, err := hubclient.New("https://"+h.hubFQN+baseURL, h.roots, h.lab.Resolver())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// studentKernel logs user in at the hub's root, starts their server and
// opens a kernel.
func (h *classHub) studentKernel(ctx context.Context, t *testing.T, user, password string) (*hubclient.Client, *hubclient.Kernel, error) {
	c := h.client(t, "/")
	if err := c.Login(ctx, user, password); err != nil {
		return nil, nil, err
	}
	if err := c.StartServer(ctx, user); err != nil {
		return nil, nil, err
	}
	k, err := c.OpenKernel(ctx, user)
	return c, k, err
}

func dropletIP(s *terraform.State) string {
	return s.RootModule().Resources["jhub_droplet.hub"].Primary.Attributes["ipv4_address"]
}

// The class hub from terraform apply to a kernel that runs code, and what
// admins do to it during a semester.
func TestLabClassHub(t *testing.T) {
	h := newClassHub(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	var kern *hubclient.Kernel
	var ip string
	start := time.Now()
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: h.config([]string{"alice"}, "/"),
				Check: resource.ComposeTestCheckFunc(
					func(s *terraform.State) error {
						ip = dropletIP(s)
						h.hostKey = s.RootModule().Resources["jhub_droplet.hub"].Primary.Attributes["host_public_key"]
						t.Logf("apply took %s", time.Since(start).Round(time.Second))
						return nil
					},
					func(*terraform.State) error { return h.checkEdge(ctx, ip) },
					func(*terraform.State) error {
						// A student logs in, starts a server and runs code over the kernel websocket.
						c, k, err := h.studentKernel(ctx, t, "alice", "class-password")
						if err != nil {
							return err
						}
						out, err := k.Execute(ctx, "1+1")
						if err != nil || out != "2" {
							return fmt.Errorf("1+1 gave %q, %v", out, err)
						}
						t.Logf("apply to a kernel executing code: %s", time.Since(start).Round(time.Second))
						if bad := c.InsecureCookies(); len(bad) > 0 {
							return fmt.Errorf("cookies without Secure: %q", bad)
						}
						// The student's code cannot reach the metadata service or the hub's secrets.
						for code, want := range map[string]string{
							"import urllib.request\ntry:\n    urllib.request.urlopen('http://169.254.169.254/metadata/v1/id', timeout=3); print('READ')\nexcept Exception as e:\n    print('refused', type(e).__name__)":              "refused",
							"import glob\nhits=[]\nfor p in glob.glob('/opt/jhub/releases/*/secrets/*'):\n    try:\n        open(p).read(); hits.append(p)\n    except OSError:\n        pass\nprint('secrets readable:', len(hits))": "secrets readable: 0",
						} {
							out, err := k.Execute(ctx, code)
							if err != nil || !strings.HasPrefix(out, want) {
								return fmt.Errorf("student code %q printed %q (%v), want %q", code, out, err, want)
							}
						}
						kern = k
						return nil
					},
				),
			},
			{
				// Adding a student changes the hub in place; the droplet stays and
				// the open kernel websocket survives the edge's reload. An extra
				// firewall rule comes along (and goes again in the next step).
				Config: strings.Replace(h.config([]string{"alice", "bob"}, "/"), `basic_auth_users = {`, `extra_ufw_rules  = ["allow 8888/tcp"]`+"\n  basic_auth_users = {", 1),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("jhub_droplet.hub", plancheck.ResourceActionNoop),
					plancheck.ExpectResourceAction("jhub_edge.hub", plancheck.ResourceActionUpdate),
				}},
				Check: func(*terraform.State) error {
					out, err := kern.Execute(ctx, "2+2")
					if err != nil || out != "4" {
						return fmt.Errorf("the kernel websocket opened before the update: 2+2 gave %q, %v", out, err)
					}
					if st := h.ssh(t, ctx, ip, "sudo ufw status"); !strings.Contains(st, "8888/tcp") {
						return fmt.Errorf("extra_ufw_rules not applied; ufw status:\n%s", st)
					}
					c := h.client(t, "/")
					return c.Login(ctx, "bob", "class-password")
				},
			},
			{
				// Hand-made drift (a stopped hub) shows in the plan and the apply repairs it.
				PreConfig: func() { h.ssh(t, ctx, ip, "sudo systemctl stop jupyterhub") },
				Config:    h.config([]string{"alice", "bob"}, "/"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("jhub_edge.hub", plancheck.ResourceActionUpdate),
				}},
				Check: func(*terraform.State) error {
					if out := h.ssh(t, ctx, ip, "systemctl is-active jupyterhub"); strings.TrimSpace(out) != "active" {
						return fmt.Errorf("jupyterhub is %q after the repair", out)
					}
					if st := h.ssh(t, ctx, ip, "sudo ufw status"); strings.Contains(st, "8888") || !strings.Contains(st, "443/tcp") {
						return fmt.Errorf("the dropped rule should be gone and the baseline kept; ufw status:\n%s", st)
					}
					return nil
				},
			},
			{
				// The sub-path variant, for a student without a running server
				// (running servers keep the address they started with).
				Config: h.config([]string{"alice", "bob", "carol"}, "/jhub/"),
				Check: func(*terraform.State) error {
					c := h.client(t, "/jhub/")
					if err := c.Login(ctx, "carol", "class-password"); err != nil {
						return err
					}
					if err := c.StartServer(ctx, "carol"); err != nil {
						return err
					}
					code, _, err := c.Do(ctx, http.MethodGet, "hub/api/", nil)
					if err != nil || code != http.StatusOK {
						return fmt.Errorf("/jhub/hub/api/: %v %v", code, err)
					}
					return nil
				},
			},
			{
				// A broken release (the hub cannot bind: a root process holds its port) rolls back.
				PreConfig: func() {
					h.ssh(t, ctx, ip, "sudo systemd-run --unit=squat-884 python3 -m http.server 884 --bind 127.0.0.1")
				},
				Config:      strings.Replace(h.config([]string{"alice", "bob", "carol"}, "/jhub/"), `base_url      =`, `hub_bind_url  = "http://127.0.0.1:884"`+"\n  base_url      =", 1),
				ExpectError: regexp.MustCompile(`(?s)Install failed.*rolled back`),
			},
			{
				// ...and the old hub keeps serving.
				Config: h.config([]string{"alice", "bob", "carol"}, "/jhub/"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("jhub_edge.hub", plancheck.ResourceActionNoop),
				}},
				Check: func(*terraform.State) error {
					c := h.client(t, "/jhub/")
					return c.Login(ctx, "carol", "class-password")
				},
			},
			{
				// Next semester: a new droplet under the same hub. The edge moves
				// in place and brings its certificate along instead of asking the CA again.
				Config: h.config([]string{"alice", "bob", "carol"}, "/jhub/"),
				Taint:  []string{"jhub_droplet.hub"},
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("jhub_droplet.hub", plancheck.ResourceActionDestroyBeforeCreate),
					plancheck.ExpectResourceAction("jhub_edge.hub", plancheck.ResourceActionUpdate),
				}},
				Check: func(s *terraform.State) error {
					if newIP := dropletIP(s); newIP == ip {
						return fmt.Errorf("the droplet kept its address %s; was it replaced?", ip)
					}
					serial, err := h.servedSerial(ctx)
					if err != nil {
						return err
					}
					if serial != h.serial {
						return fmt.Errorf("the rebuilt hub serves certificate %s, not the one issued before (%s)", serial, h.serial)
					}
					c := h.client(t, "/jhub/")
					return c.Login(ctx, "carol", "class-password")
				},
			},
		},
	})
}

// checkEdge checks what the edge does for everyone: DNS, the redirect, the
// Pebble-issued certificate with HSTS, the other site and its basic auth,
// and that nothing but 22/80/443 answers from outside.
func (h *classHub) checkEdge(ctx context.Context, ip string) error {
	addrs, err := h.lab.Resolver().LookupHost(ctx, h.hubFQN)
	if err != nil || len(addrs) != 1 || addrs[0] != ip {
		return fmt.Errorf("%s resolves to %v (%v), want %s", h.hubFQN, addrs, err, ip)
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second, Resolver: h.lab.Resolver()}
	plain := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := plain.Get("http://" + h.hubFQN + "/hub/login?next=x")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode/100 != 3 || loc != "https://"+h.hubFQN+"/hub/login?next=x" {
		return fmt.Errorf("http:// answered %s Location %q, want a redirect to https://", resp.Status, loc)
	}
	secure := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext, TLSClientConfig: &tls.Config{RootCAs: h.roots}}}
	resp, err = secure.Get("https://" + h.hubFQN + "/hub/api/")
	if err != nil {
		return fmt.Errorf("HTTPS with Pebble's roots: %w", err)
	}
	resp.Body.Close()
	if hsts := resp.Header.Get("Strict-Transport-Security"); !strings.Contains(hsts, "max-age=63072000") {
		return fmt.Errorf("HSTS header is %q", hsts)
	}
	if issuer := resp.TLS.PeerCertificates[0].Issuer.CommonName; !strings.Contains(strings.ToLower(issuer), "pebble") {
		return fmt.Errorf("certificate issued by %q, not Pebble", issuer)
	}
	h.serial = resp.TLS.PeerCertificates[0].SerialNumber.String()
	www := "https://www." + h.zone
	resp, err = secure.Get(www + "/")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the static site answered %s", resp.Status)
	}
	resp, err = secure.Get(www + "/private/")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		return fmt.Errorf("/private/ without credentials answered %s, want 401", resp.Status)
	}
	// Other spellings of the same path are decided on as the path they name.
	for _, p := range []string{"//private/x", "/./private/x", "/%2e/private/x", "/%2F/private/x", "/private/./x", "/public/../private/x", "/%70rivate/x"} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, www+p, nil)
		req.URL.RawPath, req.URL.Opaque = "", "//www."+h.zone+p
		resp, err := secure.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusBadRequest {
			return fmt.Errorf("GET %s without credentials answered %s, want 401 or 400", p, resp.Status)
		}
	}
	for _, port := range hubconfig.InternalPorts {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(ip, strconv.Itoa(port)), 3*time.Second)
		if err == nil {
			c.Close()
			return fmt.Errorf("port %d answers from outside the droplet", port)
		}
	}
	return nil
}

// servedSerial is the serial of the certificate the hub serves now.
func (h *classHub) servedSerial(ctx context.Context) (string, error) {
	dialer := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second, Resolver: h.lab.Resolver()}, Config: &tls.Config{RootCAs: h.roots, ServerName: h.hubFQN}}
	conn, err := dialer.DialContext(ctx, "tcp", net.JoinHostPort(h.hubFQN, "443"))
	if err != nil {
		return "", err
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState().PeerCertificates[0].SerialNumber.String(), nil
}

// ssh runs a command on the droplet as the admin, with the pinned host key.
func (h *classHub) ssh(t *testing.T, ctx context.Context, ip, cmd string) string {
	t.Helper()
	c, err := installer.Dial(ctx, installer.Target{Addr: ip, User: h.admin, PrivateKey: []byte(h.adminPEM), HostKey: h.hostKey})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	out, _, err := c.Run(ctx, cmd, nil)
	if err != nil {
		t.Logf("%s: %v", cmd, err)
	}
	return string(out)
}
