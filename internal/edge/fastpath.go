package edge

import (
	"bufio"
	"context"
	"errors"
	"io"
	"maps"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"
)

// The fast path carries what a class sends most, body-less GETs and HEADs
// to a plain-HTTP hub or server, over pooled keep-alive connections in the
// handler's own goroutine. httputil.ReverseProxy with http.Transport does
// the same with a request clone, a client trace, and a read and a write
// goroutine per connection handing each response over channels: on one
// core that cost 20-30 µs of the edge's 70-80 µs per HTTPS keep-alive
// request (bench/results/NOTES.md). Everything else (bodies, upgrades,
// Expect, HTTPS upstreams, targets it would have to encode) stays on
// ReverseProxy.

// fastEligible reports whether r may take the fast path.
func (p *proxy) fastEligible(r *http.Request) bool {
	return p.pool != nil &&
		(r.Method == http.MethodGet || r.Method == http.MethodHead) &&
		r.ContentLength == 0 && len(r.TransferEncoding) == 0 &&
		(r.Body == nil || r.Body == http.NoBody) &&
		len(r.Header["Expect"]) == 0
}

// upstreamConn is one keep-alive connection to a target.
type upstreamConn struct {
	conn      net.Conn
	br        *bufio.Reader
	bw        *bufio.Writer
	idleSince time.Time
}

// connPool holds the idle connections to one target host, most recently
// used last. Every route to that host shares it.
type connPool struct {
	mu      sync.Mutex
	idle    []*upstreamConn
	reaping bool
	closed  bool
}

// maxIdlePerTarget and idleConnTimeout bound the idle connections to one
// upstream host, on the fast path and in the Transport alike.
const (
	maxIdlePerTarget = 1024
	idleConnTimeout  = 90 * time.Second
)

// poolFor is the shared pool of a plain-HTTP target host, or nil for
// targets the fast path does not serve.
func (u *upstreams) poolFor(target *url.URL) *connPool {
	if target.Scheme != "http" {
		return nil
	}
	hostport := targetAddr(target)
	u.poolsMu.Lock()
	defer u.poolsMu.Unlock()
	if u.pools == nil {
		u.pools = map[string]*connPool{}
	}
	cp := u.pools[hostport]
	if cp == nil {
		cp = &connPool{}
		u.pools[hostport] = cp
	}
	return cp
}

// closeIdle closes every idle connection, for shutdown; later returns are
// closed instead of pooled.
func (u *upstreams) closeIdle() {
	u.poolsMu.Lock()
	defer u.poolsMu.Unlock()
	for _, cp := range u.pools {
		cp.mu.Lock()
		for _, uc := range cp.idle {
			_ = uc.conn.Close()
		}
		cp.idle, cp.closed = nil, true
		cp.mu.Unlock()
	}
}

// get pops the warmest idle connection that has not been idle too long.
func (cp *connPool) get() *upstreamConn {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	for n := len(cp.idle); n > 0; n = len(cp.idle) {
		uc := cp.idle[n-1]
		cp.idle[n-1] = nil
		cp.idle = cp.idle[:n-1]
		if time.Since(uc.idleSince) < idleConnTimeout {
			return uc
		}
		_ = uc.conn.Close()
	}
	return nil
}

func (cp *connPool) put(uc *upstreamConn) {
	uc.idleSince = time.Now()
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if cp.closed || len(cp.idle) >= maxIdlePerTarget {
		_ = uc.conn.Close()
		return
	}
	cp.idle = append(cp.idle, uc)
	if !cp.reaping {
		cp.reaping = true
		time.AfterFunc(idleConnTimeout, cp.reap)
	}
}

// reap closes connections idle for idleConnTimeout, so a stopped
// student's server leaves no connection behind; it re-arms while any stay.
func (cp *connPool) reap() {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	keep := cp.idle[:0]
	for _, uc := range cp.idle {
		if time.Since(uc.idleSince) >= idleConnTimeout {
			_ = uc.conn.Close()
		} else {
			keep = append(keep, uc)
		}
	}
	clear(cp.idle[len(keep):])
	cp.idle = keep
	cp.reaping = len(keep) > 0
	if cp.reaping {
		time.AfterFunc(time.Until(keep[0].idleSince.Add(idleConnTimeout)), cp.reap)
	}
}

// serveFast proxies an eligible request. A request that fails on a reused
// connection before any answer (the upstream closed it while idle) is sent
// once more on a new one, as http.Transport does for idempotent requests.
func (p *proxy) serveFast(w http.ResponseWriter, r *http.Request) {
	p.act.Store(time.Now().UnixNano())
	ctx := r.Context()
	for retry := true; ; retry = false {
		uc := p.pool.get()
		reused := uc != nil
		if !reused {
			conn, err := p.dialUpstream(ctx)
			if err != nil {
				p.errorHandler(w, r, err)
				return
			}
			uc = &upstreamConn{conn: conn, br: bufio.NewReaderSize(conn, 4<<10), bw: bufio.NewWriterSize(conn, 4<<10)}
		}
		// A client that leaves must not keep the upstream connection
		// waiting; the connection is then closed, never pooled.
		stop := context.AfterFunc(ctx, func() { _ = uc.conn.SetDeadline(time.Unix(1, 0)) })
		res, err := p.exchange(w, r, uc)
		if err != nil {
			stop()
			_ = uc.conn.Close()
			if errors.Is(err, errFastInvalid) {
				p.rp.ServeHTTP(w, r) // ReverseProxy decides what to do with it
				return
			}
			if reused && retry && ctx.Err() == nil {
				continue
			}
			p.errorHandler(w, r, err)
			return
		}
		p.relay(w, r, uc, res, stop)
		return
	}
}

