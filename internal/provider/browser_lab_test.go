//go:build lab && browser

// The browser tier (make test-browser): outside make test until it passes
// twice in a row in the lab (docs/design.md, "The real-browser test").

package provider

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/classhub/terraform-provider-jhub/internal/hubconfig"
	"github.com/classhub/terraform-provider-jhub/internal/lab"
	"github.com/classhub/terraform-provider-jhub/internal/ondroplet"
	"github.com/classhub/terraform-provider-jhub/internal/testkit"
)

// uploadBytes is the size of the file each student uploads in the browser.
const uploadBytes = 10 << 20

// The teacher's repository in the shared course directory, as an
// nbgitpuller link names it, and where the students' links put it.
const (
	courseRepo = "file://" + hubconfig.CourseDir + "/notes"
	pullTarget = "pulled-notes"
)

// Two students at once, each in a headless Chromium, against
// examples/class-hub as shipped: log in on the login page, wait out the
// spawn, get JupyterLab on Welcome.ipynb, run its cell, run a command in a
// terminal (cloning the teacher's repository from the shared course
// directory, which the student cannot write), and upload 10 MiB.
func TestLabBrowserStudents(t *testing.T) {
	needBrowser(t)
	h := newClassHub(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	students := []string{"alice", "bob"}
	step := h.exampleStep(t, students, []string{"teacher"})
	step.Check = func(s *terraform.State) error {
		ip := h.fromState(s)
		// The shared course directory is the admins': the teacher writes
		// it (and a repository for the class), students only read it.
		if out := h.ssh(t, ctx, ip, "stat -c '%a %U %G' "+hubconfig.CourseDir); strings.TrimSpace(out) != fmt.Sprintf("%o root %s", hubconfig.CourseDirMode, hubconfig.CourseGroup) {
			return fmt.Errorf("%s is %q", hubconfig.CourseDir, out)
		}
		teacher := h.client(t, "/")
		if err := teacher.Login(ctx, "teacher", labTeacherPassword); err != nil {
			return err
		}
		if err := teacher.StartServer(ctx, "teacher"); err != nil {
			return err
		}
		k, err := teacher.OpenKernel(ctx, "teacher")
		if err != nil {
			return err
		}
		defer k.Close()
		code := fmt.Sprintf("import subprocess\nd=%q+'/notes'\ngit=['git','-C',d,'-c','user.name=Teacher','-c','user.email=teacher@lab']\nsubprocess.run(['git','init','-q','-b','main',d], check=True)\nopen(d+'/README.md','w').write('# Week 1\\n')\nsubprocess.run(git+['add','README.md'], check=True)\nsubprocess.run(git+['commit','-qm','week 1'], check=True)\nprint('committed')", hubconfig.CourseDir)
		if out, err := k.Execute(ctx, code); err != nil || out != "committed" {
			return fmt.Errorf("the teacher writing a repository into %s: %q, %v", hubconfig.CourseDir, out, err)
		}

		var wg sync.WaitGroup
		errs := make([]error, len(students))
		for i, u := range students {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = h.browserStudent(ctx, t, ip, u)
			}()
		}
		wg.Wait()
		return errors.Join(errs...)
	}
	resource.Test(t, resource.TestCase{PreCheck: func() { preCheck(t) }, Steps: []resource.TestStep{step}})
}

// needBrowser skips (fails in CI) without Chromium and NSS's certutil.
func needBrowser(t *testing.T) {
	for _, bin := range []string{"chromium", "certutil"} {
		if _, err := exec.LookPath(bin); err != nil {
			testkit.Need(t, bin, "run scripts/setup.sh (apt-get install chromium libnss3-tools)")
		}
	}
}

