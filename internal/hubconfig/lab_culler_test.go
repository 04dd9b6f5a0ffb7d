package hubconfig

import (
	"strings"
	"testing"
	"time"
)

// hubWorld runs inside the lab image: the release's own units' ExecStart
// lines (the edge, and configurable-http-proxy in chp mode) and the release's
// JupyterHub config, through a wrapper that only shortens the culler's
// timeout and adds a test driver token. A student's server is started
// through the REST API and reached through the edge over HTTPS; then the
// culler, started by JupyterHub with the rendered role and scopes, must stop it.
const hubWorld = `
set -eu
cur=/opt/jhub/current
unit_exec() { sed -n 's/^ExecStart=//p' "/run/jhub-units/$1"; }
useradd -m alice
mkdir -p /home/alice/assignments /var/lib/jupyterhub && chown alice: /home/alice/assignments
echo '127.0.0.1 hub.example.edu' >>/etc/hosts
$(unit_exec jhub-edge.service) >/tmp/edge.log 2>&1 &
if [ -e /run/jhub-units/configurable-http-proxy.service ]; then
	(set -a; . $cur/secrets/chp.env; set +a; exec $(unit_exec configurable-http-proxy.service)) >/tmp/chp.log 2>&1 &
fi
cat >/tmp/test_config.py <<'PY'
load_subconfig('/opt/jhub/current/jupyterhub_config.py')
cmd = c.JupyterHub.services[0]['command']
c.JupyterHub.services[0]['command'] = [a for a in cmd if not a.startswith(('--timeout=', '--every='))] + ['--timeout=8', '--every=2']
c.JupyterHub.services.append({'name': 'test-driver', 'api_token': 'test-driver-token-0123456789abcdef'})
c.JupyterHub.load_roles.append({'name': 'test-driver', 'scopes': ['admin:users', 'admin:servers'], 'services': ['test-driver']})
PY
cd /var/lib/jupyterhub
jupyterhub -f /tmp/test_config.py >/tmp/hub.log 2>&1 &
python3 - <<'PY' || { for f in /tmp/*.log; do echo "--- $f"; cat $f; done; exit 1; }
import http.client, json, ssl, sys, time, urllib.request
api = 'http://127.0.0.1:883/hub/api'
def call(method, path):
    req = urllib.request.Request(api + path, method=method, headers={'Authorization': 'token test-driver-token-0123456789abcdef'})
    with urllib.request.urlopen(req, timeout=10) as r:
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
wait('hub up', lambda: call('GET', '/') is not None, 90)
wait('hub api through the edge', lambda: json.loads(edge('/hub/api')[2])['version'] == '3.0.0', 30)
call('POST', '/users/alice/server')
wait('server ready', lambda: (call('GET', '/users/alice')['servers'].get('') or {}).get('ready'), 90)
# The single-user server itself answers (it sends the browser to the hub's
# OAuth), so the route to it exists in whichever proxy the mode uses.
wait('server routed through the edge', lambda: 'oauth2/authorize' in edge('/user/alice/tree')[1], 30)
wait('server culled', lambda: call('GET', '/users/alice')['servers'] == {}, 90)
PY
echo '--- /tmp/hub.log'; cat /tmp/hub.log
`

func TestLabReleaseServesAndCulls(t *testing.T) {
	img := labImage(t)
	for _, mode := range []string{ProxyCHPAPI, ProxyCHP} {
		t.Run(mode, func(t *testing.T) {
			s := classHub(t)
			s.Auth = Auth{Kind: AuthDummy}
			s.Edge = Edge{TLS: TLS{Mode: TLSSelfSigned}, ProxyMode: mode}
			s.Secrets.BasicAuthHashes = nil
			hostRoot := stage(t, s, Current)
			buildEdge(t, hostRoot, Current)
			start := time.Now()
			stdout, stderr, err := inImage(t, img, hostRoot, "bash", "-c", hubWorld)
			if err != nil {
				t.Fatalf("%v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
			}
			for _, want := range []string{"ok: server routed through the edge", "ok: server culled", "idle-culler: stopping default server '' of alice"} {
				if !strings.Contains(stdout, want) {
					t.Errorf("missing %q in\n%s", want, stdout)
				}
			}
			t.Logf("hub up, server started, reached and culled in %s", time.Since(start).Round(time.Second))
		})
	}
}
