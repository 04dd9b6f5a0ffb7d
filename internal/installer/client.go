// Package installer is everything the provider does on a droplet over SSH:
// connect with the pinned host key, wait for cloud-init, install a release
// (stage, validate, switch atomically, reload, prove health, roll back on any
// failure), read the installed state back for drift detection, uninstall,
// and carry the edge's TLS storage in and out.
//
// Secrets (File.Secret) travel only inside the tar stream on a session's
// stdin: never on a command line, in a log line or in an error.
//
// The resource's life cycle, in calls: create is Dial, WaitCloudInit, Arch
// (to pick the edge build), ImportTLS of the bundle kept in state (if any),
// Install, ExportTLS into state; read is State (compare with the rendered
// release's hashes) and ExportTLS; update is Install; delete is Uninstall.
// A Client runs one call at a time.
package installer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// Production defaults; Client fields override them (tests confine the
// installer to a temporary root).
const (
	dialAttempt = 10 * time.Second // one TCP connect + handshake
	// Between Dial attempts. More than 5 s: the droplet's `ufw limit 22/tcp`
	// rejects a source with 6 connections in 30 s, and counts the rejected
	// attempts too, so faster retries would keep the provider locked out.
	maxRetryDelay      = 8 * time.Second
	tailBytes          = 4096          // stderr kept in errors
	outsideDir         = "_root"       // in a release: copies of files outside current
	releasePlaceholder = "{{release}}" // in Release.Validate: the staged release directory
	pathChars          = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/@+"
	ownerChars         = "abcdefghijklmnopqrstuvwxyz0123456789_-:"
)

// authRetry is how long Dial keeps trying a key the server refuses.
var authRetry = time.Minute

// ErrHostKeyMismatch is returned by Dial when the server presents a host key
// other than Target.HostKey. It is never retried.
var ErrHostKeyMismatch = errors.New("ssh host key mismatch")

// Target is where and how to connect.
type Target struct {
	Addr       string // host:port or host (port 22)
	User       string // admin user with passwordless sudo, or root
	PrivateKey []byte // PEM; never logged
	HostKey    string // authorized_keys-format public host key, pinned
}

// Client is one SSH connection to a droplet.
type Client struct {
	// Root prefixes every path the installer touches on the host ("" in
	// production). Tests point it at a temporary directory.
	Root string
	// EdgeUser owns the TLS storage; default ondroplet.EdgeUser.
	EdgeUser string
	// Logf, when set, receives each command before it runs (never stdin).
	Logf func(format string, args ...any)

	conn    *ssh.Client
	addr    string
	sudo    string   // "sudo -n " unless the user is root
	secrets [][]byte // redacted from every error while an Install runs
}

// Dial connects to t, retrying until SSH answers with the pinned host key
// and accepts the key, or ctx ends. A different host key fails at once.
func Dial(ctx context.Context, t Target) (*Client, error) {
	addr := t.Addr
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(addr, "22")
	}
	if t.User == "" {
		return nil, errors.New("installer: Target.User is empty; set the SSH user (the droplet's admin user)")
	}
	pinned, _, _, _, err := ssh.ParseAuthorizedKey([]byte(t.HostKey))
	if err != nil {
		return nil, fmt.Errorf("installer: Target.HostKey is not an authorized_keys public key (use jhub_droplet.host_public_key): %w", err)
	}
	signer, err := ssh.ParsePrivateKey(t.PrivateKey)
	if err != nil {
		// The parser's message never includes key material.
		return nil, fmt.Errorf("installer: Target.PrivateKey: %w", err)
	}
	fixed := ssh.FixedHostKey(pinned)
	cfg := &ssh.ClientConfig{
		User: t.User,
		Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: func(host string, remote net.Addr, key ssh.PublicKey) error {
			if fixed(host, remote, key) != nil {
				return fmt.Errorf("%w: %s presented %s %s, the pinned key is %s %s; possible man-in-the-middle or a different droplet at this address (check the address and jhub_droplet.host_public_key)",
					ErrHostKeyMismatch, addr, key.Type(), ssh.FingerprintSHA256(key), pinned.Type(), ssh.FingerprintSHA256(pinned))
			}
			return nil
		},
		HostKeyAlgorithms: hostKeyAlgorithms(pinned.Type()),
		Timeout:           dialAttempt,
	}
	delay := 250 * time.Millisecond
	var refused time.Time // first time the server (with the right host key) refused our key
	for {
		conn, err := dialOnce(ctx, addr, cfg)
		if err == nil {
			c := &Client{conn: conn, addr: addr}
			if t.User != "root" {
				c.sudo = "sudo -n "
			}
			return c, nil
		}
		if errors.Is(err, ErrHostKeyMismatch) {
			return nil, err
		}
		// A refused key is retried briefly (a booting droplet may not have
		// its authorized_keys yet), then reported instead of waiting out ctx.
		if strings.Contains(err.Error(), "unable to authenticate") {
			if refused.IsZero() {
				refused = time.Now()
			} else if time.Since(refused) > authRetry {
				return nil, fmt.Errorf("installer: %s@%s refuses the SSH key for %v (check the private key and the user: the droplet's admin user with this key among its authorized keys): %w", t.User, addr, authRetry, err)
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("installer: ssh %s@%s did not answer before the deadline: %w (last error: %w)", t.User, addr, ctx.Err(), err)
		case <-time.After(delay):
		}
		delay = min(2*delay, maxRetryDelay)
	}
}

