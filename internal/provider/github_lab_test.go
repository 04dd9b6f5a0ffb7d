//go:build lab

package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/classhub/terraform-provider-jhub/internal/edgeconfig"
	"github.com/classhub/terraform-provider-jhub/internal/hubclient"
	"github.com/classhub/terraform-provider-jhub/internal/testkit/ghstandin"
)

// labGitHubPort is where the GitHub stand-in listens on the lab gateway.
const labGitHubPort = 9444

// githubClassExample is examples/github-class exactly as shipped.
var githubClassExample = config.StaticDirectory("../../examples/github-class")

// ghLogin logs login in as a student does: the hub's login page sends
// the browser through the edge to GitHub, she signs in there, and GitHub
// sends her back to the hub.
func ghLogin(ctx context.Context, c *hubclient.Client, gh, login string) (landing, error) {
	b := c.Browser()
	form, err := visit(ctx, b, http.MethodGet, c.URL("hub/login?next="+url.QueryEscape("/hub/home")), nil)
	if err != nil {
		return form, err
	}
	back := form.url.Query().Get("return_to")
	if form.status != http.StatusOK || back == "" || !strings.HasPrefix(form.url.String(), gh+"/login") {
		return form, fmt.Errorf("the hub's login did not reach GitHub's sign-in: %s", form)
	}
	return visit(ctx, b, http.MethodPost, gh+"/session", url.Values{"login": {login}, "return_to": {back}})
}

