package installer

import (
	"archive/tar"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/classhub/terraform-provider-jhub/internal/ondroplet"
)

// File is one file of a release. Paths under ondroplet.Current live in the release
// directory; any other absolute path (systemd units, ufw rules) is kept in
// the release too and copied into place when the release becomes current.
type File struct {
	Path    string
	Mode    os.FileMode // permission bits; 0 means 0644
	Owner   string      // "user" or "user:group"; "" means root. Missing users are created as system users.
	Content []byte
	Secret  bool // content never leaves the tar stream, and is redacted from errors
	// Keep is the sha256 (hex) of the host's copy to keep: a secret whose
	// value the provider no longer holds, or holds but must not install
	// (a write-only attribute whose version did not change). When the
	// host's file has this hash, mode and owner it stays and Content is
	// not sent; otherwise Content is installed, and with no Content the
	// install fails. State.Matches compares the host's file with Keep.
	Keep string
}

// Service is a systemd unit the release runs.
type Service struct {
	Name            string   // e.g. "jhub-edge.service"
	Reload          bool     // any change reloads it (`systemctl reload`, SIGHUP for the edge)
	RestartOnChange []string // paths whose change restarts it; a change of its unit file always does
}

// Release is what Install puts on the host.
type Release struct {
	Files []File
	// Validate runs, as root, against the staged release before the switch;
	// "{{release}}" stands for the staged release directory.
	Validate []string
	Services []Service
	// Health proves the switched release from the provider side; nil = none.
	Health func(ctx context.Context) error
	// Packages are the Debian packages the students need (see ondroplet.StudentPackages).
	Packages []string
}

// Result says what Install did.
type Result struct {
	ReleaseID string   // content hash of the files
	Changed   bool     // false when the host already matched the release
	Restarted []string // units restarted (or started)
	Reloaded  []string // units reloaded
	SentBytes int64    // file content sent; files already on the host are copied there
	Installed []string // packages apt-get installed (or marked as installed by hand)
	Removed   []string // packages dropped from Release.Packages, left to apt's autoremove
	Kept      []string // paths of Keep files whose host copy was kept
}

// StepError is a failed Install step, with what rollback did.
type StepError struct {
	Step       string // "users", "inspect", "stage", "validate", "switch", "daemon-reload", "restart <unit>", "reload <unit>", "start <unit>", "health"
	Err        error
	RolledBack string // release switched back to ("" when nothing had been switched, "none" when there was no previous release)
	Rollback   error  // rollback failure, if any
}

func (e *StepError) Error() string {
	msg := fmt.Sprintf("install step %q failed: %v", e.Step, e.Err)
	switch {
	case e.Rollback != nil:
		msg += fmt.Sprintf("; ROLLBACK FAILED: %v", e.Rollback)
	case e.RolledBack == "none":
		msg += "; rolled back (no previous release; the release was removed and its services stopped)"
	case e.RolledBack != "":
		msg += "; rolled back to release " + e.RolledBack
	}
	return msg
}

func (e *StepError) Unwrap() error { return e.Err }

// account is a resolved owner.
type account struct {
	uid, gid    int
	user, group string
}

// Install installs r's packages that are missing, makes r the current
// release (installRelease), then removes the packages Install installed
// before that r no longer lists. A failed package install fails step
// "packages" before anything is staged: the current release keeps serving.
func (c *Client) Install(ctx context.Context, r Release) (Result, error) {
	if _, err := normalize(r.Files); err != nil {
		return Result{}, err
	}
	if err := checkPackages(r.Packages); err != nil {
		return Result{}, err
	}
	pc, err := c.planPackageChange(ctx, r.Packages)
	if err != nil {
		return Result{}, &StepError{Step: "packages", Err: err}
	}
	if script := c.installScript(pc); script != "" {
		if _, err := c.sh(ctx, script, nil); err != nil {
			return Result{}, &StepError{Step: "packages", Err: fmt.Errorf("installing %s: %w", strings.Join(pc.install, " "), aptError(err))}
		}
	}
	res, err := c.installRelease(ctx, r)
	res.Installed = pc.install
	if err != nil {
		return res, err
	}
	if script := c.removeScript(pc); script != "" {
		if _, err := c.sh(ctx, script, nil); err != nil {
			return res, fmt.Errorf("install: release %s is live, but removing the packages dropped from the list (%s) failed: %w", res.ReleaseID, strings.Join(pc.remove, " "), aptError(err))
		}
		res.Removed = pc.remove
	}
	res.Changed = res.Changed || len(pc.install) > 0 || len(pc.remove) > 0
	return res, nil
}