// browserStudent plays one student in a Chromium of their own.
func (h *classHub) browserStudent(ctx context.Context, t *testing.T, ip, user string) error {
	bctx, console, err := h.browser(ctx, t, ip)
	if err != nil {
		return fmt.Errorf("%s's browser: %w", user, err)
	}
	b := &tab{ctx: bctx, t: t, user: user, console: console}
	fail, wait, do := b.fail, b.wait, b.do
	hub := "https://" + h.hubFQN + "/"
	lab := hub + "user/" + user + "/lab"
	userAPI := hub + "user/" + user + "/api/"

	// 1. The hub's login page.
	start := time.Now()
	if err := do("logging in on the login page", 2*time.Minute,
		chromedp.Navigate(hub),
		chromedp.WaitVisible(chromedp.ID(`#username_input`)),
		chromedp.SendKeys(chromedp.ID(`#username_input`), user),
		chromedp.SendKeys(chromedp.ID(`#password_input`), labClassPassword),
		chromedp.Click(chromedp.ID(`#login_submit`)),
	); err != nil {
		return err
	}
	// 2.-3. The spawn, then JupyterLab on Welcome.ipynb.
	if err := b.welcomeReady(hub); err != nil {
		return err
	}
	t.Logf("%s: login → JupyterLab with Welcome.ipynb and an idle kernel: %s", user, time.Since(start).Round(10*time.Millisecond))
	// The hub's JupyterLab defaults reach the student's server.
	mode, err := chromedp.Run(bctx, chromedp.Evaluate[string](fmt.Sprintf(`(async () => {
		const r = await fetch(%q, {cache: 'no-store', headers: {'X-XSRFToken': %s}});
		// The server folds the overrides into the schema's defaults.
		return r.ok ? String((await r.json()).schema.properties.windowingMode.default) : 'HTTP ' + r.status;
	})()`, lab+"/api/settings/@jupyterlab/notebook-extension:tracker", xsrfJS), chromedp.EvalAwaitPromise))
	if err != nil || mode != hubconfig.NotebookWindowingMode {
		return fail("reading the notebook settings", fmt.Errorf("windowingMode is %q (%v), want %q from %s", mode, err, hubconfig.NotebookWindowingMode, ondroplet.LabOverrides))
	}

	// 4. Run the notebook's code cell and read its output. A cell that
	// never runs is reported at the end: the terminal and the upload are
	// checked all the same.
	cellErr := b.runWelcomeCell()

	// 5. A terminal from the launcher. Its text reaches the DOM in
	// screen-reader mode, whichever renderer xterm picks.
	saved, err := chromedp.Run(bctx, chromedp.Evaluate[bool](fmt.Sprintf(`(async () => {
		const r = await fetch(%q, {method: 'PUT', headers: {'Content-Type': 'application/json', 'X-XSRFToken': %s},
			body: JSON.stringify({raw: '{"screenReaderMode": true}'})});
		return r.ok;
	})()`, lab+"/api/settings/@jupyterlab/terminal-extension:plugin", xsrfJS), chromedp.EvalAwaitPromise))
	if err != nil || !saved {
		return fail("turning on the terminal's screen-reader mode", fmt.Errorf("saved %v: %v", saved, err))
	}
	// The notebook has unsaved changes (the run added a cell): the page's
	// "leave site?" dialog is accepted by the browser's listener.
	if err := do("reloading JupyterLab", 2*time.Minute, chromedp.Navigate(lab+"/tree/Welcome.ipynb")); err != nil {
		return err
	}
	// A click before the reloaded app is ready does nothing: press the
	// launcher button, then click its terminal card, again every few
	// seconds until a terminal is there. JupyterLab 4.0's toolbar buttons
	// and tabs act on mousedown, not on click(). The app restores
	// Welcome.ipynb's tab on its own time and may bring it to the front
	// over the new terminal: the terminal's tab is pressed again until the
	// terminal is in front with its shell's prompt.
	press := `const press = e => ['pointerdown', 'mousedown', 'pointerup', 'mouseup'].forEach(t => e.dispatchEvent(new MouseEvent(t, {bubbles: true, cancelable: true, button: 0})));`
	inFront := `(() => {` + press + `
		const term = document.querySelector('.jp-Terminal');
		if (!term || !term.querySelector('.xterm-helper-textarea')) return false;
		if (term.offsetWidth > 0 && term.offsetHeight > 0) return term.textContent.includes('$');
		const tab = [...document.querySelectorAll('.lm-DockPanel .lm-TabBar-tab')].find(e => e.textContent.includes('Terminal'));
		if (tab) press(tab);
		return false;
	})()`
	if err := wait("a terminal from the launcher", `(() => {`+press+`
		if (document.querySelector('.jp-Terminal .xterm-helper-textarea')) return true;
		const now = Date.now();
		if (now - (window.jhubLastClick || 0) < 5000) return false;
		const card = [...document.querySelectorAll('.jp-LauncherCard')].find(e => e.textContent.trim() === 'Terminal');
		const button = document.querySelector('.jp-FileBrowser-toolbar [data-command="launcher:create"]');
		if (card) card.click();
		else if (button) press(button);
		else return false;
		window.jhubLastClick = now;
		return false;
	})()`, 3*time.Minute); err != nil {
		return err
	}
	if err := wait("the terminal in front, with its prompt", inFront, time.Minute); err != nil {
		return err
	}
	if err := do("typing into the terminal", 2*time.Minute,
		chromedp.Focus(chromedp.CSS(`.jp-Terminal .xterm-helper-textarea`)),
		chromedp.SendKeys(chromedp.CSS(`.jp-Terminal .xterm-helper-textarea`), `echo term-$(id -un)-$((6*7)); git clone -q `+hubconfig.CourseDir+`/notes && cat notes/README.md; touch `+hubconfig.CourseDir+`/$(id -un) || echo read-only-$((2*3))`+"\r"),
	); err != nil {
		return err
	}
	if err := wait("the terminal's output", fmt.Sprintf(`(() => { const t = document.querySelector('.jp-Terminal'); return !!t && t.textContent.includes(%q) && t.textContent.includes('read-only-6') && t.textContent.includes('# Week 1'); })()`, "term-"+user+"-42"), time.Minute); err != nil {
		return err
	}

	// 6. Upload 10 MiB with the file browser's upload button.
	upload := filepath.Join(t.TempDir(), "upload-"+user+".bin")
	if err := os.WriteFile(upload, []byte(strings.Repeat(user[:1], uploadBytes)), 0o600); err != nil {
		return err
	}
	if _, err := chromedp.Call(bctx, page.SetInterceptFileChooserDialog, page.SetInterceptFileChooserDialogParams{Enabled: true}); err != nil {
		return fail("intercepting the file chooser", err)
	}
	chooser, err := chromedp.Run(bctx, chromedp.WaitEvent(page.FileChooserOpened, nil,
		chromedp.Click(chromedp.CSS(`.jp-FileBrowser-toolbar .jp-id-upload button`))))
	if err != nil {
		return fail("opening the upload dialog", err)
	}
	start = time.Now()
	if _, err := chromedp.Call(bctx, dom.SetFileInputFiles, dom.SetFileInputFilesParams{Files: []string{upload}, BackendNodeID: chooser.BackendNodeID}); err != nil {
		return fail("choosing the file to upload", err)
	}
	// One SSH session polls on the droplet: a new connection every second
	// would trip ufw's rate limit on SSH.
	landed := fmt.Sprintf("%d %s", uploadBytes, user)
	poll := fmt.Sprintf(`f="$(getent passwd %[1]s | cut -d: -f6)/assignments/%[2]s"; for i in $(seq 180); do s="$(sudo stat -c '%%s %%U' "$f" 2>/dev/null)"; [ "$s" = %[3]q ] && break; sleep 1; done; echo "$s"`,
		user, filepath.Base(upload), landed)
	if out := strings.TrimSpace(h.ssh(t, ctx, ip, poll)); out != landed {
		return fail("the upload", fmt.Errorf("~%s/assignments/%s is %q after %s, want %d bytes owned by %s", user, filepath.Base(upload), out, time.Since(start).Round(time.Second), uploadBytes, user))
	}
	t.Logf("%s: 10 MiB upload landed: %s", user, time.Since(start).Round(10*time.Millisecond))

	// 7. An nbgitpuller link to the teacher's repository in the shared
	// course directory, as a teacher hands it out: the student's server
	// pulls it below their root and JupyterLab opens the pulled file.
	pullLink := func(urlpath string) string {
		return hub + "hub/user-redirect/git-pull?" + url.Values{"repo": {courseRepo}, "branch": {"main"}, "targetpath": {pullTarget}, "urlpath": {urlpath}}.Encode()
	}
	editorShows := func(what, text string) error {
		return wait(what, fmt.Sprintf(`[...document.querySelectorAll('.jp-FileEditor .cm-content')].some(c => c.textContent.includes(%q))`, text), 3*time.Minute)
	}
	start = time.Now()
	if err := do("opening the git-pull link", 3*time.Minute, chromedp.Navigate(pullLink("lab/tree/"+pullTarget+"/README.md"))); err != nil {
		return err
	}
	if err := editorShows("the pulled README.md in JupyterLab", "# Week 1"); err != nil {
		return err
	}
	t.Logf("%s: git-pull link → JupyterLab on the pulled README.md: %s", user, time.Since(start).Round(10*time.Millisecond))
	// The student edits the pulled file (as JupyterLab saves it); a link
	// out of their root is refused, to them too.
	mine := "my notes (" + user + ")"
	got, err := chromedp.Run(bctx, chromedp.Evaluate[string](fmt.Sprintf(`(async () => {
		const h = {'Content-Type': 'application/json', 'X-XSRFToken': %[1]s};
		const f = %[2]q + 'contents/' + %[3]q + '/README.md';
		const old = await (await fetch(f + '?content=1&type=file&format=text', {cache: 'no-store', headers: h})).json();
		const put = await fetch(f, {method: 'PUT', headers: h, body: JSON.stringify({type: 'file', format: 'text', content: %[4]q + '\n' + old.content})});
		const out = await fetch(%[5]q, {redirect: 'manual', cache: 'no-store', headers: h}); // JupyterHub 5 takes a cookie without XSRF token on a non-navigation GET for no login
		return put.status + ' ' + out.status + ' ' + (await out.text()).includes('must not contain');
	})()`, xsrfJS, userAPI, pullTarget, mine, hub+"user/"+user+"/git-pull?"+url.Values{"repo": {courseRepo}, "targetpath": {"../.."}}.Encode()), chromedp.EvalAwaitPromise))
	if err != nil || got != "200 400 true" {
		return fail("editing README.md and a targetpath of ../..", fmt.Errorf("PUT, git-pull with targetpath=../.., refusal shown: %q (%v), want \"200 400 true\"", got, err))
	}

	// Debian's nbgitpuller handlers authenticate nobody under
	// jupyter-server 2: they must not be served, and the release's
	// git-pull sends a request without any login to the hub's login page.
	// Neither makes this student's server clone anything anywhere.
	anon := h.client(t, "/")
	for _, p := range []string{"git-pull/api", "git-pull"} {
		code, body, err := anon.Do(ctx, http.MethodGet, "user/"+user+"/"+p+"?"+url.Values{"repo": {courseRepo}, "targetpath": {"pulled-by-anyone"}}.Encode(), nil)
		if err != nil {
			return fmt.Errorf("%s: the unauthenticated request for %s: %w", user, p, err)
		}
		if code != http.StatusNotFound && !strings.Contains(string(body), `id="username_input"`) {
			return fmt.Errorf("%s: an unauthenticated request for %s answered %d without the login page:\n%.400s", user, p, code, body)
		}
	}
	// One SSH session: the pulled files are the student's, nothing came
	// from the anonymous requests, and the teacher commits a change to
	// README.md and a new file (serialized: both students' flows commit).
	commit := fmt.Sprintf(`'cd %[2]s && printf "\nteacher: week 2 is out\n" >> README.md && printf "# Week 2 for %[1]s\n" > week2-%[1]s.md && git add README.md week2-%[1]s.md && git -c user.name=Teacher -c user.email=teacher@lab commit -qm "week 2 for %[1]s" && echo committed'`, user, strings.TrimPrefix(courseRepo, "file://"))
	out := h.ssh(t, ctx, ip, fmt.Sprintf(`h="$(getent passwd %[1]s | cut -d: -f6)"; sudo find "$h" -maxdepth 3 -name pulled-by-anyone -printf 'CLONED %%p\n'; sudo find "$h" -maxdepth 3 -path '*/%[2]s/README.md' -printf 'pulled %%u\n'; sudo flock /run/lock/jhub-browser-notes sudo -u teacher -H sh -c %[3]s`,
		user, pullTarget, commit))
	if want := "pulled " + user + "\ncommitted"; strings.TrimSpace(out) != want {
		return fmt.Errorf("%s: after the pull and the anonymous requests the droplet says %q, want %q", user, out, want)
	}
	// 8. The same link again, landing on the teacher's new file: the
	// student gets it and keeps their edit (nbgitpuller's merge).
	start = time.Now()
	if err := do("opening the git-pull link again", 3*time.Minute, chromedp.Navigate(pullLink("lab/tree/"+pullTarget+"/week2-"+user+".md"))); err != nil {
		return err
	}
	if err := editorShows("the teacher's new file in JupyterLab", "# Week 2 for "+user); err != nil {
		return err
	}
	readme, err := chromedp.Run(bctx, chromedp.Evaluate[string](fmt.Sprintf(`(async () => {
		const r = await fetch(%q + 'contents/' + %q + '/README.md?content=1&type=file&format=text', {cache: 'no-store', headers: {'X-XSRFToken': %s}});
		return r.ok ? (await r.json()).content : 'HTTP ' + r.status;
	})()`, userAPI, pullTarget, xsrfJS), chromedp.EvalAwaitPromise))
	if err != nil || !strings.Contains(readme, mine) || strings.Contains(readme, "<<<<<<<") {
		return fail("reading README.md after the second pull", fmt.Errorf("it is %q (%v), want the student's line %q kept without conflict markers", readme, err, mine))
	}
	t.Logf("%s: git-pull link again → the teacher's new file, their edit kept: %s", user, time.Since(start).Round(10*time.Millisecond))

	if cellErr != nil {
		return cellErr
	}
	if ex := console.exceptions(); len(ex) > 0 {
		return fmt.Errorf("%s: the page threw %d uncaught exception(s):\n%s", user, len(ex), strings.Join(ex, "\n"))
	}
	return nil
}

