package hubconfig

import (
	"strings"
	"testing"
	"time"
)

// cullerWorld runs inside the lab image: the release's own edge as the
// proxy, the release's JupyterHub config (through a wrapper that only
// shortens the culler's timeout and adds a test driver token), a student's
// server started through the REST API, and then waits for the culler —
// started by JupyterHub with the rendered role and scopes — to stop it.
const cullerWorld = `
set -eu
cur=/opt/jhub/current
useradd -m alice
mkdir -p /home/alice/assignments /var/lib/jupyterhub && chown alice: /home/alice/assignments
/opt/jhub/bin/jhub-edge run -config $cur/edge.yaml >/tmp/edge.log 2>&1 &
cat >/tmp/test_config.py <<'PY'
load_subconfig('/opt/jhub/current/jupyterhub_config.py')
cmd = c.JupyterHub.services[0]['command']
c.JupyterHub.services[0]['command'] = [a for a in cmd if not a.startswith(('--timeout=', '--every='))] + ['--timeout=5', '--every=2']
c.JupyterHub.services.append({'name': 'test-driver', 'api_token': 'test-driver-token-0123456789abcdef'})
c.JupyterHub.load_roles.append({'name': 'test-driver', 'scopes': ['admin:users', 'admin:servers'], 'services': ['test-driver']})
PY
cd /var/lib/jupyterhub
jupyterhub -f /tmp/test_config.py >/tmp/hub.log 2>&1 &
python3 - <<'PY' || { echo '--- hub log'; cat /tmp/hub.log; echo '--- edge log'; cat /tmp/edge.log; exit 1; }
import json, sys, time, urllib.request, urllib.error
api = 'http://127.0.0.1:8081/hub/api'
def call(method, path):
    req = urllib.request.Request(api + path, method=method, headers={'Authorization': 'token test-driver-token-0123456789abcdef'})
    with urllib.request.urlopen(req, timeout=10) as r:
        body = r.read()
        return json.loads(body) if body else None
def wait(what, cond, secs):
    end = time.time() + secs
    while time.time() < end:
        try:
            if cond():
                print('ok:', what, flush=True)
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.5)
    print('timeout:', what, flush=True)
    sys.exit(1)
wait('hub up', lambda: call('GET', '/') is not None, 60)
call('POST', '/users/alice/server')
wait('server ready', lambda: (call('GET', '/users/alice')['servers'].get('') or {}).get('ready'), 60)
wait('server culled', lambda: call('GET', '/users/alice')['servers'] == {}, 60)
PY
echo '--- hub log'; cat /tmp/hub.log
`

func TestLabIdleCullerStopsServerOnRealHub(t *testing.T) {
	img := labImage(t)
	s := classHub(t)
	s.Auth = Auth{Kind: AuthDummy}
	s.Edge = Edge{TLS: TLS{Mode: TLSSelfSigned}}
	s.Secrets.BasicAuthHashes = nil
	hostRoot, _ := stage(t, s)
	buildEdge(t, hostRoot)
	start := time.Now()
	stdout, stderr, err := inImage(t, img, hostRoot, "bash", "-c", cullerWorld)
	if err != nil {
		t.Fatalf("%v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	for _, want := range []string{"ok: server ready", "ok: server culled", "idle-culler: stopping default server '' of alice"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("missing %q in\n%s", want, stdout)
		}
	}
	t.Logf("hub up, server started and culled in %s", time.Since(start).Round(time.Second))
}
