package installer

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/classhub/terraform-provider-jhub/internal/testkit"
)

func TestDialRefusesWrongHostKey(t *testing.T) {
	h := newHost(t)
	h.start()
	tg := h.target()
	tg.HostKey = testkit.NewSSHKey(t, "").AuthorizedKey
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	c, err := Dial(ctx, tg) // retries until sshd listens, then must stop at its key
	if err == nil {
		_ = c.Close()
		t.Fatal("Dial accepted a host key other than the pinned one")
	}
	if !errors.Is(err, ErrHostKeyMismatch) {
		t.Fatalf("want ErrHostKeyMismatch, got %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("a host key mismatch took %v: it must fail at once, not be retried", time.Since(start))
	}
	for _, want := range []string{"man-in-the-middle", "host_public_key", "SHA256:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	// The client stopped at the host key: it never authenticated.
	time.Sleep(200 * time.Millisecond)
	if strings.Contains(h.log(), "Accepted publickey") {
		t.Errorf("sshd accepted a login from a client that saw the wrong host key:\n%s", h.log())
	}
}

func TestDialRetriesUntilSSHDAnswers(t *testing.T) {
	h := newHost(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	type res struct {
		c   *Client
		err error
	}
	ch := make(chan res, 1)
	start := time.Now()
	go func() { c, err := Dial(ctx, h.target()); ch <- res{c, err} }()
	time.Sleep(1500 * time.Millisecond)
	select {
	case r := <-ch:
		t.Fatalf("Dial returned before sshd was started: %v", r.err)
	default:
	}
	h.start()
	r := <-ch
	if r.err != nil {
		t.Fatalf("Dial after sshd came up: %v\n%s", r.err, h.log())
	}
	defer func() { _ = r.c.Close() }()
	if time.Since(start) < 1500*time.Millisecond {
		t.Fatal("Dial cannot have connected before sshd started")
	}
	out, _, err := r.c.Run(ctx, "id -u", nil)
	if err != nil || strings.TrimSpace(string(out)) != "0" {
		t.Fatalf("id -u = %q, %v", out, err)
	}
	// The positive control for TestDialRefusesWrongHostKey's log check.
	if !strings.Contains(h.log(), "Accepted publickey for root") {
		t.Errorf("sshd logged no accepted login:\n%s", h.log())
	}
}

func TestDialGivesUpAtDeadline(t *testing.T) {
	h := newHost(t) // never started: nothing listens on its port
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	_, err := Dial(ctx, h.target())
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("want a deadline error naming the last failure (connection refused), got %v", err)
	}
}

func TestDialReportsRefusedKey(t *testing.T) {
	h := newHost(t)
	h.start()
	defer func(d time.Duration) { authRetry = d }(authRetry)
	authRetry = time.Second
	tg := h.target()
	tg.PrivateKey = newHost(t).userKey // a valid key that is not authorized
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := Dial(ctx, tg)
	if err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), "refuses the SSH key") {
		t.Fatalf("want a prompt refused-key error, got %v (ctx %v)", err, ctx.Err())
	}
}

func TestDialRejectsBadTarget(t *testing.T) {
	h := newHost(t)
	for name, mut := range map[string]func(*Target){
		"HostKey":    func(tg *Target) { tg.HostKey = "not a key" },
		"PrivateKey": func(tg *Target) { tg.PrivateKey = []byte("not a key") },
		"User":       func(tg *Target) { tg.User = "" },
	} {
		tg := h.target()
		mut(&tg)
		_, err := Dial(context.Background(), tg)
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s broken: want an error naming it, got %v", name, err)
		}
	}
}

func TestRun(t *testing.T) {
	h := newHost(t)
	c, _ := h.client()
	ctx := context.Background()

	out, _, err := c.Run(ctx, "cat; echo done", strings.NewReader("from stdin\n"))
	if err != nil || string(out) != "from stdin\ndone\n" {
		t.Fatalf("stdin round trip: %q, %v", out, err)
	}
	_, _, err = c.Run(ctx, "echo partial; echo boom >&2; exit 3", nil)
	var xe *ExitError
	if !errors.As(err, &xe) || xe.Status != 3 || !strings.Contains(xe.Stderr, "boom") {
		t.Fatalf("want ExitError status 3 with stderr boom, got %#v (%v)", xe, err)
	}
	if !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("error %q does not say the exit status", err)
	}

	cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err = c.Run(cctx, "sleep 30", nil)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want the context's error, got %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("cancelling took %v", time.Since(start))
	}
	// The connection still works after a cancelled command.
	if _, _, err := c.Run(ctx, "true", nil); err != nil {
		t.Fatal(err)
	}
}

func TestArch(t *testing.T) {
	h := newHost(t)
	c, _ := h.client()
	got, err := c.Arch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// sshd runs on this machine, so its uname -m is the test binary's arch.
	if got != runtime.GOARCH {
		t.Fatalf("Arch = %q on a %s host", got, runtime.GOARCH)
	}
}
