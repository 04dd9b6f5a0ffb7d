package installer

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/classhub/terraform-provider-jhub/internal/cloudinit"
	"github.com/classhub/terraform-provider-jhub/internal/ondroplet"
)

// Debian packages for the students (jhub_edge's student_packages). apt is
// not transactional, so packages are not part of a release's files: they
// are installed before the release is staged (a failure leaves the current
// release serving, untouched) and the ones dropped from the set are removed
// only after the new release has proven healthy.

// packageNameRE is Debian policy §5.6.1: lower-case letters, digits, '+',
// '-' and '.', at least two characters, starting with a letter or digit.
var packageNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)

// CheckPackageName says what is wrong with name as a Debian package name,
// with the fix, or "" when it is one. Versions (name=version) and
// architectures (name:arch) are refused: a Debian release keeps one version
// of each package and updates it only for security fixes, and the droplet
// installs its own architecture.
func CheckPackageName(name string) string {
	if packageNameRE.MatchString(name) {
		return ""
	}
	if base, _, ok := strings.Cut(name, "="); ok && packageNameRE.MatchString(base) {
		return fmt.Sprintf("%q pins a version, which is not supported: the droplet's Debian release has one version of each package and updates it for security fixes only; write %q.", name, base)
	}
	if base, _, ok := strings.Cut(name, ":"); ok && packageNameRE.MatchString(base) {
		return fmt.Sprintf("%q names an architecture; the droplet installs its own: write %q.", name, base)
	}
	if f := strings.Fields(name); len(f) > 1 {
		return fmt.Sprintf("%q holds several names; give one package per element: %q.", name, f)
	}
	if lower := strings.ToLower(strings.TrimSpace(name)); lower != name && packageNameRE.MatchString(lower) {
		return fmt.Sprintf("%q is not a Debian package name: names are lower-case; write %q.", name, lower)
	}
	return fmt.Sprintf("%q is not a Debian package name: at least two lower-case letters, digits, '+', '-' or '.', starting with a letter or digit (Debian policy §5.6.1), such as \"python3-numpy\".", name)
}

// aptGet is apt-get with args as a shell command, as the payload runs it.
func aptGet(args ...string) string { return Command(cloudinit.AptGet(args...)...) }

// packageChange is what one Install does to the students' packages.
type packageChange struct {
	update  bool     // refresh the package lists first: something is not installed yet
	install []string // not installed by hand yet: apt-get install (marks them manual)
	remove  []string // installed by Install before and no longer wanted
	record  []string // ondroplet.StudentPackages once the install has run
	final   []string // ondroplet.StudentPackages once the removal has run
}

// planPackages decides the change from the wanted set, the record on the
// host, and which of those packages are installed and installed by hand.
func planPackages(want, recorded []string, installed, manual map[string]bool) packageChange {
	var pc packageChange
	for _, p := range want {
		if !manual[p] {
			pc.install = append(pc.install, p)
			pc.update = pc.update || !installed[p]
		}
	}
	ours := map[string]bool{}
	for _, p := range append(slices.Clone(recorded), pc.install...) {
		ours[p] = true
	}
	for p := range ours {
		pc.record = append(pc.record, p)
		switch {
		case slices.Contains(want, p):
			pc.final = append(pc.final, p)
		case installed[p]:
			pc.remove = append(pc.remove, p)
		}
	}
	for _, l := range [][]string{pc.install, pc.remove, pc.record, pc.final} {
		slices.Sort(l)
	}
	return pc
}

// installScript installs pc.install and records them; "" when there is
// nothing to install.
func (c *Client) installScript(pc packageChange) string {
	if len(pc.install) == 0 {
		return ""
	}
	var b strings.Builder
	if pc.update {
		b.WriteString(aptGet("update") + " >/dev/null\n")
	}
	// --no-remove: a package that conflicts with the hub's own fails the
	// install instead of removing JupyterHub.
	b.WriteString(aptGet(append([]string{"--no-remove", "--no-install-recommends", "install", "--"}, pc.install...)...) + " >/dev/null\n")
	b.WriteString(c.recordScript(pc.record))
	return b.String()
}

