// Package hubclient is a student's browser reduced to what proving a hub
// needs: it logs in through the edge with the certificate verified, starts
// a server, and runs code in a kernel over its websocket. The end-to-end
// tests, make demo and the load client use it.
package hubclient

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Client is a student's browser, reduced to what the end-to-end tests need:
// it logs in, starts a server, and runs code in a kernel over its websocket,
// all through the edge, with the certificate verified.
type Client struct {
	base   *url.URL // https://hub.example.edu/jhub/
	http   *http.Client
	origin string

	mu          sync.Mutex
	cookies     []string // every Set-Cookie the client saw
	dialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	tls         *tls.Config
}

// New dials every name through resolve (the lab's DNS) and trusts roots.
func New(hubURL string, roots *x509.CertPool, resolver *net.Resolver) (*Client, error) {
	base, err := url.Parse(hubURL)
	if err != nil {
		return nil, err
	}
	jar, _ := cookiejar.New(nil)
	dialer := &net.Dialer{Timeout: 10 * time.Second, Resolver: resolver}
	h := &Client{base: base, origin: base.Scheme + "://" + base.Host, dialContext: dialer.DialContext,
		tls: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}
	tr := &http.Transport{DialContext: dialer.DialContext, TLSClientConfig: h.tls, ForceAttemptHTTP2: true}
	h.http = &http.Client{Jar: jar, Timeout: 60 * time.Second, Transport: recordCookies{tr, h}}
	return h, nil
}

type recordCookies struct {
	rt http.RoundTripper
	h  *Client
}

func (r recordCookies) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.rt.RoundTrip(req)
	if err == nil {
		r.h.mu.Lock()
		r.h.cookies = append(r.h.cookies, resp.Header.Values("Set-Cookie")...)
		r.h.mu.Unlock()
	}
	return resp, err
}

// InsecureCookies lists every Set-Cookie seen without the Secure flag.
func (h *Client) InsecureCookies() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var bad []string
	for _, c := range h.cookies {
		secure := false
		for _, attr := range strings.Split(c, ";") {
			secure = secure || strings.EqualFold(strings.TrimSpace(attr), "secure")
		}
		if !secure {
			bad = append(bad, c)
		}
	}
	return bad
}

// Browser is the student's browser itself (cookies, trust, the lab's
// names), for pages outside the hub such as a login provider's; the hub's
// own calls above share its cookies.
func (h *Client) Browser() *http.Client { return h.http }

// URL is the hub page p, relative to the hub's base URL.
func (h *Client) URL(p string) string { return h.base.String() + strings.TrimPrefix(p, "/") }

func (h *Client) xsrf(u string) string {
	parsed, _ := url.Parse(u)
	for _, c := range h.http.Jar.Cookies(parsed) {
		if c.Name == "_xsrf" {
			return c.Value
		}
	}
	return ""
}

// Do sends a request as the browser would from the hub's own pages: with the
// Origin and Referer of the hub and the XSRF token JupyterHub expects. It
// returns the status and the first MiB of the body.
func (h *Client) Do(ctx context.Context, method, p string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = strings.NewReader(string(b))
	}
	u := h.URL(p)
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Origin", h.origin)
	req.Header.Set("Referer", h.URL("hub/home"))
	if x := h.xsrf(u); x != "" {
		req.Header.Set("X-XSRFToken", x)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := h.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	return resp.StatusCode, b, err
}