// tab is a student's page in a Chromium of their own (h.browser), with
// the steps every browser test takes on it.
type tab struct {
	ctx     context.Context // the browser's
	t       *testing.T
	user    string
	console *consoleLog
}

// fail reports what failed with the page's text and the browser's errors,
// and keeps a screenshot.
func (b *tab) fail(what string, err error) error {
	if shot, serr := chromedp.Run(b.ctx, chromedp.CaptureScreenshot()); serr == nil {
		// Kept beside the lab's caches: a test's own directories go with it.
		dir := filepath.Join(lab.CacheDir(), "browser-test", time.Now().UTC().Format("20060102T150405"))
		p := filepath.Join(dir, b.user+".png")
		if os.MkdirAll(dir, 0o700) == nil && os.WriteFile(p, shot, 0o600) == nil {
			b.t.Logf("%s: screenshot of the failure in %s", b.user, p)
		}
	}
	text, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 400) : ""`))
	return fmt.Errorf("%s in the browser, %s: %w; the page shows:\n%s\nthe browser's errors:\n%s", b.user, what, err, text, strings.Join(b.console.last(30), "\n"))
}

// wait evaluates a JavaScript expression until it is true. Errors while
// the page navigates (login, spawn, redirects) are retried.
func (b *tab) wait(what, expr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		// A page held by a dialog or a busy renderer must not hold the test.
		ectx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
		ok, err := chromedp.Run(ectx, chromedp.Evaluate[bool](expr, chromedp.EvalAwaitPromise))
		cancel()
		if err == nil && ok {
			return nil
		}
		last = err
		select {
		case <-b.ctx.Done():
			return b.fail("waiting for "+what, b.ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
	return b.fail("waiting for "+what, fmt.Errorf("not after %s (last error: %v)", timeout, last))
}

// do runs actions with a deadline of their own: chromedp's waits
// otherwise wait as long as the whole test.
func (b *tab) do(what string, timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) error {
	actx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(actx, actions...); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("not done after %s: %w", timeout, err)
		}
		return b.fail(what, err)
	}
	return nil
}

// welcomeReady waits out the spawn until JupyterLab shows Welcome.ipynb
// (default_url) with its kernel connected and idle. The toolbar's
// indicator says "idle" before the notebook has a kernel at all, and a
// cell run then is lost: JupyterLab 4.0 starts a second kernel for it and
// drops the request (jupyterlab/jupyterlab#8490). The server's session for
// the notebook, with a kernel the page is connected to, is what a student
// sees as "Python 3 (ipykernel) | Idle" after the start.
func (b *tab) welcomeReady(hub string) error {
	if err := b.wait("JupyterLab on Welcome.ipynb", `(() => {
		const c = document.querySelector('.jp-NotebookPanel .jp-CodeCell .cm-content');
		return !!c && c.textContent.includes('getpass') && location.pathname.endsWith('/lab/tree/Welcome.ipynb');
	})()`, 4*time.Minute); err != nil {
		return err
	}
	return b.wait("the notebook's kernel", fmt.Sprintf(`(async () => {
		const r = await fetch(%q, {cache: 'no-store', headers: {'X-XSRFToken': %s}});
		if (!r.ok) return false;
		const s = (await r.json()).find(s => s.path.endsWith('Welcome.ipynb'));
		const k = document.querySelector('.jp-NotebookPanel .jp-Notebook-ExecutionIndicator');
		return !!s && !!s.kernel && s.kernel.execution_state === 'idle' && s.kernel.connections > 0 && !!k && k.getAttribute('data-status') === 'idle';
	})()`, hub+"user/"+b.user+"/api/sessions", xsrfJS), 3*time.Minute)
}

// runWelcomeCell runs Welcome.ipynb's code cell from the toolbar and
// reads its greeting from the page.
func (b *tab) runWelcomeCell() error {
	start := time.Now()
	if err := b.do("running the cell", time.Minute,
		chromedp.Click(chromedp.CSS(`.jp-NotebookPanel .jp-CodeCell .cm-content`)),
		chromedp.Click(chromedp.CSS(`.jp-NotebookPanel-toolbar [data-command="notebook:run-cell-and-select-next"]`)),
	); err != nil {
		return err
	}
	want := "Hello, " + b.user + " - Python 3."
	if err := b.wait("the cell's output", fmt.Sprintf(`[...document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell .jp-OutputArea-output')].some(o => o.textContent.includes(%q))`, want), 2*time.Minute); err != nil {
		return err
	}
	b.t.Logf("%s: cell → output %q: %s", b.user, want, time.Since(start).Round(10*time.Millisecond))
	return nil
}