// removeScript removes each of pc.remove that no installed package depends
// on (apt-get would remove those with it), then lets apt-get autoremove take
// the dependencies only they needed; the ones still needed stay, marked as
// automatically installed, until their last user goes. Not autoremove
// alone: it keeps what an installed package merely recommends (pandas
// recommends scipy). "" when there is nothing to remove.
func (c *Client) removeScript(pc packageChange) string {
	if len(pc.remove) == 0 {
		return ""
	}
	return "apt-mark auto -- " + strings.Join(pc.remove, " ") + " >/dev/null\n" +
		"for p in " + strings.Join(pc.remove, " ") + "; do\n" +
		"\tif [ \"$(apt-get -s remove -- \"$p\" 2>/dev/null | grep -c '^Remv ')\" = 1 ]; then " + aptGet("remove", "--") + " \"$p\" >/dev/null; fi\n" +
		"done\n" + aptGet("autoremove") + " >/dev/null\n" + c.recordScript(pc.final)
}

func (c *Client) recordScript(names []string) string {
	f, tmp := quote(c.p(ondroplet.StudentPackages)), quote(c.p(ondroplet.StudentPackages)+".new")
	return "mkdir -p " + quote(c.p(ondroplet.Root)) + "\nprintf '%s\\n' " + strings.Join(names, " ") + " | grep . > " + tmp + " || true\nmv -f " + tmp + " " + f + "\n"
}

// planPackageChange reads the record and the state of the wanted and
// recorded packages from the host in one round trip.
func (c *Client) planPackageChange(ctx context.Context, want []string) (packageChange, error) {
	script := "set -f\nrec=$(cat " + quote(c.p(ondroplet.StudentPackages)) + " 2>/dev/null || true)\nfor p in $rec; do echo \"r $p\"; done\n" +
		"all=\"" + strings.Join(want, " ") + " $(echo $rec)\"\n" +
		`if [ -n "${all# }" ]; then
	dpkg-query -W -f='i ${db:Status-Abbrev} ${Package}\n' $all 2>/dev/null || true
	apt-mark showmanual $all 2>/dev/null | sed 's/^/m /' || true
fi
`
	out, err := c.sh(ctx, script, nil)
	if err != nil {
		return packageChange{}, fmt.Errorf("reading the installed packages: %w", err)
	}
	var recorded []string
	installed, manual := map[string]bool{}, map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[0] == "r" && CheckPackageName(f[1]) == "":
			recorded = append(recorded, f[1])
		case len(f) == 3 && f[0] == "i":
			installed[f[2]] = len(f[1]) > 1 && f[1][1] == 'i'
		case len(f) == 2 && f[0] == "m":
			manual[f[1]] = true
		}
	}
	return planPackages(want, recorded, installed, manual), nil
}

// aptError keeps apt's own error lines ("E: Unable to locate package …")
// of a failed apt-get, or its whole stderr when it has none.
func aptError(err error) error {
	var xe *ExitError
	if !errors.As(err, &xe) {
		return err
	}
	var lines []string
	for _, l := range strings.Split(xe.Stderr, "\n") {
		if strings.HasPrefix(l, "E: ") {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return fmt.Errorf("apt-get failed (exit status %d): %s", xe.Status, xe.Stderr)
	}
	return errors.New(strings.Join(lines, "\n"))
}

// checkPackages refuses names that are not Debian package names (the
// provider checks them at plan time; they also end up in shell scripts).
func checkPackages(names []string) error {
	var errs []error
	for _, n := range names {
		if msg := CheckPackageName(n); msg != "" {
			errs = append(errs, errors.New("install: student package "+msg))
		}
	}
	return errors.Join(errs...)
}
