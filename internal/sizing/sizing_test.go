package sizing

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/digitalocean/godo"

	"github.com/classhub/terraform-provider-jhub/internal/dosim"
)

var update = flag.Bool("update", false, "rewrite the guide's table in templates/guides/sizing.md.tmpl")

// The measurement the constants come from, and the guide that cites them.
var (
	resultFile = filepath.Join("..", "..", "bench", "results", "lecture", "after-timeouts-n60.json")
	guideFile  = filepath.Join("..", "..", "templates", "guides", "sizing.md.tmpl")
)

// Markers around the generated table in the guide.
const (
	tableStart = "<!-- table: generated from internal/sizing; go test ./internal/sizing -update -->\n"
	tableEnd   = "<!-- end of table -->\n"
)

// TestConstantsAreTheMeasurement: every constant is the recorded lecture's
// figure, so a new measurement cannot leave the guide and the warning on
// the old one unnoticed.
func TestConstantsAreTheMeasurement(t *testing.T) {
	b, err := os.ReadFile(resultFile)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		N         int `json:"n"`
		Failed    int `json:"failed"`
		Resources map[string]struct {
			CPUSeconds float64 `json:"cpu_seconds"`
			PeakRSSMiB float64 `json:"peak_rss_mib"`
		} `json:"resources"`
		Memory struct {
			ServerMiB float64 `json:"server_mib"`
			KernelMiB float64 `json:"kernel_mib"`
		} `json:"memory"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	var cpu float64
	for _, u := range r.Resources {
		cpu += u.CPUSeconds
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"ServerMiB", ServerMiB, math.Round(r.Memory.ServerMiB)},
		{"KernelMiB", KernelMiB, math.Round(r.Memory.KernelMiB)},
		{"HubMiB", HubMiB, math.Round(r.Resources["hub"].PeakRSSMiB)},
		{"EdgeMiB", EdgeMiB, math.Round(r.Resources["edge"].PeakRSSMiB)},
		{"OtherMiB", OtherMiB, math.Round(r.Resources["other"].PeakRSSMiB)},
		{"StartCPUSeconds", StartCPUSeconds, math.Round(cpu/float64(r.N)*10) / 10},
		{"HubStartCPUSeconds", HubStartCPUSeconds, math.Round(r.Resources["hub"].CPUSeconds/float64(r.N)*10) / 10},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, but %s measured %v", c.name, c.got, resultFile, c.want)
		}
	}
	// The measured lecture itself: N busy students on its droplet (16 GiB)
	// used at most what Students leaves them.
	if n := Students(16<<10, true); n < r.N-r.Failed {
		t.Errorf("Students(16 GiB, busy) = %d, but the lab ran %d busy students on 16 GiB", n, r.N-r.Failed)
	}
	var peak float64
	for _, u := range r.Resources {
		peak += u.PeakRSSMiB
	}
	if limit := float64(16<<10) * (100 - HeadroomPercent) / 100; peak > limit {
		t.Errorf("the lab's %d students peaked at %.0f MiB, more than the %.0f MiB the headroom leaves on 16 GiB", r.N, peak, limit)
	}
}

func TestStudents(t *testing.T) {
	for _, c := range []struct {
		mib        int
		idle, busy int
	}{
		{512, 0, 0},
		{1024, 0, 0},
		{2048, 5, 3},
		{4096, 18, 11},
		{16384, 93, 60},
	} {
		if idle, busy := Students(c.mib, false), Students(c.mib, true); idle != c.idle || busy != c.busy {
			t.Errorf("Students(%d MiB) = %d idle, %d busy; want %d, %d", c.mib, idle, busy, c.idle, c.busy)
		}
	}
	// 2 vCPUs: 16 a minute, so the lab's 60 take 4 minutes (measured:
	// 248.5 s); from 8 vCPUs on, the hub's one core is the limit.
	for _, c := range []struct{ vcpus, minutes int }{{2, 4}, {4, 2}, {8, 2}, {32, 2}} {
		if got := LectureStartMinutes(60, c.vcpus); got != c.minutes {
			t.Errorf("LectureStartMinutes(60, %d) = %d, want %d", c.vcpus, got, c.minutes)
		}
	}
}

// TestGuideTable: the guide's table is Table over the sizes DigitalOcean
// lists (here the simulator's catalogue, read through godo as the
// provider reads it). With -update the table is rewritten.
func TestGuideTable(t *testing.T) {
	sim := dosim.NewTest(t, dosim.Options{})
	c := godo.NewFromToken(sim.Token())
	base, err := url.Parse(sim.URL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	c.BaseURL = base
	list, _, err := c.Sizes.List(context.Background(), &godo.ListOptions{PerPage: 200})
	if err != nil {
		t.Fatal(err)
	}
	var sizes []Size
	for _, s := range list {
		if strings.HasPrefix(s.Slug, "s-") { // the Basic sizes the guide compares
			sizes = append(sizes, Size{Slug: s.Slug, MemoryMiB: s.Memory, VCPUs: s.Vcpus})
		}
	}
	if len(sizes) < 4 {
		t.Fatalf("the simulator lists only %d Basic sizes: %v", len(sizes), sizes)
	}
	want := tableStart + Table(sizes) + tableEnd
	b, err := os.ReadFile(guideFile)
	if err != nil {
		t.Fatal(err)
	}
	guide := string(b)
	before, rest, ok1 := strings.Cut(guide, tableStart)
	_, after, ok2 := strings.Cut(rest, tableEnd)
	if !ok1 || !ok2 {
		t.Fatalf("%s has no table between %q and %q", guideFile, tableStart, tableEnd)
	}
	// The figures the guide's prose cites are the constants too.
	for _, fig := range []string{
		fmt.Sprintf("| %d MiB |", ServerMiB), fmt.Sprintf("| %d MiB |", KernelMiB), fmt.Sprintf("| %d MiB |", HubMiB),
		fmt.Sprintf("| %d MiB |", EdgeMiB), fmt.Sprintf("| %d MiB |", OtherMiB), fmt.Sprintf("%d MiB for the hub, the edge and the rest", ReserveMiB),
		fmt.Sprintf("(%d + %d = %d MiB each)", ServerMiB, KernelMiB, PerStudentMiB(true)), fmt.Sprintf("**%.1f CPU-seconds**", StartCPUSeconds),
		fmt.Sprintf("%.1f CPU-s per student", HubStartCPUSeconds), fmt.Sprintf("memory × %d %%", 100-HeadroomPercent),
		fmt.Sprintf("vCPUs × 60 / %.1f", StartCPUSeconds), fmt.Sprintf("60 / %.1f = %.0f", HubStartCPUSeconds, StartsPerMinute(1000)),
	} {
		if !strings.Contains(guide, fig) {
			t.Errorf("%s does not cite %q: update its prose to the constants", guideFile, fig)
		}
	}
	if got := tableStart + rest[:len(rest)-len(after)]; got == want {
		return
	}
	if *update {
		if err := os.WriteFile(guideFile, []byte(before+want+after), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("the table in %s is stale; run go test ./internal/sizing -update and make generate. Want:\n%s", guideFile, want)
}