// xsrfJS is a JavaScript expression for the page's XSRF token: the
// single-user server refuses cookie-authenticated API requests without it.
const xsrfJS = `decodeURIComponent((document.cookie.match(/(?:^|; )_xsrf=([^;]*)/) || [])[1] || '')`

// consoleLog keeps what the page reports as errors and warnings (console,
// uncaught exceptions, the browser's own log: failed websockets, TLS).
type consoleLog struct {
	mu       sync.Mutex
	lines    []string
	uncaught []string // exceptions, with their stack
}

func (c *consoleLog) add(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines = append(c.lines, fmt.Sprintf(format, args...))
}

func (c *consoleLog) exceptions() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.uncaught)
}

func (c *consoleLog) last(n int) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.lines[max(0, len(c.lines)-n):])
}

func (c *consoleLog) listen(ev any) {
	switch e := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning {
			var parts []string
			for _, a := range e.Args {
				if a.Description != "" {
					parts = append(parts, a.Description)
				} else {
					parts = append(parts, string(a.Value))
				}
			}
			c.add("console.%s: %s", e.Type, strings.Join(parts, " "))
		}
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description // the message and the stack as JavaScript prints it
		} else if d.StackTrace != nil {
			for _, f := range d.StackTrace.CallFrames {
				msg += fmt.Sprintf("\n    at %s (%s:%d:%d)", f.FunctionName, f.URL, f.LineNumber+1, f.ColumnNumber+1)
			}
		}
		c.add("exception: %s", msg)
		c.mu.Lock()
		c.uncaught = append(c.uncaught, msg)
		c.mu.Unlock()
	case *page.EventJavascriptDialogOpening:
		c.add("dialog %s: %q", e.Type, e.Message)
	case *log.EventEntryAdded:
		if e.Entry.Level == log.EntryLevelError || e.Entry.Level == log.EntryLevelWarning {
			c.add("%s %s: %s %s", e.Entry.Source, e.Entry.Level, e.Entry.Text, e.Entry.URL)
		}
	}
}

