//go:build lab

package provider

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"golang.org/x/crypto/ssh"

	"github.com/classhub/terraform-provider-jhub/internal/hubclient"
	"github.com/classhub/terraform-provider-jhub/internal/hubconfig"
	"github.com/classhub/terraform-provider-jhub/internal/testkit"

	"github.com/classhub/terraform-provider-jhub/internal/ondroplet"

	"github.com/classhub/terraform-provider-jhub/internal/edgeconfig"
)

const (
	labClassPassword   = "correct-horse-battery-staple"
	labTeacherPassword = "teacher-only-password-1234"
	labTAPassword      = "ta-only-password-5678-abcd"
)

// exampleVars are examples/class-hub's variables for the lab, as make demo sets
// them: the example's own defaults stand, the class volume among them.
func (h *classHub) exampleVars(students, admins []string) config.Variables {
	list := stringsVariable
	passwords := map[string]config.Variable{}
	for _, a := range admins {
		passwords[a] = config.StringVariable(map[string]string{"teacher": labTeacherPassword, "ta": labTAPassword}[a])
	}
	return h.labVars(config.Variables{
		"students":        list(students),
		"admins":          list(admins),
		"admin_passwords": config.MapVariable(passwords),
		"class_password":  config.StringVariable(labClassPassword),
	})
}

// labVars adds to vars what every example's deployment takes from the lab:
// the zone, the CA and ACME directory, the apt mirrors and the admin's key.
func (h *classHub) labVars(vars config.Variables) config.Variables {
	env := h.lab.Env()
	maps.Copy(vars, config.Variables{
		"domain":                config.StringVariable(h.zone),
		"acme_email":            config.StringVariable("teacher@" + h.zone),
		"acme_directory_url":    config.StringVariable(env.ACMEDirectory),
		"acme_ca_root_pem":      config.StringVariable(h.acmeCAPEM),
		"trusted_ca_pem":        config.StringVariable(h.caPEM),
		"apt_mirror":            config.StringVariable(env.AptMirror),
		"apt_security_mirror":   config.StringVariable(env.AptSecurityMirror),
		"admin_ssh_public_key":  config.StringVariable(h.adminPub),
		"admin_ssh_private_key": config.StringVariable(h.adminPEM),
	})
	return vars
}

// stringsVariable is a list(string) variable.
func stringsVariable(names []string) config.Variable {
	vs := make([]config.Variable, len(names))
	for i, n := range names {
		vs[i] = config.StringVariable(n)
	}
	return config.ListVariable(vs...)
}

// exampleStep applies examples/class-hub as shipped; the example has its
// own provider block (source classhub/jhub), so the provider comes with
// the step.
func (h *classHub) exampleStep(t *testing.T, students, admins []string) resource.TestStep {
	return h.exampleDirStep(t, classHubExample, h.exampleVars(students, admins))
}

// exampleDirStep applies the example in dir as shipped with vars.
func (h *classHub) exampleDirStep(t *testing.T, dir config.TestStepConfigFunc, vars config.Variables) resource.TestStep {
	env := h.lab.Env()
	t.Setenv("TF_ACC_PROVIDER_NAMESPACE", "classhub")
	t.Setenv("DIGITALOCEAN_TOKEN", env.Token)
	t.Setenv("DIGITALOCEAN_API_URL", env.APIURL)
	return resource.TestStep{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		ConfigDirectory:          dir,
		ConfigVariables:          vars,
	}
}

// fromState takes the droplet's admin user and host key (for ssh) from
// an applied state and returns its address.
func (h *classHub) fromState(s *terraform.State) (ip string) {
	droplet := s.RootModule().Resources["jhub_droplet.hub"].Primary.Attributes
	h.admin, h.hostKey = droplet["admin_user"], droplet["host_public_key"]
	return droplet["ipv4_address"]
}