// installRelease makes r the current release: stage it in releases/, validate it,
// switch the current symlink atomically, install the files outside the
// release, daemon-reload when units changed, restart or reload what the
// change concerns, start what is not running, and run Health. Any failure
// after the switch switches back to the previous release and restores its
// services. An install whose files already match the host and whose
// services run does nothing (Changed=false).
func (c *Client) installRelease(ctx context.Context, r Release) (Result, error) {
	files, err := normalize(r.Files)
	if err != nil {
		return Result{}, err
	}
	for _, s := range r.Services {
		if !validUnit(s.Name) {
			return Result{}, fmt.Errorf("install: service name %q is not a systemd unit name like jhub-edge.service", s.Name)
		}
	}
	var res Result
	c.secrets = nil
	for _, f := range files {
		if f.Secret && len(f.Content) > 0 {
			c.secrets = append(c.secrets, f.Content)
		}
	}
	defer func() { c.secrets = nil }()

	accounts, err := c.ensureUsers(ctx, files)
	if err != nil {
		return res, &StepError{Step: "users", Err: err}
	}
	var paths []string
	for _, f := range files {
		paths = append(paths, f.Path)
	}
	units := make([]string, len(r.Services))
	for i, s := range r.Services {
		units[i] = s.Name
	}
	before, err := c.inspect(ctx, paths, units)
	if err != nil {
		return res, &StepError{Step: "inspect", Err: err}
	}
	want := map[string]FileState{}
	for i, f := range files {
		a := accounts[f.Owner]
		w := FileState{SHA256: f.Keep, Mode: f.Mode.Perm(), Owner: a.user, Group: a.group}
		switch {
		case f.Keep != "" && before.files[f.Path] == w:
			res.Kept = append(res.Kept, f.Path)
		case f.Keep != "" && f.Content == nil:
			return res, &StepError{Step: "inspect", Err: fmt.Errorf("%s on the host is not the copy to keep (changed by hand, or a new droplet), and its content was not given", f.Path)}
		default:
			files[i].Keep = ""
			w.SHA256 = contentSHA(f.Content)
		}
		want[f.Path] = w
	}
	// Kept files count with the hash they keep: the id is the files' on the host.
	id := releaseID(files)
	res.ReleaseID = id
	changed := map[string]bool{}
	for p, w := range want {
		if before.files[p] != w {
			changed[p] = true
		}
	}
	var removedOutside []string
	for p := range before.installed {
		if _, ok := want[p]; !ok {
			changed[p] = true
			removedOutside = append(removedOutside, p)
		}
	}
	allActive := true
	for _, u := range units {
		allActive = allActive && before.services[u] == "active"
	}
	// The id check matters when equal files come from a differently spelled
	// release (owner "u" vs "u:u"): State must then report this id.
	if len(changed) == 0 && allActive && before.currentExists && releaseIDOf(before.current) == id {
		return res, nil
	}
	res.Changed = true

	name := id + "-" + nonce()
	staged := c.p(ondroplet.Releases + "/" + name)
	// Files already on the host as wanted (the 20 MB edge binary, usually)
	// are copied there instead of sent again.
	reuse := map[string]string{}
	for p, w := range want {
		if before.files[p] == w {
			reuse[p] = w.SHA256
		}
	}
	for _, f := range files {
		if _, ok := reuse[f.Path]; !ok {
			res.SentBytes += int64(len(f.Content))
		}
	}
	if err := c.stage(ctx, name, files, accounts, reuse); err != nil {
		return res, &StepError{Step: "stage", Err: errors.Join(err, c.removeRelease(ctx, name))}
	}
	for _, v := range r.Validate {
		if _, err := c.sh(ctx, strings.ReplaceAll(v, releasePlaceholder, staged), nil); err != nil {
			return res, &StepError{Step: "validate", Err: errors.Join(err, c.removeRelease(ctx, name))}
		}
	}

	// From here on, a failure switches back.
	acted := map[string]string{} // unit -> "restart" | "reload"
	unitsChanged := false
	for p := range changed {
		unitsChanged = unitsChanged || isUnitPath(p)
	}
	fail := func(step string, err error) (Result, error) {
		se := &StepError{Step: step, Err: err, RolledBack: "none"}
		if before.current != "" {
			se.RolledBack = strings.TrimPrefix(before.current, "releases/")
		}
		se.Rollback = c.rollback(ctx, before, name, files, r.Services, acted, unitsChanged)
		return res, se
	}
	if err := c.activate(ctx, name, removedOutside); err != nil {
		return fail("switch", err)
	}
	if unitsChanged {
		if _, err := c.sh(ctx, "systemctl daemon-reload", nil); err != nil {
			return fail("daemon-reload", err)
		}
	}
	for _, s := range r.Services {
		restart := before.services[s.Name] != "active"
		for p := range changed {
			restart = restart || (isUnitPath(p) && path.Base(p) == s.Name) || slices.Contains(s.RestartOnChange, p)
		}
		switch {
		case restart:
			acted[s.Name] = "restart"
			if _, err := c.sh(ctx, "systemctl enable --quiet "+s.Name+" && systemctl restart "+s.Name, nil); err != nil {
				return fail("restart "+s.Name, err)
			}
			res.Restarted = append(res.Restarted, s.Name)
		case s.Reload && len(changed) > 0:
			acted[s.Name] = "reload"
			if _, err := c.sh(ctx, "systemctl reload "+s.Name, nil); err != nil {
				return fail("reload "+s.Name, err)
			}
			res.Reloaded = append(res.Reloaded, s.Name)
		}
	}
	if len(units) > 0 {
		after, err := c.inspect(ctx, nil, units)
		if err != nil {
			return fail("inspect", err)
		}
		for _, u := range units {
			if after.services[u] != "active" {
				journal, _ := c.sh(ctx, "journalctl -u "+u+" -n 30 --no-pager 2>&1 || systemctl status --no-pager "+u+" 2>&1 || true", nil)
				return fail("start "+u, fmt.Errorf("%s is %s after the switch:\n%s", u, after.services[u], c.redact(tail(journal))))
			}
		}
	}
	if r.Health != nil {
		if err := r.Health(ctx); err != nil {
			return fail("health", errors.New(c.redact(err.Error())))
		}
	}
	// Success: the old current becomes the rollback target; older ones go.
	script := "B=" + quote(c.p(ondroplet.Root)) + "\n"
	if before.current != "" && before.currentExists {
		script += "ln -sfn " + quote(before.current) + " \"$B/.previous.new\" && mv -Tf \"$B/.previous.new\" \"$B/previous\"\n"
	}
	script += `keep1=$(readlink "$B/current" || true); keep2=$(readlink "$B/previous" || true)
for d in "$B"/releases/*; do
	[ -e "$d" ] || continue
	r="releases/${d##*/}"
	[ "$r" = "$keep1" ] || [ "$r" = "$keep2" ] || rm -rf "$d"
done`
	if _, err := c.sh(ctx, script, nil); err != nil {
		// The new release serves; a failed prune is not worth a rollback.
		return res, fmt.Errorf("install: release %s is live, but recording the previous release and pruning old ones failed: %w", id, err)
	}
	return res, nil
}

