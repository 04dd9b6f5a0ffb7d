package installer

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/classhub/terraform-provider-jhub/internal/ondroplet"
)

// State is what is installed on the host now, for drift detection.
type State struct {
	ReleaseID string               // content hash of the current release; "" when none
	Files     map[string]FileState // path → the file on disk; missing files are absent
	Services  map[string]string    // unit → systemd ActiveState ("active", "inactive", "failed", …)
}

// FileState is one file on disk.
type FileState struct {
	SHA256       string // hex
	Mode         os.FileMode
	Owner, Group string
}

// Matches reports whether f is on disk as Install puts it: same content
// (the kept copy's hash, for a File.Keep), mode and owner (and group, when
// f names one).
func (s State) Matches(f File) bool {
	fs, ok := s.Files[f.Path]
	if !ok {
		return false
	}
	mode, owner := f.Mode, f.Owner
	if mode == 0 {
		mode = ondroplet.FileMode
	}
	if owner == "" {
		owner = ondroplet.RootUser
	}
	user, group, hasGroup := strings.Cut(owner, ":")
	return fs.SHA256 == fileSHA(f) && fs.Mode == mode.Perm() && fs.Owner == user && (!hasGroup || fs.Group == group)
}

// State reads the current release, the given files and the given units.
// A hand-edited file shows as a different hash, a stopped unit as a state
// other than "active".
func (c *Client) State(ctx context.Context, paths, units []string) (State, error) {
	for _, p := range paths {
		if !validPath(p) {
			return State{}, fmt.Errorf("state: path %q must be absolute, clean and made of letters, digits and ._-/@+", p)
		}
	}
	for _, u := range units {
		if !validUnit(u) {
			return State{}, fmt.Errorf("state: %q is not a systemd unit name like jhub-edge.service", u)
		}
	}
	in, err := c.inspect(ctx, paths, units)
	if err != nil {
		return State{}, err
	}
	s := State{Files: map[string]FileState{}, Services: in.services}
	if in.currentExists {
		s.ReleaseID = releaseIDOf(in.current)
	}
	for _, p := range paths {
		if v, ok := in.files[p]; ok {
			s.Files[p] = v
		}
	}
	return s, nil
}

// releaseIDOf is the content hash in a release directory's name
// ("releases/<id>-<nonce>").
func releaseIDOf(current string) string {
	id, _, _ := strings.Cut(strings.TrimPrefix(current, "releases/"), "-")
	return id
}

// inspection is one look at the host.
type inspection struct {
	current       string               // target of the current symlink ("releases/<name>"), "" when none
	currentExists bool                 // that release directory exists
	installed     map[string]bool      // paths outside ondroplet.Root the current release put in place
	files         map[string]FileState // existing files
	services      map[string]string    // unit → ActiveState
}

// inspect reads the current release, the files it put outside ondroplet.Root, the
// given paths and the given units in one round trip. Extra files inside a
// release directory (a validator's __pycache__) are not tracked: switching
// releases replaces them anyway.
func (c *Client) inspect(ctx context.Context, paths, units []string) (inspection, error) {
	var b strings.Builder
	b.WriteString("R=" + quote(c.Root) + "; B=\"$R" + ondroplet.Root + `"
st() { if [ -f "$R$1" ]; then echo "f $(sha256sum < "$R$1" | cut -d' ' -f1) $(stat -L -c '%a %U:%G' "$R$1") $1"; fi; }
cur=$(readlink "$B/current" || true)
echo "cur $cur"
if [ -n "$cur" ] && [ -d "$B/$cur" ]; then
	echo "exists"
	if [ -d "$B/$cur/` + outsideDir + `" ]; then
		(cd "$B/$cur/` + outsideDir + `" && find . -type f) | while read -r f; do
			echo "have /${f#./}"; st "/${f#./}"
		done
	fi
fi
`)
	for _, p := range paths {
		b.WriteString("st " + quote(p) + "\n")
	}
	for _, u := range units {
		b.WriteString("echo \"s " + u + " $(systemctl show -p ActiveState --value " + u + " 2>/dev/null || echo unknown)\"\n")
	}
	out, err := c.sh(ctx, b.String(), nil)
	if err != nil {
		return inspection{}, fmt.Errorf("reading the installed state: %w", err)
	}
	in := inspection{installed: map[string]bool{}, files: map[string]FileState{}, services: map[string]string{}}
	for _, line := range strings.Split(string(out), "\n") {
		kind, rest, _ := strings.Cut(line, " ")
		switch kind {
		case "cur":
			in.current = rest
		case "exists":
			in.currentExists = true
		case "have":
			in.installed[rest] = true
		case "f":
			// "<sha256> <octal mode> <user>:<group> <path>"
			if fs := strings.Fields(rest); len(fs) == 4 {
				mode, err := strconv.ParseUint(fs[1], 8, 32)
				user, group, ok := strings.Cut(fs[2], ":")
				if err != nil || !ok {
					return inspection{}, fmt.Errorf("reading the installed state: unexpected line %q", line)
				}
				in.files[fs[3]] = FileState{SHA256: fs[0], Mode: os.FileMode(mode), Owner: user, Group: group}
			}
		case "s":
			if u, st, ok := strings.Cut(rest, " "); ok {
				if st == "" {
					st = "unknown"
				}
				in.services[u] = st
			}
		}
	}
	return in, nil
}

// Uninstall stops and disables the units, removes their unit files, the
// files the current release put outside ondroplet.Root, and ondroplet.Root itself. The
// edge's TLS storage (ondroplet.TLSDir) and the users stay: export it first when the
// certificates should survive. Running it again is harmless.
func (c *Client) Uninstall(ctx context.Context, units []string) error {
	var b strings.Builder
	b.WriteString("R=" + quote(c.Root) + "; B=\"$R" + ondroplet.Root + "\"\n")
	for _, u := range units {
		if !validUnit(u) {
			return fmt.Errorf("uninstall: %q is not a systemd unit name like jhub-edge.service", u)
		}
		fmt.Fprintf(&b, "if [ -e \"$R%[1]s/%[2]s\" ]; then systemctl disable --now --quiet %[2]s; else systemctl stop %[2]s >/dev/null 2>&1 || true; fi\n", ondroplet.UnitDir, u)
	}
	b.WriteString(`if [ -d "$B/current/` + outsideDir + `" ]; then
	(cd "$B/current/` + outsideDir + `" && find . -type f) | while read -r f; do rm -f "$R/${f#./}"; done
fi
`)
	for _, u := range units {
		fmt.Fprintf(&b, "rm -f \"$R%s/%s\"\n", ondroplet.UnitDir, u)
	}
	b.WriteString("rm -rf \"$B\"\n")
	if len(units) > 0 {
		b.WriteString("systemctl daemon-reload\n")
	}
	if _, err := c.sh(ctx, b.String(), nil); err != nil {
		return fmt.Errorf("uninstall: %w", err)
	}
	return nil
}