// A hostile class against examples/class-hub as shipped: every way the
// first wave's hub let a student become the teacher or root, or reach
// another student, is tried from the student's side and must fail.
func TestLabHostileStudent(t *testing.T) {
	h := newClassHub(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	var ip, admin string
	var secrets []string
	clients := map[string]*hubclient.Client{}
	kernels := map[string]*hubclient.Kernel{}
	studentKey := testkit.NewSSHKey(t, "alice@student")

	login := func(user, password string) (*hubclient.Client, error) {
		c := h.client(t, "/")
		return c, c.Login(ctx, user, password)
	}
	run := func(user, code string) (string, error) { return kernels[user].Execute(ctx, code) }

	step1 := h.exampleStep(t, []string{"alice", "bob"}, []string{"teacher", "ta"})
	step1.Check = resource.ComposeTestCheckFunc(
		func(s *terraform.State) error {
			edge := s.RootModule().Resources["jhub_edge.hub"].Primary.Attributes
			ip = h.fromState(s)
			admin = h.admin
			tlsKey := h.ssh(t, ctx, ip, "sudo sh -c 'cat $(grep -rl \"PRIVATE KEY\" /var/lib/jhub-edge/tls)' | sed -n 2p")
			if len(strings.TrimSpace(tlsKey)) < 40 {
				return fmt.Errorf("could not read a line of the edge's TLS key (got %d bytes)", len(tlsKey))
			}
			secrets = []string{edge["cookie_secret"], edge["proxy_token"], labClassPassword, labTeacherPassword, labTAPassword, strings.TrimSpace(tlsKey)}
			return nil
		},
		// Admins log in with their own passwords only.
		func(*terraform.State) error {
			c, err := login("teacher", labTeacherPassword)
			if err != nil {
				return fmt.Errorf("the teacher's own password: %w", err)
			}
			if code, body, err := c.Do(ctx, http.MethodGet, "hub/api/users", nil); err != nil || code != http.StatusOK {
				return fmt.Errorf("the teacher on the admin API: %v %.200s %v", code, body, err)
			}
			clients["teacher"] = c
			ta, err := login("ta", labTAPassword)
			clients["ta"] = ta
			return err
		},
		// Students get in with the class password and run code.
		func(*terraform.State) error {
			for _, u := range []string{"alice", "bob"} {
				c, err := login(u, labClassPassword)
				if err != nil {
					return err
				}
				if err := c.StartServer(ctx, u); err != nil {
					return err
				}
				k, err := c.OpenKernel(ctx, u)
				if err != nil {
					return err
				}
				clients[u], kernels[u] = c, k
				if out, err := k.Execute(ctx, "1+1"); err != nil || out != "2" {
					return fmt.Errorf("%s: 1+1 gave %q, %v", u, out, err)
				}
			}
			return nil
		},
		// The notebook directory of the example exists, and homes are private.
		func(*terraform.State) error {
			out, err := run("alice", "import os, stat\nh=os.path.expanduser('~')\nopen(h+'/assignments/mine.txt','w').write('x')\nprint(h, oct(stat.S_IMODE(os.stat(h).st_mode)))")
			if want := ondroplet.VolumeHomes + "/alice 0o700"; err != nil || out != want {
				return fmt.Errorf("alice's home, its mode and ~/assignments: %q, %v; want %q (on the class volume)", out, err, want)
			}
			// JupyterLab opens in the example's notebook_dir.
			code, body, err := clients["alice"].Do(ctx, http.MethodGet, "user/alice/api/contents", nil)
			if err != nil || code != http.StatusOK || !strings.Contains(string(body), `"mine.txt"`) {
				return fmt.Errorf("alice's contents root is not ~/assignments: %d %.300s %v", code, body, err)
			}
			out, err = run("alice", "import os\ntry:\n    os.listdir(os.path.expanduser('~bob')); print('READ')\nexcept PermissionError:\n    print('denied')")
			if err != nil || out != "denied" {
				return fmt.Errorf("alice listing bob's home: %q, %v", out, err)
			}
			return nil
		},
		// No sudo, not even without a password.
		func(*terraform.State) error {
			out, err := run("alice", "import subprocess\nprint(subprocess.run(['sudo','-n','true'], capture_output=True).returncode)")
			if err != nil || out == "0" {
				return fmt.Errorf("sudo -n true as alice: exit %q, %v", out, err)
			}
			return nil
		},
		// Kernels talk to their server over Unix sockets in a directory of
		// the server's own (no loopback port another connection can take
		// first); a student can enter hers and no one else's (bob's, the
		// admins').
		func(*terraform.State) error {
			out, err := run("alice", "import json, os, ipykernel.connect\n"+
				"c = json.load(open(ipykernel.connect.get_connection_file()))\n"+
				"d = os.path.dirname(c['ip'])\nmine, other = 0, 0\n"+
				"for e in os.listdir(os.path.dirname(d)):\n"+
				"    try:\n        os.listdir(os.path.join(os.path.dirname(d), e)); mine += 1\n"+
				"    except PermissionError:\n        other += 1\n"+
				"print(c['transport'], oct(os.stat(d).st_mode & 0o777), mine, other >= 1)")
			if err != nil || out != "ipc 0o700 1 True" {
				return fmt.Errorf("alice's kernel transport, its directory's mode, the kernel directories she can and cannot enter: %q (want \"ipc 0o700 1 True\": bob's server runs too), %v", out, err)
			}
			return nil
		},
		// Nothing a student can bind sits between the edge and the hub.
		func(*terraform.State) error {
			for _, port := range hubconfig.InternalPorts {
				out, err := run("alice", fmt.Sprintf("import socket\ns=socket.socket()\ntry:\n    s.bind(('127.0.0.1', %d)); print('BOUND')\nexcept OSError as e:\n    print('refused', e.errno)\nfinally:\n    s.close()", port))
				if err != nil || !strings.HasPrefix(out, "refused") {
					return fmt.Errorf("alice binding 127.0.0.1:%d: %q, %v", port, out, err)
				}
			}
			return nil
		},
		// No secret value in any file a student can read. Package files under
		// /usr are not searched: nothing the provider installs goes there.
		// The values travel hex-encoded, so the kernel's own input history
		// does not hold them.
		func(*terraform.State) error {
			code := fmt.Sprintf(`import os
needles=[bytes.fromhex(h) for h in %s]
hits=set(); n=0
for top in ['/etc','/opt','/var','/home','/tmp','/run','/srv','/root','/boot','/mnt','/media']:
    for d, dirs, files in os.walk(top, onerror=lambda e: None):
        for f in files:
            p=os.path.join(d,f)
            try:
                if not os.path.isfile(p) or os.path.islink(p) or os.path.getsize(p) > 64<<20: continue
                with open(p,'rb') as fh: data=fh.read()
            except OSError:
                continue
            n+=1
            for i, s in enumerate(needles):
                if s and s in data: hits.add('%%s:%%d' %% (p, i))
print('files', n, 'hits', sorted(hits))`, pyList(hexAll(secrets)))
			out, err := run("alice", code)
			if err != nil || !strings.HasSuffix(out, "hits []") {
				return fmt.Errorf("searching alice's readable files for secrets: %q, %v", out, err)
			}
			t.Logf("secret search as alice: %s", out)
			return nil
		},
		// A student who adds her own key still cannot log in over SSH.
		func(*terraform.State) error {
			code := fmt.Sprintf("import os\nos.makedirs(os.path.expanduser('~/.ssh'), mode=0o700, exist_ok=True)\nopen(os.path.expanduser('~/.ssh/authorized_keys'),'w').write(%q+'\\n')\nos.chmod(os.path.expanduser('~/.ssh/authorized_keys'), 0o600)\nprint('ok')", studentKey.AuthorizedKey)
			if out, err := run("alice", code); err != nil || out != "ok" {
				return fmt.Errorf("writing alice's authorized_keys: %q, %v", out, err)
			}
			hostKey, _, _, _, err := ssh.ParseAuthorizedKey([]byte(h.hostKey))
			if err != nil {
				return err
			}
			conn, err := ssh.Dial("tcp", net.JoinHostPort(ip, "22"), &ssh.ClientConfig{
				User: "alice", Auth: []ssh.AuthMethod{ssh.PublicKeys(studentKey.Signer)},
				HostKeyCallback: ssh.FixedHostKey(hostKey), Timeout: 15 * time.Second,
			})
			if err == nil {
				conn.Close()
				return fmt.Errorf("alice logged in over SSH with her own key")
			}
			if !strings.Contains(err.Error(), "unable to authenticate") {
				return fmt.Errorf("SSH as alice failed, but not at authentication: %w", err)
			}
			return nil
		},
		// The edge cuts a client that trickles a request body (holding a
		// connection open for free), while a 200 MiB upload at network speed
		// goes through.
		func(*terraform.State) error {
			start := time.Now()
			cut, err := h.trickleBody(ctx, edgeconfig.DefaultBodyTimeout+30*time.Second)
			if err != nil {
				return err
			}
			if !cut {
				return fmt.Errorf("a body sent at 1 byte/s was not cut off within %s", edgeconfig.DefaultBodyTimeout+30*time.Second)
			}
			t.Logf("slow body cut off after %s", time.Since(start).Round(time.Second))
			big := strings.Repeat("0123456789abcdef", 200<<20/16)
			start = time.Now()
			code, body, err := clients["alice"].Do(ctx, http.MethodPut, "user/alice/api/contents/big.txt", map[string]string{"type": "file", "format": "text", "content": big})
			if err != nil || (code != http.StatusCreated && code != http.StatusOK) {
				return fmt.Errorf("a 200 MiB upload through the edge: %d %.300s %v", code, body, err)
			}
			out, err := run("alice", "import os\nprint(os.path.getsize(os.path.expanduser('~/assignments/big.txt')))")
			if err != nil || out != fmt.Sprint(len(big)) {
				return fmt.Errorf("the uploaded file has %q bytes (%v), want %d", out, err, len(big))
			}
			t.Logf("200 MiB upload through the edge: %s", time.Since(start).Round(100*time.Millisecond))
			_, err = run("alice", "os.remove(os.path.expanduser('~/assignments/big.txt'))")
			return err
		},
		// A memory bomb costs its owner the kernel, not the class its hub.
		// Bounded at 12 GiB so a lab without memory limits fails the test
		// instead of exhausting this machine.
		func(*terraform.State) error {
			bctx, cancel := context.WithTimeout(ctx, 90*time.Second)
			defer cancel()
			out, err := kernels["alice"].Execute(bctx, "import os\na=[]\nfor i in range(12*1024//64):\n    a.append(bytearray(64<<20))\nopen(os.path.expanduser('~/memory-bomb.txt'),'w').write('allocated 12 GiB')\nprint('allocated 12 GiB')")
			t.Logf("memory bomb: %q, %v", out, err)
			if report := h.ssh(t, ctx, ip, "sudo cat ~alice/memory-bomb.txt 2>/dev/null || true"); strings.Contains(report, "allocated") {
				return fmt.Errorf("alice's kernel allocated 12 GiB on a droplet of 4 GiB: no memory limit")
			}
			return h.classStillWorks(ctx, kernels["bob"], clients["bob"])
		},
		// A fork bomb stops at the student's process limit; the class goes
		// on. The bomber's own server shares that limit and may be broken
		// by it (it comes last), so the bomb reports through a file.
		func(*terraform.State) error {
			bctx, cancel := context.WithTimeout(ctx, 90*time.Second)
			defer cancel()
			k, err := clients["alice"].OpenKernel(ctx, "alice")
			if err != nil {
				return fmt.Errorf("alice's new kernel after her memory bomb: %w", err)
			}
			defer k.Close()
			out, err := k.Execute(bctx, "import os, time, warnings\nwarnings.simplefilter('ignore')\nn=0\ntry:\n    while n < 5000:\n        pid=os.fork()\n        if pid == 0:\n            time.sleep(20); os._exit(0)\n        n+=1\n    r='unbounded %d' % n\nexcept OSError:\n    r='stopped at %d' % n\nopen(os.path.expanduser('~/fork-bomb.txt'),'w').write(r)\nprint(r)")
			t.Logf("fork bomb in alice's kernel: %q, %v", out, err)
			// On a busy machine the bomb outlasts the kernel's answer; its
			// file says how it ended.
			var report string
			for end := time.Now().Add(2 * time.Minute); time.Now().Before(end); time.Sleep(5 * time.Second) {
				if report = h.ssh(t, ctx, ip, "sudo cat ~alice/fork-bomb.txt 2>/dev/null || true"); report != "" {
					break
				}
			}
			if !strings.HasPrefix(report, "stopped at") {
				return fmt.Errorf("fork bomb in alice's kernel reported %q; alice's processes and unit:\n%s", report,
					h.ssh(t, ctx, ip, "ps -u alice --no-headers | wc -l; systemctl status --no-pager -n 5 'jupyter-alice*'; sudo journalctl -u jupyterhub --no-pager -n 20"))
			}
			return h.classStillWorks(ctx, kernels["bob"], clients["bob"])
		},
		// The bomber gets her server back the way a student would: stop it
		// and start it again from the hub's page.
		func(*terraform.State) error {
			rctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
			defer cancel()
			err := clients["alice"].StopServer(rctx, "alice")
			if err == nil {
				err = clients["alice"].StartServer(rctx, "alice")
			}
			if err == nil {
				var k *hubclient.Kernel
				if k, err = clients["alice"].OpenKernel(rctx, "alice"); err == nil {
					var out string
					if out, err = k.Execute(rctx, "print(6 * 7)"); err == nil && out != "42" {
						err = fmt.Errorf("her cell printed %q", out)
					}
					_ = k.Close() // what mattered is the output
				}
			}
			if err != nil {
				return fmt.Errorf("alice restarting her server after the fork bomb: %w\nthe hub's log:\n%s", err,
					h.ssh(t, ctx, ip, "sudo journalctl -u jupyterhub --no-pager -n 40"))
			}
			return nil
		},
		// The class password is never an admin's, nor anyone's but a student's.
		// (Last: these failures count against this address's allowance.)
		func(*terraform.State) error {
			for _, u := range []string{"teacher", "ta", admin, "root", ondroplet.EdgeUser, "nobody", "jupyterhub"} {
				if _, err := login(u, labClassPassword); err == nil {
					return fmt.Errorf("%q logged in with the class password", u)
				}
			}
			return nil
		},
	)

	// bob leaves the class and the TA becomes a student: at the next apply
	// bob's server stops and his session ends; the TA loses the admin API.
	step2 := h.exampleStep(t, []string{"alice", "ta"}, []string{"teacher"})
	step2.ConfigPlanChecks = resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
		plancheck.ExpectResourceAction("jhub_droplet.hub", plancheck.ResourceActionNoop),
		plancheck.ExpectResourceAction("jhub_edge.hub", plancheck.ResourceActionUpdate),
	}}
	step2.Check = func(*terraform.State) error {
		if code, _, err := clients["bob"].Do(ctx, http.MethodGet, "hub/api/user", nil); err != nil || code == http.StatusOK {
			return fmt.Errorf("bob's old session after his removal: %v %v", code, err)
		}
		if _, err := login("bob", labClassPassword); err == nil {
			return fmt.Errorf("bob logged in after his removal from the roster")
		}
		if code, _, err := clients["teacher"].Do(ctx, http.MethodGet, "hub/api/users/bob", nil); err != nil || code != http.StatusNotFound {
			return fmt.Errorf("the hub still knows bob: %v %v", code, err)
		}
		if out := h.ssh(t, ctx, ip, "sudo stat -c %a:%U "+ondroplet.VolumeHomes+"/bob; systemctl list-units --no-legend 'jupyter-bob*'"); !strings.HasPrefix(out, "700:bob") || strings.Contains(out, "jupyter-bob") {
			return fmt.Errorf("bob's files must stay on the class volume (0700) and his server stop: %q", out)
		}
		if code, _, err := clients["ta"].Do(ctx, http.MethodGet, "hub/api/users", nil); err != nil || code != http.StatusForbidden {
			return fmt.Errorf("the demoted TA on the admin API: %v %v, want 403", code, err)
		}
		return nil
	}
	resource.Test(t, resource.TestCase{PreCheck: func() { preCheck(t) }, Steps: []resource.TestStep{step1, step2}})
}