// The seeds' GitHub OAuth deployment, examples/github-class as shipped,
// against the GitHub stand-in through github_url (GitHub Enterprise's
// layout, the production code path): a student listed as "Alice-Smith"
// logs in as GitHub's Alice-Smith, gets a local account, her notebooks
// open in ~/assignments on Welcome.ipynb and she runs a named server;
// the admin's rights come from admins; a login outside the roster, and
// one on it without active organisation membership, are refused.
func TestLabGitHubClass(t *testing.T) {
	h := newClassHub(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	const org = "cs101"
	gh := ghstandin.New(labOAuthClientID, labOAuthSecret, "https://"+h.hubFQN+"/"+edgeconfig.CallbackPath, map[string]map[string]string{
		"Alice-Smith": {org: "active"}, "TeacherT": {org: "active"}, "mallory": {org: "active"}, "carol": {org: "pending"},
	})
	ghURL, ghCA, err := h.lab.ServeTLS(labGitHubPort, gh)
	if err != nil {
		t.Fatal(err)
	}
	step := h.exampleDirStep(t, githubClassExample, h.labVars(config.Variables{
		"students":             stringsVariable([]string{"Alice-Smith", "carol"}),
		"admins":               stringsVariable([]string{"TeacherT"}),
		"github_client_id":     config.StringVariable(labOAuthClientID),
		"github_client_secret": config.StringVariable(labOAuthSecret),
		"github_org":           config.StringVariable(org),
		"github_url":           config.StringVariable(ghURL),
		"github_ca_pem":        config.StringVariable(string(ghCA)),
	}))
	var ip string
	start := time.Now()
	step.Check = resource.ComposeTestCheckFunc(
		func(s *terraform.State) error {
			ip = h.fromState(s)
			t.Logf("apply took %s", time.Since(start).Round(time.Second))
			return nil
		},
		func(*terraform.State) error { return h.checkGitHubClass(ctx, t, ip, ghURL, ghCA) },
	)
	// The client secret is write-only in the example: not in state.
	step.ConfigStateChecks = append(step.ConfigStateChecks, noSecretInState{labOAuthSecret})
	resource.Test(t, resource.TestCase{PreCheck: func() { preCheck(t) }, Steps: []resource.TestStep{step}})
}

func (h *classHub) checkGitHubClass(ctx context.Context, t *testing.T, ip, gh string, ghCA []byte) error {
	const alice = "alice-smith" // GitHub's Alice-Smith, lower-cased on both sides
	c := h.oauthStudent(t, ghCA)
	p, err := ghLogin(ctx, c, gh, "Alice-Smith")
	if err != nil {
		return err
	}
	if p.status != http.StatusOK || p.url.Host != h.hubFQN || p.url.Path != "/hub/home" || !slices.Contains(hubCookies(c), hubLoginCookie) {
		return fmt.Errorf("Alice-Smith's login through GitHub ended %s with cookies %v; the edge says:\n%s", p, hubCookies(c), h.refusals(t, ctx, ip))
	}
	if err := c.StartServer(ctx, alice); err != nil {
		return err
	}
	// The server opens on the welcome notebook...
	p, err = visit(ctx, c.Browser(), http.MethodGet, c.URL("user/"+alice+"/"), nil)
	if err != nil || p.status != http.StatusOK || !strings.HasSuffix(p.url.Path, "/lab/tree/Welcome.ipynb") {
		return fmt.Errorf("user/%s/ ended %v (%v), want JupyterLab on Welcome.ipynb", alice, p, err)
	}
	// ...in ~/assignments, under the local account made for her.
	k, err := c.OpenKernel(ctx, alice)
	if err != nil {
		return err
	}
	// A kernel started without a notebook runs in the server's working
	// directory (her home), so the check names the path.
	out, err := k.Execute(ctx, "import getpass, os\nprint(getpass.getuser(), os.path.isfile(os.path.expanduser('~/assignments/Welcome.ipynb')))")
	if err != nil || out != alice+" True" {
		return fmt.Errorf("alice's kernel printed %q (%v), want %q", out, err, alice+" True")
	}
	// JupyterLab's root is ~/assignments.
	code, body, err := c.Do(ctx, http.MethodGet, "user/"+alice+"/api/contents", nil)
	if err != nil || code != http.StatusOK || !strings.Contains(string(body), `"Welcome.ipynb"`) {
		return fmt.Errorf("%s's contents root is not ~/assignments: %d %.300s %v", alice, code, body, err)
	}
	if groups := h.ssh(t, ctx, ip, "id -nG "+alice); !slices.Contains(strings.Fields(groups), "jhub-students") {
		return fmt.Errorf("the account %s is in groups %q, want jhub-students", alice, groups)
	}
	// A named server besides the default one.
	if code, body, err := c.Do(ctx, http.MethodPost, "hub/api/users/"+alice+"/servers/hw1", nil); err != nil || (code != http.StatusCreated && code != http.StatusAccepted) {
		return fmt.Errorf("starting the named server hw1: %d %.200s %v", code, body, err)
	}
	for {
		code, body, err := c.Do(ctx, http.MethodGet, "hub/api/users/"+alice, nil)
		if err != nil {
			return err
		}
		var u struct {
			Servers map[string]struct {
				Ready bool `json:"ready"`
			} `json:"servers"`
		}
		if code == http.StatusOK && json.Unmarshal(body, &u) == nil && u.Servers["hw1"].Ready {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the named server hw1 is not ready: %d %.300s", code, body)
		case <-time.After(time.Second):
		}
	}

	// The admin, by GitHub login; admin rights from admins only.
	teacher := h.oauthStudent(t, ghCA)
	if p, err := ghLogin(ctx, teacher, gh, "TeacherT"); err != nil || p.status != http.StatusOK || p.url.Path != "/hub/home" {
		return fmt.Errorf("TeacherT's login: %v %v", p, err)
	}
	if err := onlyAdmin(ctx, teacher, "teachert"); err != nil {
		return err
	}
	if code, _, err := c.Do(ctx, http.MethodGet, "hub/api/users", nil); err != nil || code != http.StatusForbidden {
		return fmt.Errorf("%s on the admin API: %d %v, want 403", alice, code, err)
	}

	// Refused: mallory (in the organisation, not on the roster) and carol
	// (on the roster, her membership pending).
	for _, login := range []string{"mallory", "carol"} {
		b := h.oauthStudent(t, ghCA)
		p, err := ghLogin(ctx, b, gh, login)
		if err != nil {
			return err
		}
		if p.status != http.StatusForbidden || slices.Contains(hubCookies(b), hubLoginCookie) {
			return fmt.Errorf("%s: %s, cookies %v; want 403 and no login", login, p, hubCookies(b))
		}
	}
	return nil
}