// errFastInvalid: the request holds something the fast path does not
// write (a header value or target ReverseProxy would refuse or encode).
var errFastInvalid = errors.New("request not suitable for the fast path")

// exchange writes the request and reads the response head, passing any
// informational (1xx) answers on as ReverseProxy does.
func (p *proxy) exchange(w http.ResponseWriter, r *http.Request, uc *upstreamConn) (*http.Response, error) {
	if err := p.writeRequest(uc.bw, r); err != nil {
		return nil, err
	}
	for {
		res, err := http.ReadResponse(uc.br, r)
		if err != nil {
			return nil, err
		}
		switch {
		case res.StatusCode == http.StatusSwitchingProtocols:
			return nil, errors.New("upstream switched protocols on a request that asked for none")
		case res.StatusCode < 200:
			// WriteHeader sends a 1xx with the header map as it stands and
			// keeps it; the edge's own headers (HSTS) must stay for the
			// final answer, the 1xx's must not.
			h := w.Header()
			own := h.Clone()
			removeHopByHop(res.Header)
			for k, vv := range res.Header {
				h[k] = vv
			}
			w.WriteHeader(res.StatusCode)
			clear(h)
			maps.Copy(h, own)
		default:
			return res, nil
		}
	}
}

// writeRequest writes the request head as ReverseProxy with rewrite and
// http.Transport would: the target's path prefix, the client's Host, its
// headers less hop-by-hop and forwarding ones, then the edge's own.
func (p *proxy) writeRequest(bw *bufio.Writer, r *http.Request) error {
	u := *r.URL
	p.pointAt(&u, r.URL)
	target := u.RequestURI()
	if !validTarget(target) || !httpguts.ValidHostHeader(r.Host) {
		return errFastInvalid
	}
	named := r.Header["Connection"]
	hw := headWriter{bw}
	hw.put(r.Method, " ", target, " HTTP/1.1\r\nHost: ", r.Host, "\r\n")
	for k, vv := range r.Header {
		if notForwarded[k] || isHopHeader(k) || len(named) > 0 && httpguts.HeaderValuesContainsToken(named, k) {
			continue
		}
		if !httpguts.ValidHeaderFieldName(k) {
			return errFastInvalid
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return errFastInvalid
			}
			hw.put(k, ": ", v, "\r\n")
		}
	}
	if httpguts.HeaderValuesContainsToken(r.Header["Te"], "trailers") {
		hw.put("Te: trailers\r\n")
	}
	for i, v := range forwardedValues(r) {
		hw.put(forwardedNames[i], ": ", v, "\r\n")
	}
	hw.put("\r\n")
	return bw.Flush()
}

// headWriter writes a message head; bufio.Writer keeps its first error,
// which the final Flush returns.
type headWriter struct{ *bufio.Writer }

func (h headWriter) put(parts ...string) {
	for _, s := range parts {
		_, _ = h.WriteString(s)
	}
}

func isHopHeader(k string) bool {
	for _, h := range hopHeaders {
		if k == h {
			return true
		}
	}
	return false
}

// validTarget: a request target of visible ASCII only, as a request line
// needs (the client's was checked by net/http; the target's prefix and an
// HTTP/2 :path are not).
func validTarget(t string) bool {
	if t == "" || t[0] != '/' {
		return false
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// relay passes the response on, then pools the connection if the body was
// read to its end and the upstream keeps it open. Streams (event streams,
// bodies of unknown length) are flushed on every write, as ReverseProxy
// does with FlushInterval 0.
func (p *proxy) relay(w http.ResponseWriter, r *http.Request, uc *upstreamConn, res *http.Response, stop func() bool) {
	removeHopByHop(res.Header)
	_ = p.modifyResponse(res)
	h := w.Header()
	for k, vv := range res.Header {
		h[k] = vv
	}
	if len(res.Trailer) > 0 {
		names := make([]string, 0, len(res.Trailer))
		for k := range res.Trailer {
			names = append(names, k)
		}
		h["Trailer"] = []string{strings.Join(names, ", ")}
	}
	w.WriteHeader(res.StatusCode)
	var dst io.Writer = w
	if res.ContentLength == -1 || isEventStream(res.Header) {
		dst = flushWriter{w, http.NewResponseController(w)}
	}
	buf := p.u.pool.Get()
	_, err := io.CopyBuffer(dst, res.Body, buf)
	p.u.pool.Put(buf)
	_ = res.Body.Close()
	reusable := stop() && err == nil && !res.Close
	if reusable {
		p.pool.put(uc)
	} else {
		_ = uc.conn.Close()
	}
	if err != nil {
		// As ReverseProxy does under net/http's server: abort, so that a
		// body cut short does not reach the client looking complete.
		if r.Context().Value(http.ServerContextKey) != nil {
			panic(http.ErrAbortHandler)
		}
		return
	}
	for k, vv := range res.Trailer {
		h[k] = vv
	}
}

// isEventStream parses the media type only when it may be one: parsing
// allocates, and this runs for every response.
func isEventStream(h http.Header) bool {
	const es = "text/event-stream"
	ct := h.Get("Content-Type")
	if len(ct) < len(es) || !strings.EqualFold(ct[:len(es)], es) {
		return false
	}
	mt, _, _ := mime.ParseMediaType(ct)
	return mt == es
}