// rollback switches back to the release that was current before, restores
// the files outside it, and puts the services back as they were.
func (c *Client) rollback(ctx context.Context, before inspection, failed string, files []File, services []Service, acted map[string]string, unitsChanged bool) error {
	var errs []error
	var drop []string // outside files of the failed release the old one lacks
	for _, f := range files {
		if !strings.HasPrefix(f.Path, ondroplet.Current+"/") && !before.installed[f.Path] {
			drop = append(drop, f.Path)
		}
	}
	if before.current != "" && before.currentExists {
		if err := c.activate(ctx, strings.TrimPrefix(before.current, "releases/"), drop); err != nil {
			errs = append(errs, fmt.Errorf("switching back: %w", err))
		}
	} else {
		script := "rm -f " + quote(c.p(ondroplet.Current))
		for _, p := range drop {
			script += " " + quote(c.p(p))
		}
		if _, err := c.sh(ctx, script, nil); err != nil {
			errs = append(errs, fmt.Errorf("removing the failed release: %w", err))
		}
	}
	if unitsChanged {
		if _, err := c.sh(ctx, "systemctl daemon-reload", nil); err != nil {
			errs = append(errs, err)
		}
	}
	for _, s := range services {
		act, ok := acted[s.Name]
		if !ok {
			continue
		}
		cmd := "systemctl " + act + " " + s.Name
		if before.services[s.Name] != "active" {
			cmd = "systemctl stop " + s.Name
		}
		if _, err := c.sh(ctx, cmd, nil); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		errs = append(errs, c.removeRelease(ctx, failed))
	}
	return errors.Join(errs...)
}