// trickleBody sends the hub a login form one byte a second and reports
// whether the edge cut the connection within limit.
func (h *classHub) trickleBody(ctx context.Context, limit time.Duration) (bool, error) {
	dialer := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second, Resolver: h.lab.Resolver()}, Config: &tls.Config{RootCAs: h.roots, ServerName: h.hubFQN, NextProtos: []string{"http/1.1"}}}
	conn, err := dialer.DialContext(ctx, "tcp", net.JoinHostPort(h.hubFQN, "443"))
	if err != nil {
		return false, err
	}
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, "POST /hub/login HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n", h.hubFQN); err != nil {
		return false, err
	}
	closed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, conn) // returns when the edge closes the connection
		close(closed)
	}()
	deadline := time.After(limit)
	for {
		select {
		case <-closed:
			return true, nil
		case <-deadline:
			return false, nil
		case <-time.After(time.Second):
			if _, err := conn.Write([]byte("a")); err != nil {
				return true, nil
			}
		}
	}
}

// classStillWorks: another student's kernel runs code and the hub answers.
func (h *classHub) classStillWorks(ctx context.Context, k *hubclient.Kernel, c *hubclient.Client) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if out, err := k.Execute(ctx, "21*2"); err != nil || out != "42" {
		return fmt.Errorf("bob's kernel after alice's bomb: %q, %v", out, err)
	}
	if code, _, err := c.Do(ctx, http.MethodGet, "hub/api/", nil); err != nil || code != http.StatusOK {
		return fmt.Errorf("the hub after alice's bomb: %v, %v", code, err)
	}
	return nil
}

func hexAll(strs []string) []string {
	out := make([]string, len(strs))
	for i, s := range strs {
		out[i] = hex.EncodeToString([]byte(s))
	}
	return out
}

// pyList is a Python list literal of strs.
func pyList(strs []string) string {
	q := make([]string, len(strs))
	for i, s := range strs {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
