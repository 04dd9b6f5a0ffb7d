package installer

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/classhub/terraform-provider-jhub/internal/ondroplet"
)

const (
	edgeYAML   = ondroplet.Current + "/edge/edge.yaml"
	hubConfig  = ondroplet.Current + "/hub/jupyterhub_config.py"
	cookiePath = ondroplet.Current + "/secrets/cookie_secret"
	edgeUnit   = "/etc/systemd/system/jhub-edge.service"
	hubUnit    = "/etc/systemd/system/jupyterhub.service"
	edgeSvc    = "jhub-edge.service"
	hubSvc     = "jupyterhub.service"
)

// hub is the shape of the release jhub_edge installs: the edge reloads on
// any change, JupyterHub restarts only when its config or secret changes.
type hub struct {
	owner  string // service user
	edge   string // edge.yaml
	config string // jupyterhub_config.py
	secret []byte
	extra  []File
}

func (h hub) release() Release {
	files := append([]File{
		{Path: ondroplet.Current + "/bin/jhub-edge", Mode: 0o755, Content: []byte("#!/bin/sh\nexit 0\n")},
		{Path: edgeYAML, Mode: 0o640, Owner: h.owner, Content: []byte(h.edge)},
		{Path: hubConfig, Mode: 0o644, Content: []byte(h.config)},
		{Path: cookiePath, Mode: 0o600, Owner: h.owner, Content: h.secret, Secret: true},
		{Path: edgeUnit, Content: []byte("[Service]\nExecStart=/opt/jhub/current/bin/jhub-edge run\nExecReload=/bin/kill -HUP $MAINPID\n")},
		{Path: hubUnit, Content: []byte("[Service]\nExecStart=/usr/bin/jupyterhub -f /opt/jhub/current/hub/jupyterhub_config.py\n")},
	}, h.extra...)
	return Release{
		Files: files,
		Validate: []string{
			"grep -q '^listen:' {{release}}/edge/edge.yaml",
			"python3 -m py_compile {{release}}/hub/jupyterhub_config.py",
			// argv as hubconfig.Checks returns it
			Command("/bin/sh", "-ec", `grep -q "^listen: :" "$1/edge/edge.yaml"`, "check", "{{release}}"),
		},
		Services: []Service{
			{Name: edgeSvc, Reload: true},
			{Name: hubSvc, RestartOnChange: []string{hubConfig, cookiePath}},
		},
	}
}

func randomSecret() []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return []byte(hex.EncodeToString(b))
}

func (h *testHost) current() string {
	h.t.Helper()
	l, err := os.Readlink(filepath.Join(h.Root, ondroplet.Current))
	if err != nil {
		return ""
	}
	return l
}

func (h *testHost) read(path string) string {
	h.t.Helper()
	b, err := os.ReadFile(filepath.Join(h.Root, path))
	if err != nil {
		h.t.Fatal(err)
	}
	return string(b)
}

func (h *testHost) releases() []string {
	h.t.Helper()
	ents, _ := os.ReadDir(filepath.Join(h.Root, ondroplet.Releases))
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// assertFile checks a file's content, mode and owner on disk.
func (h *testHost) assertFile(path, content string, mode os.FileMode, owner string) {
	h.t.Helper()
	fi, err := os.Stat(filepath.Join(h.Root, path))
	if err != nil {
		h.t.Fatal(err)
	}
	if got := h.read(path); got != content {
		h.t.Errorf("%s holds %q, want %q", path, got, content)
	}
	if fi.Mode().Perm() != mode {
		h.t.Errorf("%s has mode %o, want %o", path, fi.Mode().Perm(), mode)
	}
	u, err := user.Lookup(owner)
	if err != nil {
		h.t.Fatal(err)
	}
	if uid := fi.Sys().(*syscall.Stat_t).Uid; strconv.Itoa(int(uid)) != u.Uid {
		h.t.Errorf("%s is owned by uid %d, want %s (%s)", path, uid, owner, u.Uid)
	}
	if gid := fi.Sys().(*syscall.Stat_t).Gid; strconv.Itoa(int(gid)) != u.Gid {
		h.t.Errorf("%s has gid %d, want %s's group %s", path, gid, owner, u.Gid)
	}
}

func wantCalls(t *testing.T, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("systemctl calls:\n got %q\nwant %q", got, want)
	}
}