// browser starts a headless Chromium that resolves only the hub's name to
// the droplet and trusts the lab's CA, and extraCAs (a login provider's),
// through an NSS database in its own temporary HOME (no certificate errors
// are ignored); it stops with t.
func (h *classHub) browser(ctx context.Context, t *testing.T, ip string, extraCAs ...[]byte) (context.Context, *consoleLog, error) {
	home := t.TempDir()
	nssdb := filepath.Join(home, ".pki", "nssdb")
	if err := os.MkdirAll(nssdb, 0o700); err != nil {
		return nil, nil, err
	}
	if out, err := exec.CommandContext(ctx, "certutil", "-N", "-d", "sql:"+nssdb, "--empty-password").CombinedOutput(); err != nil {
		return nil, nil, fmt.Errorf("certutil -N: %v: %s", err, out)
	}
	rest := bytes.Join(append([][]byte{[]byte(h.caPEM)}, extraCAs...), []byte("\n"))
	for i := 0; ; i++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		cert := filepath.Join(home, fmt.Sprintf("lab-ca-%d.pem", i))
		if err := os.WriteFile(cert, pem.EncodeToMemory(block), 0o600); err != nil {
			return nil, nil, err
		}
		if out, err := exec.CommandContext(ctx, "certutil", "-A", "-d", "sql:"+nssdb, "-n", fmt.Sprintf("jhub-lab-ca-%d", i), "-t", "C,,", "-i", cert).CombinedOutput(); err != nil {
			return nil, nil, fmt.Errorf("certutil -A: %v: %s", err, out)
		}
	}
	path, _ := exec.LookPath("chromium")
	// Headless, no first-run UI, --disable-background-networking among them.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Env("HOME="+home),
		chromedp.UserDataDir(filepath.Join(home, "profile")),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("host-resolver-rules", "MAP "+h.hubFQN+" "+ip),
		chromedp.WindowSize(1400, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	console := &consoleLog{}
	var bctx context.Context
	listen := func(ev any) {
		console.listen(ev)
		// "Leave site?" (a notebook with unsaved changes) and any other
		// dialog would hold the page; a listener must not block on a call.
		if _, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			go func() {
				if _, err := chromedp.Call(bctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true}); err != nil {
					console.add("accepting the dialog: %v", err)
				}
			}()
		}
	}
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithListener(listen))
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	if err := chromedp.Do(bctx); err != nil {
		return nil, nil, err
	}
	_, err := chromedp.Call(bctx, log.Enable, cdp.Empty{})
	return bctx, console, err
}