// removeRelease deletes a release directory that never became (or no
// longer is) current.
func (c *Client) removeRelease(ctx context.Context, name string) error {
	if _, err := c.sh(ctx, "rm -rf "+quote(c.p(ondroplet.Releases+"/"+name)), nil); err != nil {
		return fmt.Errorf("removing release %s: %w", name, err)
	}
	return nil
}

// activate installs the outside files of release name, removes the paths in
// drop, and points current at the release (rename of a temporary symlink).
func (c *Client) activate(ctx context.Context, name string, drop []string) error {
	script := "R=" + quote(c.Root) + "; B=\"$R" + ondroplet.Root + "\"; N=" + quote(name) + `
O="$B/releases/$N/` + outsideDir + `"
if [ -d "$O" ]; then
	(cd "$O" && find . -type f) | while read -r f; do
		t="$R/${f#./}"
		mkdir -p "$(dirname "$t")"
		cp -p "$O/${f#./}" "$t.jhub-new"
		mv -f "$t.jhub-new" "$t"
	done
fi
`
	for _, p := range drop {
		script += "rm -f \"$R\"" + quote(p) + "\n"
	}
	script += `ln -sfn "releases/$N" "$B/.current.new"
mv -Tf "$B/.current.new" "$B/current"`
	_, err := c.sh(ctx, script, nil)
	return err
}

// stage streams the release as a tar archive into releases/<name>. Files
// in reuse (path → sha256) are copied from the host's copy instead, and
// checked against the hash.
func (c *Client) stage(ctx context.Context, name string, files []File, accounts map[string]account, reuse map[string]string) error {
	var send []File
	var script strings.Builder
	dir := c.p(ondroplet.Releases + "/" + name)
	script.WriteString("umask 022\nmkdir -p " + quote(c.p(ondroplet.Releases)) + "\nchmod 755 " + quote(c.p(ondroplet.Root)) + " " + quote(c.p(ondroplet.Releases)) +
		"\nrm -rf " + quote(dir) + "\nmkdir -m 755 " + quote(dir) + "\ncd " + quote(dir) +
		"\ntar -x --numeric-owner --same-owner --same-permissions -f -\n")
	for _, f := range files {
		sum, ok := reuse[f.Path]
		if !ok {
			send = append(send, f)
			continue
		}
		rel := quote(stagedPath(f.Path))
		script.WriteString("mkdir -p \"$(dirname " + rel + ")\" && cp -p " + quote(c.p(f.Path)) + " " + rel +
			" && echo " + quote(sum+"  "+stagedPath(f.Path)) + " | sha256sum --check --status\n")
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeTar(pw, send, accounts)) }()
	defer func() { _ = pr.Close() }()
	_, err := c.sh(ctx, script.String(), pr)
	return err
}

func writeTar(w io.Writer, files []File, accounts map[string]account) error {
	tw := tar.NewWriter(w)
	now := time.Now()
	dirs := map[string]bool{}
	for _, f := range files {
		rel := stagedPath(f.Path)
		var parents []string
		for d := path.Dir(rel); d != "." && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
			parents = append(parents, d)
		}
		slices.Reverse(parents)
		for _, d := range parents {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: now, Uname: "root", Gname: "root"}); err != nil {
				return err
			}
		}
		a := accounts[f.Owner]
		h := &tar.Header{Typeflag: tar.TypeReg, Name: rel, Mode: int64(f.Mode.Perm()), Size: int64(len(f.Content)),
			ModTime: now, Uid: a.uid, Gid: a.gid, Uname: a.user, Gname: a.group}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(f.Content); err != nil {
			return err
		}
	}
	return tw.Close()
}

// stagedPath is where an absolute file path lives inside a release.
func stagedPath(p string) string {
	if rel, ok := strings.CutPrefix(p, ondroplet.Current+"/"); ok {
		return rel
	}
	return outsideDir + p
}