func stepOf(t *testing.T, err error) *StepError {
	t.Helper()
	var se *StepError
	if !errors.As(err, &se) {
		t.Fatalf("want a *StepError, got %v", err)
	}
	return se
}

func TestInstall(t *testing.T) {
	h := newHost(t)
	c, _ := h.client()
	ctx := context.Background()
	owner := testUser(t)
	v1 := hub{owner: owner, edge: "listen: :443\n", config: "c.JupyterHub.bind_url = 'http://127.0.0.1:8000'\n", secret: randomSecret()}

	var first Result
	t.Run("first install creates the owner, stages, switches and starts", func(t *testing.T) {
		res, err := c.Install(ctx, v1.release())
		if err != nil {
			t.Fatal(err)
		}
		first = res
		if !res.Changed || len(res.ReleaseID) != 24 {
			t.Fatalf("result %+v", res)
		}
		if cur := h.current(); !strings.HasPrefix(cur, "releases/"+res.ReleaseID+"-") {
			t.Fatalf("current -> %q, want releases/%s-…", cur, res.ReleaseID)
		}
		h.assertFile(edgeYAML, v1.edge, 0o640, owner)
		h.assertFile(cookiePath, string(v1.secret), 0o600, owner)
		h.assertFile(hubConfig, v1.config, 0o644, "root")
		h.assertFile(ondroplet.Current+"/bin/jhub-edge", "#!/bin/sh\nexit 0\n", 0o755, "root")
		h.assertFile(edgeUnit, string(v1.release().Files[4].Content), 0o644, "root")
		wantCalls(t, h.calls(),
			"show -p ActiveState --value "+edgeSvc, "show -p ActiveState --value "+hubSvc,
			"daemon-reload",
			"enable --quiet "+edgeSvc, "restart "+edgeSvc,
			"enable --quiet "+hubSvc, "restart "+hubSvc,
			"show -p ActiveState --value "+edgeSvc, "show -p ActiveState --value "+hubSvc)
		if !slices.Equal(res.Restarted, []string{edgeSvc, hubSvc}) {
			t.Errorf("Restarted = %q", res.Restarted)
		}
	})

	t.Run("an identical install is a no-op", func(t *testing.T) {
		cur := h.current()
		res, err := c.Install(ctx, v1.release())
		if err != nil {
			t.Fatal(err)
		}
		if res.Changed || res.ReleaseID != first.ReleaseID || len(res.Restarted)+len(res.Reloaded) != 0 {
			t.Fatalf("result %+v, want an unchanged %s", res, first.ReleaseID)
		}
		if h.current() != cur {
			t.Errorf("current moved from %s to %s", cur, h.current())
		}
		wantCalls(t, h.calls(), "show -p ActiveState --value "+edgeSvc, "show -p ActiveState --value "+hubSvc)
	})

	v2 := v1
	v2.edge = "listen: :443\nhsts: true\n"
	t.Run("an edge config change switches and reloads only the edge", func(t *testing.T) {
		before := h.current()
		res, err := c.Install(ctx, v2.release())
		if err != nil {
			t.Fatal(err)
		}
		if !res.Changed || res.ReleaseID == first.ReleaseID || len(res.Restarted) != 0 || !slices.Equal(res.Reloaded, []string{edgeSvc}) {
			t.Fatalf("result %+v", res)
		}
		// Only the changed file travelled; the rest was copied on the host.
		if res.SentBytes != int64(len(v2.edge)) || first.SentBytes <= res.SentBytes {
			t.Errorf("sent %d bytes, want %d (the first install sent %d)", res.SentBytes, len(v2.edge), first.SentBytes)
		}
		h.assertFile(ondroplet.Current+"/bin/jhub-edge", "#!/bin/sh\nexit 0\n", 0o755, "root")
		h.assertFile(cookiePath, string(v1.secret), 0o600, owner)
		h.assertFile(edgeYAML, v2.edge, 0o640, owner)
		if prev, _ := os.Readlink(filepath.Join(h.Root, ondroplet.Root, "previous")); prev != before {
			t.Errorf("previous -> %q, want the old current %q", prev, before)
		}
		wantCalls(t, h.calls(),
			"show -p ActiveState --value "+edgeSvc, "show -p ActiveState --value "+hubSvc,
			"reload "+edgeSvc,
			"show -p ActiveState --value "+edgeSvc, "show -p ActiveState --value "+hubSvc)
	})

	v3 := v2
	v3.config = v2.config + "c.Authenticator.allowed_users = {'ada'}\n"
	t.Run("a hub config change restarts JupyterHub and reloads the edge", func(t *testing.T) {
		res, err := c.Install(ctx, v3.release())
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(res.Restarted, []string{hubSvc}) || !slices.Equal(res.Reloaded, []string{edgeSvc}) {
			t.Fatalf("result %+v", res)
		}
		calls := h.calls()
		if !slices.Contains(calls, "restart "+hubSvc) || slices.Contains(calls, "daemon-reload") || slices.Contains(calls, "restart "+edgeSvc) {
			t.Errorf("systemctl calls %q", calls)
		}
		if n := len(h.releases()); n != 2 {
			t.Errorf("%d release directories after three releases (%q), want current and previous only", n, h.releases())
		}
	})

	t.Run("a failing validation never switches", func(t *testing.T) {
		bad := v3
		bad.edge = "not yaml for the edge\n"
		cur, rels := h.current(), h.releases()
		_, err := c.Install(ctx, bad.release())
		se := stepOf(t, err)
		if se.Step != "validate" || se.RolledBack != "" || !strings.Contains(err.Error(), "grep -q") {
			t.Fatalf("error %v", err)
		}
		if h.current() != cur || !slices.Equal(h.releases(), rels) {
			t.Errorf("current %s (was %s), releases %q (were %q)", h.current(), cur, h.releases(), rels)
		}
		h.assertFile(edgeYAML, v3.edge, 0o640, owner)
		wantCalls(t, h.calls(), "show -p ActiveState --value "+edgeSvc, "show -p ActiveState --value "+hubSvc)
	})

	t.Run("a failing health check rolls back files and services", func(t *testing.T) {
		v4 := v3
		v4.config = v3.config + "c.Spawner.default_url = '/lab'\n"
		v4.extra = []File{{Path: "/etc/ufw/applications.d/jhub", Content: []byte("[jhub]\nports=80,443/tcp\n")}}
		r := v4.release()
		r.Health = func(context.Context) error { return errors.New("https://hub.example.test/hub/health: 502 Bad Gateway") }
		cur, prev := h.current(), h.releases()
		_, err := c.Install(ctx, r)
		se := stepOf(t, err)
		if se.Step != "health" || se.Rollback != nil || se.RolledBack != strings.TrimPrefix(cur, "releases/") || !strings.Contains(err.Error(), "502 Bad Gateway") {
			t.Fatalf("error %v (%+v)", err, se)
		}
		if h.current() != cur {
			t.Errorf("current -> %s after rollback, want %s", h.current(), cur)
		}
		if !slices.Equal(h.releases(), prev) {
			t.Errorf("releases %q after rollback, want %q (the failed one removed)", h.releases(), prev)
		}
		h.assertFile(hubConfig, v3.config, 0o644, "root")
		if _, err := os.Stat(filepath.Join(h.Root, "/etc/ufw/applications.d/jhub")); !os.IsNotExist(err) {
			t.Errorf("the failed release's extra file is still in place (%v)", err)
		}
		wantCalls(t, h.calls(),
			"show -p ActiveState --value "+edgeSvc, "show -p ActiveState --value "+hubSvc,
			"reload "+edgeSvc, "enable --quiet "+hubSvc, "restart "+hubSvc,
			"show -p ActiveState --value "+edgeSvc, "show -p ActiveState --value "+hubSvc,
			// rollback: the same services, back on the old files
			"reload "+edgeSvc, "restart "+hubSvc)
	})

	t.Run("a service that fails to restart rolls back", func(t *testing.T) {
		v4 := v3
		v4.secret = randomSecret()
		cur := h.current()
		h.failRestart(hubSvc, true)
		_, err := c.Install(ctx, v4.release())
		h.failRestart(hubSvc, false)
		se := stepOf(t, err)
		if se.Step != "restart "+hubSvc || !strings.Contains(err.Error(), "Job for "+hubSvc+" failed") {
			t.Fatalf("error %v", err)
		}
		if h.current() != cur {
			t.Errorf("current -> %s after rollback, want %s", h.current(), cur)
		}
		h.assertFile(cookiePath, string(v3.secret), 0o600, owner)
		h.calls()
	})

	t.Run("State sees a hand-edited file and a stopped service; Install repairs both", func(t *testing.T) {
		paths := []string{edgeYAML, hubConfig, cookiePath, hubUnit, "/etc/missing"}
		st, err := c.State(ctx, paths, []string{edgeSvc, hubSvc})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range v3.release().Files {
			if f.Path == edgeYAML || f.Path == hubConfig || f.Path == cookiePath || f.Path == hubUnit {
				if want := fmt.Sprintf("%x", sha256.Sum256(f.Content)); st.Files[f.Path].SHA256 != want || !st.Matches(f) {
					t.Errorf("State.Files[%s] = %+v, want %s and a match", f.Path, st.Files[f.Path], want)
				}
				wrongMode, wrongOwner := f, f
				wrongMode.Mode, wrongOwner.Owner = st.Files[f.Path].Mode^0o004, "nobody"
				if st.Matches(wrongMode) || st.Matches(wrongOwner) {
					t.Errorf("%s matches another mode or owner: %+v", f.Path, st.Files[f.Path])
				}
			}
		}
		if _, ok := st.Files["/etc/missing"]; ok || st.Matches(File{Path: "/etc/missing"}) {
			t.Error("a missing file has a state")
		}
		if st.Files[cookiePath] != (FileState{SHA256: st.Files[cookiePath].SHA256, Mode: 0o600, Owner: owner, Group: owner}) || st.Services[edgeSvc] != "active" || st.Services[hubSvc] != "active" {
			t.Errorf("state %+v", st)
		}
		if !strings.HasPrefix(h.current(), "releases/"+st.ReleaseID+"-") {
			t.Errorf("ReleaseID %s, current -> %s", st.ReleaseID, h.current())
		}

		mustWrite(t, filepath.Join(h.Root, hubConfig), v3.config+"c.JupyterHub.log_level = 'DEBUG'\n", 0o644)
		if _, _, err := c.Run(ctx, "systemctl stop "+edgeSvc, nil); err != nil {
			t.Fatal(err)
		}
		drift, err := c.State(ctx, paths, []string{edgeSvc, hubSvc})
		if err != nil {
			t.Fatal(err)
		}
		if drift.Files[hubConfig] == st.Files[hubConfig] || drift.Files[edgeYAML] != st.Files[edgeYAML] {
			t.Errorf("hand edit not seen: before %s, after %s", st.Files[hubConfig], drift.Files[hubConfig])
		}
		if drift.Services[edgeSvc] != "inactive" || drift.Services[hubSvc] != "active" {
			t.Errorf("services %v", drift.Services)
		}
		h.calls()

		res, err := c.Install(ctx, v3.release())
		if err != nil {
			t.Fatal(err)
		}
		if !res.Changed || res.ReleaseID != st.ReleaseID || !slices.Equal(res.Restarted, []string{edgeSvc, hubSvc}) {
			t.Errorf("repair result %+v", res)
		}
		if res.SentBytes != int64(len(v3.config)) {
			t.Errorf("the repair sent %d bytes, want only the edited file's %d", res.SentBytes, len(v3.config))
		}
		h.assertFile(hubConfig, v3.config, 0o644, "root")
		if h.unitState(edgeSvc) != "active" {
			t.Error("the stopped edge was not started")
		}
		h.calls()
		if res, err := c.Install(ctx, v3.release()); err != nil || res.Changed {
			t.Errorf("after the repair, the same install is not a no-op: %+v %v", res, err)
		}
	})

	t.Run("a release that drops an outside file removes it", func(t *testing.T) {
		v5 := v3
		v5.extra = []File{{Path: "/etc/ufw/applications.d/jhub", Content: []byte("[jhub]\n")}}
		if _, err := c.Install(ctx, v5.release()); err != nil {
			t.Fatal(err)
		}
		h.assertFile("/etc/ufw/applications.d/jhub", "[jhub]\n", 0o644, "root")
		if _, err := c.Install(ctx, v3.release()); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(h.Root, "/etc/ufw/applications.d/jhub")); !os.IsNotExist(err) {
			t.Errorf("dropped file still there (%v)", err)
		}
		h.calls()
	})

	t.Run("equal files under another release id switch without touching services", func(t *testing.T) {
		v := v3
		v.owner = owner + ":" + owner // the same files on disk, another spelling
		res, err := c.Install(ctx, v.release())
		if err != nil || !res.Changed || len(res.Restarted)+len(res.Reloaded) != 0 || res.SentBytes != 0 {
			t.Fatalf("%+v %v", res, err)
		}
		st, err := c.State(ctx, nil, nil)
		if err != nil || st.ReleaseID != res.ReleaseID {
			t.Errorf("State.ReleaseID %q, Install said %q (%v)", st.ReleaseID, res.ReleaseID, err)
		}
		h.calls()
	})

	t.Run("Uninstall removes everything and is idempotent", func(t *testing.T) {
		units := []string{edgeSvc, hubSvc}
		for i := range 2 {
			if err := c.Uninstall(ctx, units); err != nil {
				t.Fatalf("uninstall %d: %v", i+1, err)
			}
			for _, p := range []string{ondroplet.Root, edgeUnit, hubUnit} {
				if _, err := os.Lstat(filepath.Join(h.Root, p)); !os.IsNotExist(err) {
					t.Errorf("uninstall %d: %s still exists (%v)", i+1, p, err)
				}
			}
		}
		calls := h.calls()
		if calls[0] != "disable --now --quiet "+edgeSvc || calls[1] != "disable --now --quiet "+hubSvc || h.unitState(edgeSvc) != "inactive" {
			t.Errorf("calls %q", calls)
		}
		st, err := c.State(ctx, []string{edgeYAML}, units)
		if err != nil || st.ReleaseID != "" || len(st.Files) != 0 || st.Services[edgeSvc] != "inactive" {
			t.Errorf("state after uninstall %+v %v", st, err)
		}
	})

	t.Run("installing after an uninstall starts over", func(t *testing.T) {
		res, err := c.Install(ctx, v1.release())
		if err != nil || !res.Changed || res.ReleaseID != first.ReleaseID {
			t.Fatalf("%+v %v", res, err)
		}
	})
}

