//go:build lab

package hubconfig

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/classhub/terraform-provider-jhub/internal/ondroplet"
)

// cullerWorld runs in a booted lab container (see bootWith): the release's
// own units, with a drop-in that starts JupyterHub through a wrapper config
// which only shortens the culler's timeout and adds a test driver token. A
// student's server is started through the REST API (the spawner creates
// the account and the unit) and reached through the edge over HTTPS; then
// the culler, started by JupyterHub with the rendered role and scopes, must
// stop it.
var cullerWorld = `
echo '127.0.0.1 hub.example.edu' >>/etc/hosts
useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin ` + ondroplet.EdgeUser + `
install_r1
mkdir -p /etc/systemd/system/jupyterhub.service.d
printf '[Service]\nExecStart=\nExecStart=/usr/bin/jupyterhub -f /jhub-test/test_config.py --upgrade-db\n' >/etc/systemd/system/jupyterhub.service.d/test.conf
cat >/jhub-test/test_config.py <<'PY'
load_subconfig('/opt/jhub/current/jupyterhub_config.py')
cmd = c.JupyterHub.services[0]['command']
c.JupyterHub.services[0]['command'] = [a for a in cmd if not a.startswith(('--timeout=', '--every='))] + ['--timeout=8', '--every=2']
c.JupyterHub.services.append({'name': 'test-driver', 'api_token': 'test-driver-token-0123456789abcdef'})
c.JupyterHub.load_roles.append({'name': 'test-driver', 'scopes': ['admin:users', 'admin:servers'], 'services': ['test-driver']})
PY
systemctl daemon-reload
systemctl start ` + EdgeUnit + `
[ -e /etc/systemd/system/` + CHPUnit + ` ] && systemctl start ` + CHPUnit + `
systemctl start ` + HubUnit + `
trap 'echo "--- journal"; journalctl -u jupyterhub -u jhub-edge -u configurable-http-proxy -u "jupyter-*" --no-pager | tail -n 120' EXIT
python3 - <<'PY'
import http.client, json, ssl, sys, time, urllib.request
api = 'http://127.0.0.1:` + strconv.Itoa(HubPort) + `/hub/api'
def call(method, path):
    req = urllib.request.Request(api + path, method=method, headers={'Authorization': 'token test-driver-token-0123456789abcdef'})
    # A first spawn answers after JupyterHub's slow_spawn_timeout (10 s).
    with urllib.request.urlopen(req, timeout=30) as r:
        body = r.read()
        return json.loads(body) if body else None
def edge(path):
    # Self-signed lab certificate: the edge's TLS is tested elsewhere.
    conn = http.client.HTTPSConnection('hub.example.edu', 443, context=ssl._create_unverified_context(), timeout=10)
    conn.request('GET', path)
    r = conn.getresponse()
    return r.status, r.getheader('Location') or '', r.read()
def wait(what, cond, secs):
    end = time.time() + secs
    while time.time() < end:
        try:
            if cond():
                print('ok:', what, flush=True)
                return
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.5)
    print('timeout:', what, flush=True)
    sys.exit(1)
wait('hub up', lambda: call('GET', '/') is not None, 120)
wait('hub api through the edge', lambda: json.loads(edge('/hub/api')[2])['version'].startswith('5.'), 30)
call('POST', '/users/alice/server')
wait('server ready', lambda: (call('GET', '/users/alice')['servers'].get('') or {}).get('ready'), 120)
# The single-user server itself answers (it sends the browser to the hub's
# OAuth), so the route to it exists in whichever proxy the mode uses.
wait('server routed through the edge', lambda: 'oauth2/authorize' in edge('/user/alice/lab')[1], 30)
wait('server culled', lambda: call('GET', '/users/alice')['servers'] == {}, 90)
PY
echo "alice's unit after culling: $(systemctl is-active jupyter-alice.service || true)"
`

func TestLabReleaseServesAndCulls(t *testing.T) {
	img := labImage(t)
	for _, mode := range []string{ProxyCHPAPI, ProxyCHP} {
		t.Run(mode, func(t *testing.T) {
			s := classHub(t)
			s.Auth = Auth{Kind: AuthDummy, AdminPasswords: sharedAuth().AdminPasswords}
			s.Edge = Edge{TLS: TLS{Mode: TLSSelfSigned}, ProxyMode: mode}
			s.Secrets.BasicAuthHashes = nil
			host := t.TempDir()
			start := time.Now()
			out := bootWith(t, img, host, "set -eu\n"+bootedRelease(t, host, "r1", s)+cullerWorld, 8*time.Minute)
			if !strings.Contains(out, "\nexit: 0\n") {
				t.Fatalf("the test script failed:\n%s", out)
			}
			for _, want := range []string{"ok: server routed through the edge", "ok: server culled", "idle-culler: stopping default server '' of alice", "alice's unit after culling: inactive"} {
				if !strings.Contains(out, want) {
					t.Errorf("missing %q in\n%s", want, out)
				}
			}
			t.Logf("hub up, server started, reached and culled in %s", time.Since(start).Round(time.Second))
		})
	}
}