// ensureUsers creates missing owners (system users with a group of their
// own) and resolves every owner to numeric ids.
func (c *Client) ensureUsers(ctx context.Context, files []File) (map[string]account, error) {
	owners := map[string]bool{}
	for _, f := range files {
		owners[f.Owner] = true
	}
	var script strings.Builder
	for _, o := range slices.Sorted(maps.Keys(owners)) {
		u, g, _ := strings.Cut(o, ":")
		fmt.Fprintf(&script, "id -u %[1]s >/dev/null 2>&1 || useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin %[1]s\n", u)
		if g == "" {
			fmt.Fprintf(&script, "echo %s $(id -u %s) $(id -g %[2]s) %[2]s $(id -gn %[2]s)\n", o, u)
		} else {
			fmt.Fprintf(&script, "getent group %[1]s >/dev/null || groupadd --system %[1]s\n", g)
			fmt.Fprintf(&script, "echo %s $(id -u %s) $(getent group %s | cut -d: -f3) %[2]s %[3]s\n", o, u, g)
		}
	}
	out, err := c.sh(ctx, script.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("creating the owners of the release's files: %w", err)
	}
	accounts := map[string]account{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fs := strings.Fields(line)
		if len(fs) != 5 {
			return nil, fmt.Errorf("resolving owners: unexpected line %q", line)
		}
		uid, err1 := strconv.Atoi(fs[1])
		gid, err2 := strconv.Atoi(fs[2])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("resolving owners: unexpected line %q", line)
		}
		accounts[fs[0]] = account{uid: uid, gid: gid, user: fs[3], group: fs[4]}
	}
	for o := range owners {
		if _, ok := accounts[o]; !ok {
			return nil, fmt.Errorf("resolving owners: %q missing from the host's answer", o)
		}
	}
	return accounts, nil
}

// normalize checks and sorts the files and fills in defaults.
func normalize(in []File) ([]File, error) {
	if len(in) == 0 {
		return nil, errors.New("install: the release has no files")
	}
	files := make([]File, len(in))
	seen := map[string]bool{}
	for i, f := range in {
		if f.Mode == 0 {
			f.Mode = ondroplet.FileMode
		}
		if f.Owner == "" {
			f.Owner = ondroplet.RootUser
		}
		switch {
		case !validPath(f.Path):
			return nil, fmt.Errorf("install: file path %q must be absolute, clean and made of letters, digits and ._-/@+", f.Path)
		case strings.HasPrefix(f.Path, ondroplet.Root+"/") && !strings.HasPrefix(f.Path, ondroplet.Current+"/"):
			return nil, fmt.Errorf("install: file path %q: under %s only %s/… is a release's", f.Path, ondroplet.Root, ondroplet.Current)
		case seen[f.Path]:
			return nil, fmt.Errorf("install: file path %q appears twice", f.Path)
		case f.Mode&^os.ModePerm != 0:
			return nil, fmt.Errorf("install: file %s: mode %v is not plain permission bits", f.Path, f.Mode)
		case strings.Trim(f.Owner, ownerChars) != "" || strings.Count(f.Owner, ":") > 1 || strings.HasPrefix(f.Owner, ":") || strings.HasSuffix(f.Owner, ":"):
			return nil, fmt.Errorf("install: file %s: owner %q must be user or user:group", f.Path, f.Owner)
		}
		seen[f.Path] = true
		files[i] = f
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, nil
}

func validPath(p string) bool {
	return strings.HasPrefix(p, "/") && path.Clean(p) == p && p != "/" && strings.Trim(p, pathChars) == "" &&
		p != ondroplet.Current && !strings.HasPrefix(p, "/"+outsideDir)
}

func validUnit(u string) bool {
	return u != "" && strings.Trim(u, pathChars) == "" && !strings.Contains(u, "/") && strings.Contains(u, ".")
}

// isUnitPath says whether a change at p needs `systemctl daemon-reload`.
func isUnitPath(p string) bool {
	return strings.HasPrefix(p, "/etc/systemd/") || strings.HasPrefix(p, "/lib/systemd/") || strings.HasPrefix(p, "/usr/lib/systemd/")
}

// contentSHA is the hex sha256 of content, as sha256sum prints it.
func contentSHA(content []byte) string {
	sum := sha256.Sum256(content)
	return hex.EncodeToString(sum[:])
}

// fileSHA is the hash f has on the host once installed: the kept copy's or
// its content's.
func fileSHA(f File) string {
	if f.Keep != "" {
		return f.Keep
	}
	return contentSHA(f.Content)
}

// releaseID is the content hash of the (sorted) files: equal input, equal id.
func releaseID(files []File) string {
	h := sha256.New()
	for _, f := range files {
		_, _ = fmt.Fprintf(h, "%s\x00%o\x00%s\x00%s\x00", f.Path, f.Mode.Perm(), f.Owner, fileSHA(f)) // a hash never fails
	}
	return hex.EncodeToString(h.Sum(nil))[:24]
}

func nonce() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}
