//go:build lab && browser

package provider

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
)

// examples/campus-sso as shipped, its campus provider a real OpenID
// provider in the lab (zitadel's example OP, over HTTPS from its own CA):
// a student opens the hub in Chromium, signs in on the provider's own
// form, comes back, waits out the spawn and runs Welcome.ipynb's cell in
// JupyterLab; someone with an account at the provider but not on the
// roster signs in there too and gets the hub's refusal, no session.
func TestLabBrowserCampusSSO(t *testing.T) {
	needBrowser(t)
	h := newClassHub(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	issuer, opCA := h.startLabOP(t, "alice", "teacher", "mallory")
	step := h.exampleDirStep(t, campusSSOExample, h.labVars(config.Variables{
		"students":           stringsVariable([]string{"alice"}),
		"admins":             stringsVariable([]string{"teacher"}),
		"oidc_issuer_url":    config.StringVariable(issuer),
		"oidc_client_id":     config.StringVariable(labOAuthClientID),
		"oidc_client_secret": config.StringVariable(labOAuthSecret),
		"oidc_ca_pem":        config.StringVariable(string(opCA)),
	}))
	start := time.Now()
	step.Check = func(s *terraform.State) error {
		ip := h.fromState(s)
		t.Logf("apply took %s", time.Since(start).Round(time.Second))
		if err := h.ssoStudent(ctx, t, ip, issuer, opCA, "alice"); err != nil {
			return err
		}
		return h.ssoOutsider(ctx, t, ip, issuer, opCA, "mallory")
	}
	// The example's client secret is write-only: not in state.
	step.ConfigStateChecks = append(step.ConfigStateChecks, noSecretInState{labOAuthSecret})
	resource.Test(t, resource.TestCase{PreCheck: func() { preCheck(t) }, Steps: []resource.TestStep{step}})
}

// signIn opens the hub in a Chromium of user's own that trusts the hub's
// and the provider's CAs; the hub sends it to the provider's sign-in form,
// and user signs in there. It returns when the form is sent.
func (h *classHub) signIn(ctx context.Context, t *testing.T, ip, issuer string, opCA []byte, user string) (*tab, error) {
	bctx, console, err := h.browser(ctx, t, ip, opCA)
	if err != nil {
		return nil, fmt.Errorf("%s's browser: %w", user, err)
	}
	b := &tab{ctx: bctx, t: t, user: user, console: console}
	start := time.Now()
	if err := b.do("opening the hub", 2*time.Minute, chromedp.Navigate("https://"+h.hubFQN+"/")); err != nil {
		return nil, err
	}
	if err := b.wait("the provider's sign-in form", fmt.Sprintf(`location.href.startsWith(%q) && !!document.querySelector('#password')`, issuer+labOPFormPath), time.Minute); err != nil {
		return nil, err
	}
	t.Logf("%s: hub → the provider's sign-in form: %s", user, time.Since(start).Round(10*time.Millisecond))
	return b, b.do("signing in at the provider", time.Minute,
		chromedp.SendKeys(chromedp.ID(`#username`), user),
		chromedp.SendKeys(chromedp.ID(`#password`), labOPPassword),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
	)
}

// ssoStudent is a student on the roster: sign in at the provider, back to
// the hub, the spawn, JupyterLab on Welcome.ipynb, and its cell's output.
func (h *classHub) ssoStudent(ctx context.Context, t *testing.T, ip, issuer string, opCA []byte, user string) error {
	b, err := h.signIn(ctx, t, ip, issuer, opCA, user)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := b.welcomeReady("https://" + h.hubFQN + "/"); err != nil {
		return err
	}
	t.Logf("%s: signed in at the provider → JupyterLab with Welcome.ipynb and an idle kernel: %s", user, time.Since(start).Round(10*time.Millisecond))
	if err := b.runWelcomeCell(); err != nil {
		return err
	}
	if ex := b.console.exceptions(); len(ex) > 0 {
		return fmt.Errorf("%s: the page threw %d uncaught exception(s):\n%s", user, len(ex), strings.Join(ex, "\n"))
	}
	return nil
}

// ssoOutsider has an account at the provider but is not on the roster:
// after signing in there she sees the hub's refusal, holds no hub session
// and gets no server.
func (h *classHub) ssoOutsider(ctx context.Context, t *testing.T, ip, issuer string, opCA []byte, user string) error {
	b, err := h.signIn(ctx, t, ip, issuer, opCA, user)
	if err != nil {
		return err
	}
	if err := b.wait("the hub's refusal", fmt.Sprintf(`location.host === %q && document.body.innerText.includes('403') && document.body.innerText.includes('Login refused')`, h.hubFQN), time.Minute); err != nil {
		return err
	}
	cookies, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{"https://" + h.hubFQN + "/hub/"}})
	if err != nil {
		return b.fail("reading the hub's cookies", err)
	}
	var names []string
	for _, c := range cookies.Cookies {
		names = append(names, c.Name)
	}
	if slices.Contains(names, hubLoginCookie) {
		return b.fail("after the refusal", fmt.Errorf("the browser holds the hub's login cookie (cookies %v)", names))
	}
	// The hub made no account and started no server for her.
	if out := strings.TrimSpace(h.ssh(t, ctx, ip, "id -u "+user+" 2>/dev/null || echo no-account; systemctl list-units --all --no-legend 'jupyter-"+user+"*'")); out != "no-account" {
		return fmt.Errorf("%s, refused, has an account or a server on the droplet: %q", user, out)
	}
	text, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body.innerText.trim().split('\n').filter(l => l.trim()).slice(0, 3).join(' | ')`))
	if err != nil {
		return b.fail("reading the refusal", err)
	}
	t.Logf("%s (not on the roster): refused by the hub after signing in at the provider: %q; hub cookies %v", user, text, names)
	return nil
}