// hostKeyAlgorithms asks the server for the pinned key's algorithm only, so
// a server with several host keys presents the pinned one. An RSA key signs
// with SHA-2 (OpenSSH refuses ssh-rsa's SHA-1 since 8.8).
func hostKeyAlgorithms(keyType string) []string {
	if keyType == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256}
	}
	return []string{keyType}
}

func dialOnce(ctx context.Context, addr string, cfg *ssh.ClientConfig) (*ssh.Client, error) {
	actx, cancel := context.WithTimeout(ctx, dialAttempt)
	defer cancel()
	nc, err := (&net.Dialer{}).DialContext(actx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	deadline, _ := actx.Deadline()
	if err := nc.SetDeadline(deadline); err != nil { // bounds the handshake
		_ = nc.Close()
		return nil, err
	}
	cc, chans, reqs, err := ssh.NewClientConn(nc, addr, cfg)
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	if err := nc.SetDeadline(time.Time{}); err != nil {
		_ = cc.Close()
		return nil, err
	}
	return ssh.NewClient(cc, chans, reqs), nil
}

// Close ends the connection.
func (c *Client) Close() error { return c.conn.Close() }

// ExitError is a remote command that ran and failed.
type ExitError struct {
	Cmd    string // the command, shortened
	Status int    // exit status; -1 when killed by a signal or the context
	Stderr string // tail of stderr, secrets redacted
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("%s: exit status %d", e.Cmd, e.Status)
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	return msg
}

// Run runs cmd in a new session with stdin (may be nil). A non-zero exit is
// an *ExitError carrying the status and the tail of stderr.
func (c *Client) Run(ctx context.Context, cmd string, stdin io.Reader) (stdout, stderr []byte, err error) {
	if c.Logf != nil {
		c.Logf("ssh %s: %s", c.addr, cmd)
	}
	s, err := c.conn.NewSession()
	if err != nil {
		return nil, nil, fmt.Errorf("ssh %s: new session: %w", c.addr, err)
	}
	defer func() { _ = s.Close() }()
	var out, errb bytes.Buffer
	s.Stdout, s.Stderr, s.Stdin = &out, &errb, stdin
	done := make(chan error, 1)
	if err := s.Start(cmd); err != nil {
		return nil, nil, fmt.Errorf("ssh %s: start %s: %w", c.addr, short(cmd), err)
	}
	go func() { done <- s.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		// Best effort: sshd delivers the signal to the command; the session
		// is abandoned either way (done is buffered).
		_ = s.Signal(ssh.SIGKILL)
		_ = s.Close()
		return nil, nil, fmt.Errorf("ssh %s: %s: %w", c.addr, short(cmd), ctx.Err())
	}
	if err == nil {
		return out.Bytes(), errb.Bytes(), nil
	}
	ee := &ExitError{Cmd: short(cmd), Status: -1, Stderr: c.redact(tail(errb.Bytes()))}
	var xe *ssh.ExitError
	switch {
	case errors.As(err, &xe):
		ee.Status = xe.ExitStatus()
		if xe.Signal() != "" {
			ee.Status = -1
		}
		return out.Bytes(), errb.Bytes(), ee
	default:
		return out.Bytes(), errb.Bytes(), fmt.Errorf("ssh %s: %s: %w", c.addr, short(cmd), err)
	}
}

// sh runs a shell script as root (through sudo unless the user is root).
// Scripts carry paths and unit names only, never file contents.
func (c *Client) sh(ctx context.Context, script string, stdin io.Reader) ([]byte, error) {
	out, _, err := c.Run(ctx, c.sudo+"sh -ec "+quote(script), stdin)
	return out, err
}

// redact replaces every secret (and every line of a multi-line secret) with
// a marker, so remote output quoted in an error cannot leak one.
func (c *Client) redact(s string) string {
	for _, sec := range c.secrets {
		for _, part := range append([][]byte{sec}, bytes.Split(sec, []byte("\n"))...) {
			if p := strings.TrimSpace(string(part)); len(p) >= 6 {
				s = strings.ReplaceAll(s, p, "[redacted]")
			}
		}
	}
	return s
}

func tail(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > tailBytes {
		b = append([]byte("…"), b[len(b)-tailBytes:]...)
	}
	return string(b)
}

func short(cmd string) string {
	if i := strings.IndexByte(cmd, '\n'); i >= 0 {
		cmd = cmd[:i] + " …"
	}
	if len(cmd) > 160 {
		cmd = cmd[:160] + "…"
	}
	return cmd
}

// Command joins argv into one shell command line with every argument
// quoted, for Release.Validate (hubconfig.Checks returns argv lists; pass
// "{{release}}" as their directory).
func Command(argv ...string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = quote(a)
	}
	return strings.Join(q, " ")
}

// quote makes s one single-quoted shell word.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// p maps a production path into the client's root.
func (c *Client) p(path string) string { return c.Root + path }
