package installer

import (
	"context"
	"fmt"
	"strings"
)

// State is what is installed on the host now, for drift detection.
type State struct {
	ReleaseID string            // content hash of the current release; "" when none
	Files     map[string]string // path → sha256 (hex) of the file on disk; missing files are absent
	Perms     map[string]string // path → "600 owner:group" on disk
	Services  map[string]string // unit → systemd ActiveState ("active", "inactive", "failed", …)
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
	s := State{Files: map[string]string{}, Perms: map[string]string{}, Services: in.services}
	if in.currentExists {
		s.ReleaseID = releaseIDOf(in.current)
	}
	for _, p := range paths {
		if v, ok := in.files[p]; ok {
			sum, perm, _ := strings.Cut(v, " ")
			s.Files[p], s.Perms[p] = sum, perm
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
	current       string            // target of the current symlink ("releases/<name>"), "" when none
	currentExists bool              // that release directory exists
	installed     map[string]bool   // paths outside BaseDir the current release put in place
	files         map[string]string // path → "sha256 mode owner:group" for existing files
	services      map[string]string // unit → ActiveState
}

// inspect reads the current release, the files it put outside BaseDir, the
// given paths and the given units in one round trip. Extra files inside a
// release directory (a validator's __pycache__) are not tracked: switching
// releases replaces them anyway.
func (c *Client) inspect(ctx context.Context, paths, units []string) (inspection, error) {
	var b strings.Builder
	b.WriteString("R=" + quote(c.Root) + "; B=\"$R" + BaseDir + `"
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
	in := inspection{installed: map[string]bool{}, files: map[string]string{}, services: map[string]string{}}
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
			if fs := strings.Fields(rest); len(fs) == 4 {
				in.files[fs[3]] = strings.Join(fs[:3], " ")
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
// files the current release put outside BaseDir, and BaseDir itself. The
// edge's TLS storage (TLSDir) and the users stay: export it first when the
// certificates should survive. Running it again is harmless.
func (c *Client) Uninstall(ctx context.Context, units []string) error {
	var b strings.Builder
	b.WriteString("R=" + quote(c.Root) + "; B=\"$R" + BaseDir + "\"\n")
	for _, u := range units {
		if !validUnit(u) {
			return fmt.Errorf("uninstall: %q is not a systemd unit name like jhub-edge.service", u)
		}
		fmt.Fprintf(&b, "if [ -e \"$R%[1]s/%[2]s\" ]; then systemctl disable --now --quiet %[2]s; else systemctl stop %[2]s >/dev/null 2>&1 || true; fi\n", unitDir, u)
	}
	b.WriteString(`if [ -d "$B/current/` + outsideDir + `" ]; then
	(cd "$B/current/` + outsideDir + `" && find . -type f) | while read -r f; do rm -f "$R/${f#./}"; done
fi
`)
	for _, u := range units {
		fmt.Fprintf(&b, "rm -f \"$R%s/%s\"\n", unitDir, u)
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
