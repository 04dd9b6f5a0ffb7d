//go:build lab

package provider

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/classhub/terraform-provider-jhub/internal/hubclient"
	"github.com/classhub/terraform-provider-jhub/internal/ondroplet"
)

// planCheckFunc makes a function a plan check.
type planCheckFunc func(context.Context, plancheck.CheckPlanRequest, *plancheck.CheckPlanResponse)

func (f planCheckFunc) CheckPlan(ctx context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	f(ctx, req, resp)
}

// The students' Debian packages on examples/class-hub: the example's
// packages, which the lab image lacks, install for real from the lab's
// mirror and a student's running kernel imports them; an unknown package
// fails the apply with apt's own message while the hub keeps serving and
// the state keeps the packages it had; a package dropped from the list is
// removed again.
func TestLabStudentPackages(t *testing.T) {
	h := newClassHub(t)
	t.Setenv("TF_ACC_PROVIDER_NAMESPACE", "classhub")
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	const unknown = "python3-jhub-no-such-package"
	example := []string{"python3-numpy", "python3-pandas", "python3-matplotlib", "python3-scipy"} // the example's default
	var ip string
	var kernel *hubclient.Kernel
	var applied time.Time
	// step applies the example with packages (nil: the example's default).
	step := func(packages []string) resource.TestStep {
		s := h.exampleStep(t, []string{"alice"}, []string{"teacher"})
		if packages != nil {
			s.ConfigVariables["student_packages"] = stringsVariable(packages)
		}
		s.PreConfig = func() { applied = time.Now() }
		return s
	}
	took := func(what string) resource.TestCheckFunc {
		return func(*terraform.State) error {
			t.Logf("%s: %s", what, time.Since(applied).Round(time.Second))
			return nil
		}
	}
	record := func() string {
		return strings.Join(strings.Fields(h.ssh(t, ctx, ip, "cat "+ondroplet.StudentPackages)), " ")
	}
	status := func(pkgs ...string) string {
		return strings.TrimSpace(h.ssh(t, ctx, ip, "dpkg-query -W -f='${Package}=${db:Status-Abbrev}\\n' "+strings.Join(pkgs, " ")+" 2>/dev/null | tr -d ' ' | sort | tr '\\n' ' '"))
	}
	imports := "import importlib\nimportlib.invalidate_caches()\nimport numpy, pandas, scipy, matplotlib\nmatplotlib.use('Agg')\n" +
		"print(numpy.__version__, pandas.__version__, scipy.__version__, matplotlib.__version__, int(pandas.Series(numpy.arange(10)).sum()))"

	// Without packages: the image has none of the example's.
	none := step([]string{})
	none.Check = resource.ComposeTestCheckFunc(
		took("apply without student packages"),
		func(s *terraform.State) error {
			ip = dropletIP(s)
			h.hostKey = s.RootModule().Resources["jhub_droplet.hub"].Primary.Attributes["host_public_key"]
			_, k, err := h.studentKernel(ctx, t, "alice", labClassPassword)
			if err != nil {
				return err
			}
			kernel = k
			out, err := k.Execute(ctx, "import importlib.util\nprint([m for m in ('numpy','pandas','scipy','matplotlib') if importlib.util.find_spec(m)])")
			if err != nil || out != "[]" {
				return fmt.Errorf("before student_packages, the kernel finds %q (%v); the lab image must lack them", out, err)
			}
			return nil
		},
	)

	// The example's packages, in place: the droplet stays and alice's
	// running kernel imports them.
	add := step(nil)
	add.ConfigPlanChecks = resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
		plancheck.ExpectResourceAction("jhub_droplet.hub", plancheck.ResourceActionNoop),
		plancheck.ExpectResourceAction("jhub_edge.hub", plancheck.ResourceActionUpdate),
	}}
	add.Check = resource.ComposeTestCheckFunc(
		took("apply adding "+strings.Join(example, " ")),
		func(*terraform.State) error {
			out, err := kernel.Execute(ctx, imports)
			if err != nil || !strings.HasSuffix(out, " 45") {
				return fmt.Errorf("alice's kernel importing the example's packages: %q, %v", out, err)
			}
			t.Logf("alice's kernel: numpy pandas scipy matplotlib %s", out)
			if got, want := record(), strings.Join(slices.Sorted(slices.Values(example)), " "); got != want {
				return fmt.Errorf("%s holds %q, want %q", ondroplet.StudentPackages, got, want)
			}
			return nil
		},
	)

	// An unknown package fails the apply with apt's own words...
	bad := step(append(slices.Clone(example), unknown))
	bad.ExpectError = regexp.MustCompile(`(?s)Install failed at step "packages".*E:\s+Unable\s+to\s+locate\s+package\s+` + unknown)

	// ...the hub keeps serving alice, the record on the droplet is the
	// one before, and the plan still wants to add the package.
	after := step(append(slices.Clone(example), unknown))
	after.PreConfig = func() { t.Logf("failed apply: %s", time.Since(applied).Round(time.Second)) }
	after.PlanOnly, after.ExpectNonEmptyPlan = true, true
	after.ConfigPlanChecks = resource.ConfigPlanChecks{PostApplyPreRefresh: []plancheck.PlanCheck{
		plancheck.ExpectResourceAction("jhub_edge.hub", plancheck.ResourceActionUpdate),
		planCheckFunc(func(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
			for _, rc := range req.Plan.ResourceChanges {
				if rc.Address != "jhub_edge.hub" {
					continue
				}
				before, _ := rc.Change.Before.(map[string]any)
				planned, _ := rc.Change.After.(map[string]any)
				if has(before["student_packages"], unknown) || !has(planned["student_packages"], unknown) {
					resp.Error = fmt.Errorf("student_packages in state %v, planned %v: the state must keep the old set and the plan add %s", before["student_packages"], planned["student_packages"], unknown)
				}
			}
		}),
		planCheckFunc(func(_ context.Context, _ plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
			if out, err := kernel.Execute(ctx, imports); err != nil || !strings.HasSuffix(out, " 45") {
				resp.Error = fmt.Errorf("alice's kernel after the failed apply: %q, %v", out, err)
				return
			}
			if err := h.client(t, "/").Login(ctx, "alice", labClassPassword); err != nil {
				resp.Error = fmt.Errorf("logging in after the failed apply: %w", err)
				return
			}
			if got, want := record(), strings.Join(slices.Sorted(slices.Values(example)), " "); got != want {
				resp.Error = fmt.Errorf("after the failed apply %s holds %q, want %q", ondroplet.StudentPackages, got, want)
			}
		}),
	}}

	// Taking the unknown package out again converges on the state as it was.
	back := step(nil)
	back.ConfigPlanChecks = resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
		plancheck.ExpectResourceAction("jhub_edge.hub", plancheck.ResourceActionNoop),
	}}

	// A package dropped from the list goes; what the hub needs stays.
	withoutScipy := slices.DeleteFunc(slices.Clone(example), func(p string) bool { return p == "python3-scipy" })
	drop := step(withoutScipy)
	drop.ConfigPlanChecks = resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
		plancheck.ExpectResourceAction("jhub_droplet.hub", plancheck.ResourceActionNoop),
		plancheck.ExpectResourceAction("jhub_edge.hub", plancheck.ResourceActionUpdate),
	}}
	drop.Check = resource.ComposeTestCheckFunc(
		took("apply dropping python3-scipy"),
		func(*terraform.State) error {
			if got := status("python3-scipy", "python3-pandas", "jupyterlab"); strings.Contains(got, "python3-scipy=ii") || !strings.Contains(got, "python3-pandas=ii") || !strings.Contains(got, "jupyterlab=ii") {
				return fmt.Errorf("after dropping python3-scipy: %q", got)
			}
			out, err := kernel.Execute(ctx, "import subprocess, sys\nprint(subprocess.run([sys.executable, '-c', 'import scipy'], capture_output=True).returncode, subprocess.run([sys.executable, '-c', 'import pandas'], capture_output=True).returncode)")
			if err != nil || out != "1 0" {
				return fmt.Errorf("importing scipy and pandas after dropping python3-scipy: %q, %v", out, err)
			}
			if got, want := record(), strings.Join(slices.Sorted(slices.Values(withoutScipy)), " "); got != want {
				return fmt.Errorf("%s holds %q, want %q", ondroplet.StudentPackages, got, want)
			}
			return nil
		},
	)
	resource.Test(t, resource.TestCase{PreCheck: func() { preCheck(t) }, Steps: []resource.TestStep{none, add, bad, after, back, drop}})
}

// has says whether a planned set of strings holds s.
func has(set any, s string) bool {
	l, _ := set.([]any)
	return slices.Contains(l, any(s))
}