// Login submits JupyterHub's login form.
func (h *Client) Login(ctx context.Context, user, password string) error {
	if _, _, err := h.Do(ctx, http.MethodGet, "hub/login", nil); err != nil {
		return err
	}
	form := url.Values{"username": {user}, "password": {password}}
	if x := h.xsrf(h.URL("hub/login")); x != "" {
		form.Set("_xsrf", x)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, h.URL("hub/login"), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", h.origin)
	req.Header.Set("Referer", h.URL("hub/login"))
	resp, err := h.http.Do(req)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	_ = resp.Body.Close() // the answer is in status and body
	if resp.StatusCode == http.StatusForbidden || strings.Contains(string(body), "Invalid username or password") {
		// JupyterHub re-renders its login page (200) with this message.
		return fmt.Errorf("login as %s: %s: %w", user, resp.Status, ErrLoginRefused)
	}
	if resp.StatusCode >= 400 {
		return fmt.Errorf("login as %s: %s: %.300s", user, resp.Status, body)
	}
	return nil
}

// ErrLoginRefused is the hub's answer to a wrong user name or password.
var ErrLoginRefused = errors.New("the hub refused the user name or password")

// StartServer starts the user's server and waits until it answers.
func (h *Client) StartServer(ctx context.Context, user string) error {
	code, body, err := h.Do(ctx, http.MethodPost, "hub/api/users/"+user+"/server", nil)
	if err != nil {
		return err
	}
	if code != http.StatusCreated && code != http.StatusAccepted && code != http.StatusBadRequest {
		return fmt.Errorf("start server: %d %s: %.300s", code, http.StatusText(code), body)
	}
	for {
		code, body, err := h.Do(ctx, http.MethodGet, "hub/api/users/"+user, nil)
		if err != nil {
			return err
		}
		var u struct {
			Servers map[string]struct {
				Ready   bool    `json:"ready"`
				Pending *string `json:"pending"`
			} `json:"servers"`
		}
		if code == http.StatusOK && json.Unmarshal(body, &u) == nil {
			if srv, ok := u.Servers[""]; !ok || (!srv.Ready && srv.Pending == nil) {
				return fmt.Errorf("the server of %s failed to start (the hub's log says why)", user)
			}
		}
		if code == http.StatusOK && u.Servers[""].Ready {
			// The first page visit does the hub's OAuth dance and sets the
			// server's cookies, its _xsrf token among them.
			code, body, err := h.Do(ctx, http.MethodGet, "user/"+user+"/lab", nil)
			if err == nil && code != http.StatusOK {
				err = fmt.Errorf("opening the server of %s: %d %s: %.300s", user, code, http.StatusText(code), body)
			}
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("server of %s not ready: %d %s: %.300s", user, code, http.StatusText(code), body)
		case <-time.After(time.Second):
		}
	}
}

// StopServer stops the user's server and waits until the hub has let it go.
func (h *Client) StopServer(ctx context.Context, user string) error {
	code, body, err := h.Do(ctx, http.MethodDelete, "hub/api/users/"+user+"/server", nil)
	if err != nil {
		return err
	}
	if code != http.StatusNoContent && code != http.StatusAccepted {
		return fmt.Errorf("stop server: %d %s: %.300s", code, http.StatusText(code), body)
	}
	for {
		code, body, err := h.Do(ctx, http.MethodGet, "hub/api/users/"+user, nil)
		if err != nil {
			return err
		}
		var u struct {
			Servers map[string]json.RawMessage `json:"servers"`
		}
		if code == http.StatusOK && json.Unmarshal(body, &u) == nil && u.Servers[""] == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("server of %s not stopped: %d: %.300s", user, code, body)
		case <-time.After(time.Second):
		}
	}
}

// Kernel is an open kernel websocket.
type Kernel struct {
	conn    *websocket.Conn
	session string

	// A browser reads its kernel websocket all the time, which also
	// answers the server's pings (jupyter-server closes a socket whose
	// pings go unanswered). read does the same; Execute takes what it
	// queued.
	mu      sync.Mutex
	queue   [][]byte
	readErr error
	ready   chan struct{} // signalled when queue or readErr changes
}

func (k *Kernel) read() {
	for {
		_, data, err := k.conn.Read(context.Background())
		k.mu.Lock()
		if err != nil {
			k.readErr = err
		} else {
			k.queue = append(k.queue, data)
		}
		k.mu.Unlock()
		select {
		case k.ready <- struct{}{}:
		default:
		}
		if err != nil {
			return
		}
	}
}

