package edge

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/classhub/terraform-provider-jhub/internal/edgeconfig"
)

// errBodyTooSlow ends a request body that fell below the minimum rate.
var errBodyTooSlow = errors.New("request body arrived slower than limits.body_min_rate allows")

// slowBody cuts off request bodies that make no progress, as Apache's
// mod_reqtimeout (body=...,MinRate=...) and nginx's client_body_timeout
// do: the client gets limits.body_timeout for the first bytes and for any
// stall, and after that must keep an average of limits.body_min_rate.
// Only time spent waiting for the client counts: while the upstream is
// slow to take the body, the edge does not read and the clock stops.
//
// Each Read runs under a read deadline on the client connection (HTTP/1)
// or stream (HTTP/2). Upgraded connections never get here: websockets are
// body-less GETs and extended CONNECT streams are left alone.
type slowBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	h2      bool
	timeout time.Duration
	rate    float64 // bytes per second

	mu     sync.Mutex
	n      int64         // bytes read
	waited time.Duration // time spent blocked in Read
	done   bool          // the handler returned: rc is no longer usable
	eof    bool
	cut    bool
}

// limitBody returns r with its body under the rate limit, and a func the
// caller must run when the handler has returned.
func limitBody(w http.ResponseWriter, r *http.Request, lim *edgeconfig.LimitsConfig) (*http.Request, func()) {
	if r.Body == nil || r.Body == http.NoBody || r.Method == http.MethodConnect {
		return r, func() {}
	}
	b := &slowBody{
		ReadCloser: r.Body,
		rc:         http.NewResponseController(w),
		h2:         r.ProtoMajor == 2,
		timeout:    lim.BodyTimeout,
		rate:       float64(lim.BodyMinRate),
	}
	if !b.h2 {
		// Bounds what net/http reads by itself when the handler leaves the
		// body unread (it drains up to 256 KiB to keep the connection).
		_ = b.rc.SetReadDeadline(time.Now().Add(b.timeout))
	}
	// A copy, since net/http keeps inspecting its own *Request; the
	// context carries b to the proxy's error handler, which ReverseProxy
	// hands its own request with the body wrapped once more.
	r2 := r.WithContext(context.WithValue(r.Context(), slowBodyKey{}, b))
	r2.Body = b
	return r2, b.finish
}

type slowBodyKey struct{}

func (b *slowBody) finish() {
	b.mu.Lock()
	b.done = true
	b.mu.Unlock()
}

func (b *slowBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	if b.cut {
		b.mu.Unlock()
		return 0, errBodyTooSlow
	}
	if b.done || b.eof {
		b.mu.Unlock()
		return b.ReadCloser.Read(p)
	}
	// The budget: timeout plus one second per rate bytes received, minus
	// the time already waited, and never more than timeout at once.
	budget := b.timeout + time.Duration(float64(b.n)/b.rate*float64(time.Second)) - b.waited
	budget = min(budget, b.timeout)
	if budget <= 0 {
		b.cut = true
		b.mu.Unlock()
		return 0, errBodyTooSlow
	}
	start := time.Now()
	_ = b.rc.SetReadDeadline(start.Add(budget))
	b.mu.Unlock()

	n, err := b.ReadCloser.Read(p)

	b.mu.Lock()
	defer b.mu.Unlock()
	b.waited += time.Since(start)
	b.n += int64(n)
	switch {
	case err == io.EOF:
		b.eof = true
		if !b.done {
			// net/http now watches the connection for the client going
			// away; that read must not inherit the deadline.
			_ = b.rc.SetReadDeadline(time.Time{})
		}
	case errors.Is(err, os.ErrDeadlineExceeded):
		b.cut = true
		err = errBodyTooSlow
	case err == nil && b.h2 && !b.done:
		// An HTTP/2 read deadline is a timer on the stream, not on a read:
		// stop it while the edge is busy elsewhere.
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// wasCut reports whether the body of r (or of the request r was made
// from) was ended by the rate limit.
func wasCut(r *http.Request) bool {
	b, ok := r.Context().Value(slowBodyKey{}).(*slowBody)
	if !ok {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cut
}