func TestInstallFirstReleaseRollsBackToNothing(t *testing.T) {
	h := newHost(t)
	c, _ := h.client()
	r := hub{owner: "root", edge: "listen: :443\n", config: "c = 1\n", secret: randomSecret()}.release()
	r.Health = func(context.Context) error { return errors.New("no answer") }
	_, err := c.Install(context.Background(), r)
	se := stepOf(t, err)
	if se.Step != "health" || se.RolledBack != "none" || se.Rollback != nil {
		t.Fatalf("%v", err)
	}
	for _, p := range []string{ondroplet.Current, edgeUnit, hubUnit} {
		if _, err := os.Lstat(filepath.Join(h.Root, p)); !os.IsNotExist(err) {
			t.Errorf("%s survived the rollback of the first release (%v)", p, err)
		}
	}
	if h.unitState(edgeSvc) != "inactive" || h.unitState(hubSvc) != "inactive" {
		t.Errorf("services left running: %s %s", h.unitState(edgeSvc), h.unitState(hubSvc))
	}
	if len(h.releases()) != 0 {
		t.Errorf("releases left: %q", h.releases())
	}
}

func TestInstallRejectsBadFiles(t *testing.T) {
	for _, f := range []File{
		{Path: "relative/path"},
		{Path: "/opt/jhub/current/../../etc/passwd"},
		{Path: "/opt/jhub/releases/x"},
		{Path: "/opt/jhub/current/a b"},
		{Path: "/etc/x", Owner: "bad owner"},
		{Path: "/etc/x", Mode: os.ModeSymlink | 0o777},
	} {
		if _, err := normalize([]File{f}); err == nil {
			t.Errorf("%+v accepted", f)
		}
	}
	if _, err := normalize([]File{{Path: "/etc/x"}, {Path: "/etc/x"}}); err == nil {
		t.Error("a duplicate path accepted")
	}
}

func TestReleaseIDIsContentHash(t *testing.T) {
	a := []File{{Path: "/etc/a", Content: []byte("1")}, {Path: "/etc/b", Content: []byte("2")}}
	b := []File{a[1], a[0]}
	na, _ := normalize(a)
	nb, _ := normalize(b)
	if releaseID(na) != releaseID(nb) {
		t.Error("order changes the release id")
	}
	for _, mut := range []func(*File){
		func(f *File) { f.Content = []byte("3") },
		func(f *File) { f.Mode = 0o600 },
		func(f *File) { f.Owner = "nobody" },
		func(f *File) { f.Path = "/etc/c" },
	} {
		c := slices.Clone(na)
		mut(&c[0])
		if releaseID(c) == releaseID(na) {
			t.Errorf("a change to %+v keeps the release id", c[0])
		}
	}
}