// next is the next message from the kernel.
func (k *Kernel) next(ctx context.Context) ([]byte, error) {
	for {
		k.mu.Lock()
		if len(k.queue) > 0 {
			m := k.queue[0]
			k.queue = k.queue[1:]
			k.mu.Unlock()
			return m, nil
		}
		err := k.readErr
		k.mu.Unlock()
		if err != nil {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-k.ready:
		}
	}
}

// OpenKernel starts a Python kernel on user's server and opens its websocket.
func (h *Client) OpenKernel(ctx context.Context, user string) (*Kernel, error) {
	code, body, err := h.Do(ctx, http.MethodPost, "user/"+user+"/api/kernels", map[string]string{"name": "python3"})
	if err != nil {
		return nil, err
	}
	var k struct {
		ID string `json:"id"`
	}
	if code != http.StatusCreated || json.Unmarshal(body, &k) != nil {
		return nil, fmt.Errorf("create kernel: %d %s: %.300s", code, http.StatusText(code), body)
	}
	ws := *h.base
	ws.Scheme = "wss"
	ws.Path += "user/" + user + "/api/kernels/" + k.ID + "/channels"
	hdr := http.Header{"Origin": {h.origin}}
	conn, resp, err := websocket.Dial(ctx, ws.String(), &websocket.DialOptions{
		HTTPClient: &http.Client{Jar: h.http.Jar, Transport: &http.Transport{DialContext: h.dialContext, TLSClientConfig: h.tls}},
		HTTPHeader: hdr,
	})
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close() // the handshake's answer; the socket is conn
	}
	if err != nil {
		return nil, fmt.Errorf("kernel websocket: %w", err)
	}
	conn.SetReadLimit(16 << 20)
	kern := &Kernel{conn: conn, session: randomID(), ready: make(chan struct{}, 1)}
	go kern.read()
	return kern, nil
}

func randomID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Execute runs code and returns its text/plain result, or else what it
// printed on stdout, once the kernel is idle again; code that prints
// nothing returns "".
func (k *Kernel) Execute(ctx context.Context, code string) (string, error) {
	id := randomID()
	msg := map[string]any{
		"header":        map[string]any{"msg_id": id, "msg_type": "execute_request", "session": k.session, "username": "", "version": "5.3", "date": time.Now().UTC().Format(time.RFC3339)},
		"parent_header": map[string]any{},
		"metadata":      map[string]any{},
		"channel":       "shell",
		"content":       map[string]any{"code": code, "silent": false, "store_history": true, "user_expressions": map[string]any{}, "allow_stdin": false, "stop_on_error": true},
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return "", err
	}
	if err := k.conn.Write(ctx, websocket.MessageText, b); err != nil {
		return "", err
	}
	var stream strings.Builder
	var result string
	var failed error
	for {
		data, err := k.next(ctx)
		if err != nil {
			return "", err
		}
		var m struct {
			MsgType string `json:"msg_type"`
			Parent  struct {
				MsgID string `json:"msg_id"`
			} `json:"parent_header"`
			Content struct {
				Data  map[string]any `json:"data"`
				Text  string         `json:"text"`
				EName string         `json:"ename"`
				EVal  string         `json:"evalue"`
				State string         `json:"execution_state"`
				Name  string         `json:"name"`
			} `json:"content"`
		}
		if json.Unmarshal(data, &m) != nil || m.Parent.MsgID != id {
			continue
		}
		switch m.MsgType {
		case "execute_result":
			result = fmt.Sprint(m.Content.Data["text/plain"])
		case "stream":
			if m.Content.Name == "stdout" { // warnings on stderr are not the answer
				stream.WriteString(m.Content.Text)
			}
		case "error":
			failed = fmt.Errorf("kernel error %s: %s", m.Content.EName, m.Content.EVal)
		case "status":
			// Idle comes after every output of the request.
			if m.Content.State != "idle" {
				continue
			}
			if failed != nil {
				return "", failed
			}
			if result != "" {
				return result, nil
			}
			return strings.TrimSpace(stream.String()), nil
		}
	}
}

// Close ends the kernel's websocket.
func (k *Kernel) Close() error { return k.conn.Close(websocket.StatusNormalClosure, "") }
