package edge

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
)

// upgradeType is the protocol an HTTP/1.1 request asks to switch to, or "".
func upgradeType(h http.Header) string {
	if !httpguts.HeaderValuesContainsToken(h["Connection"], "Upgrade") {
		return ""
	}
	return h.Get("Upgrade")
}

// hopHeaders are removed in both directions (RFC 9110 section 7.6.1), with
// whatever the Connection header names.
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func removeHopByHop(h http.Header) {
	for _, f := range h["Connection"] {
		for sf := range strings.SplitSeq(f, ",") {
			if sf = textproto.TrimString(sf); sf != "" {
				h.Del(sf)
			}
		}
	}
	for _, k := range hopHeaders {
		delete(h, k)
	}
}

// upgradeRequest is the upstream request for a protocol switch: the
// client's headers without hop-by-hop and client-sent forwarding headers,
// then the edge's own.
func (p *proxy) upgradeRequest(r *http.Request, upgrade string) *http.Request {
	u := *r.URL
	p.pointAt(&u, r.URL)
	h := r.Header.Clone()
	removeHopByHop(h)
	for k := range notForwarded {
		delete(h, k)
	}
	h["Connection"] = []string{"Upgrade"}
	h["Upgrade"] = []string{upgrade}
	setForwarded(h, r)
	return &http.Request{Method: http.MethodGet, URL: &u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: h, Host: r.Host}
}

// targetAddr is the target's host:port, the scheme's port when it has none.
func targetAddr(target *url.URL) string {
	if target.Port() != "" {
		return target.Host
	}
	port := "80"
	if target.Scheme == "https" {
		port = "443"
	}
	return net.JoinHostPort(target.Hostname(), port)
}

// dialUpstream opens a connection to the target: for one upgraded request,
// or for the fast path's pool.
func (p *proxy) dialUpstream(ctx context.Context) (net.Conn, error) {
	host := targetAddr(p.target)
	if p.target.Scheme == "https" {
		d := &tls.Dialer{NetDialer: p.u.dialer, Config: &tls.Config{ServerName: p.target.Hostname(), MinVersion: tls.VersionTLS12}}
		return d.DialContext(ctx, "tcp", host)
	}
	return p.u.dialer.DialContext(ctx, "tcp", host)
}

// serveUpgrade proxies an HTTP/1.1 protocol switch (websockets) without
// httputil.ReverseProxy: after the handshake the handler returns, and two
// small goroutines copy bytes with buffers borrowed only while data flows.
// An idle websocket then costs a few kilobytes, and it never times out.
func (p *proxy) serveUpgrade(w http.ResponseWriter, r *http.Request, upgrade string) {
	back, br, resHeader, ok := p.switchProtocols(w, r, p.upgradeRequest(r, upgrade))
	if !ok {
		return
	}
	if got := resHeader.Get("Upgrade"); !strings.EqualFold(got, upgrade) {
		_ = back.Close()
		p.errorHandler(w, r, fmt.Errorf("upstream switched to %q when %q was requested", got, upgrade))
		return
	}
	removeHopByHop(resHeader)
	client, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		_ = back.Close()
		p.errorHandler(w, r, fmt.Errorf("hijack for %s upgrade: %w", upgrade, err))
		return
	}
	hdr := w.Header()
	for k, vv := range resHeader {
		hdr[k] = vv
	}
	hdr["Connection"] = []string{"Upgrade"}
	hdr["Upgrade"] = []string{upgrade}
	res := http.Response{StatusCode: http.StatusSwitchingProtocols, ProtoMajor: 1, ProtoMinor: 1, Header: hdr}
	if err := res.Write(brw); err != nil || brw.Flush() != nil {
		_ = client.Close()
		_ = back.Close()
		return
	}
	s := &splice{client: client, back: back}
	go s.run(back, activityReader{withBuffered(brw.Reader, client), p.act}, &p.u.pool)
	go s.run(client, activityReader{withBuffered(br, back), p.act}, &p.u.pool)
}

// splice tracks the two directions of one upgraded connection: a clean
// EOF half-closes the other side; the second direction to end, or any
// error, closes both.
type splice struct {
	client, back net.Conn
	ended        atomic.Int32
}

func (s *splice) run(dst net.Conn, src io.Reader, pool *bufferPool) {
	err := pump(dst, src, pool)
	if err == nil && s.ended.Add(1) == 1 {
		if cw, ok := dst.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
			return
		}
	}
	_ = s.client.Close()
	_ = s.back.Close()
}

// activityReader records traffic so last_activity reflects websocket
// frames, not only the handshake.
type activityReader struct {
	r   io.Reader
	act *atomic.Int64
}

func (a activityReader) Read(b []byte) (int, error) {
	n, err := a.r.Read(b)
	if n > 0 {
		a.act.Store(time.Now().UnixNano())
	}
	return n, err
}

// idleBufSize is what an idle direction holds while it waits for data.
const idleBufSize = 2 << 10

// pump copies src to dst until EOF. It waits for data with a small buffer
// and borrows a pooled copy buffer only while a burst lasts, so a
// thousand idle websockets hold kilobytes, not megabytes.
func pump(dst io.Writer, src io.Reader, pool *bufferPool) error {
	small := make([]byte, idleBufSize)
	write := func(b []byte) error {
		n, err := dst.Write(b)
		if err == nil && n != len(b) {
			err = io.ErrShortWrite
		}
		return err
	}
	for {
		n, err := src.Read(small)
		if n > 0 {
			if werr := write(small[:n]); werr != nil {
				return werr
			}
		}
		if err != nil {
			return eofIsNil(err)
		}
		if n < len(small) {
			continue
		}
		big := pool.Get()
		for {
			n, err = src.Read(big)
			if n > 0 {
				if werr := write(big[:n]); werr != nil {
					pool.Put(big)
					return werr
				}
			}
			if err != nil {
				pool.Put(big)
				return eofIsNil(err)
			}
			if n < len(big) {
				break
			}
		}
		pool.Put(big)
	}
}

func eofIsNil(err error) error {
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// switchProtocols dials the target, sends out and reads the answer within
// the upgrade timeout, or until the client goes away. It returns ok only
// for 101 Switching Protocols, with the deadline cleared and the
// upstream's header; otherwise it has answered the client itself.
func (p *proxy) switchProtocols(w http.ResponseWriter, r *http.Request, out *http.Request) (net.Conn, *bufio.Reader, http.Header, bool) {
	p.act.Store(time.Now().UnixNano())
	ctx, cancel := context.WithTimeout(r.Context(), p.u.upgradeTimeout)
	defer cancel()
	back, err := p.dialUpstream(ctx)
	if err != nil {
		p.errorHandler(w, r, err)
		return nil, nil, nil, false
	}
	deadline, _ := ctx.Deadline()
	err = back.SetDeadline(deadline)
	// A kernel may take minutes to answer; a client that left meanwhile
	// must not keep the upstream connection waiting that long. (Set after
	// the deadline, which would otherwise overwrite it.)
	stop := context.AfterFunc(ctx, func() { _ = back.SetDeadline(time.Unix(1, 0)) })
	br := bufio.NewReaderSize(back, 4<<10)
	var res *http.Response
	if err == nil {
		if err = out.Write(back); err == nil {
			res, err = http.ReadResponse(br, out)
		}
	}
	if err == nil && !stop() {
		err = ctx.Err() // answered just as the time ran out or the client left
	}
	if err != nil {
		_ = back.Close()
		p.errorHandler(w, r, err)
		return nil, nil, nil, false
	}
	defer func() { _ = res.Body.Close() }() // empty for a 101: the connection itself carries on
	if p.u.hsts.Load() {
		delete(res.Header, "Strict-Transport-Security")
	}
	if res.StatusCode != http.StatusSwitchingProtocols {
		// Refused (403, 404...): pass the answer on.
		defer func() { _ = back.Close() }()
		removeHopByHop(res.Header)
		for k, vv := range res.Header {
			w.Header()[k] = vv
		}
		w.WriteHeader(res.StatusCode)
		buf := p.u.pool.Get()
		_, err := io.CopyBuffer(w, res.Body, buf)
		p.u.pool.Put(buf)
		if err != nil {
			// As httputil.ReverseProxy does: abort, so that a body cut
			// short does not reach the client looking complete.
			panic(http.ErrAbortHandler)
		}
		return nil, nil, nil, false
	}
	// Without its handshake deadline the connection would be cut
	// mid-session; failing to clear it means the connection is gone.
	if err := back.SetDeadline(time.Time{}); err != nil {
		_ = back.Close()
		p.errorHandler(w, r, err)
		return nil, nil, nil, false
	}
	return back, br, res.Header, true
}

// withBuffered puts bytes a bufio.Reader read ahead in front of conn.
func withBuffered(br *bufio.Reader, conn io.Reader) io.Reader {
	n := br.Buffered()
	if n == 0 {
		return conn
	}
	early, _ := br.Peek(n)
	return io.MultiReader(bytes.NewReader(bytes.Clone(early)), conn)
}

// websocketGUID is the RFC 6455 constant for Sec-WebSocket-Accept.
const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// serveH2WebSocket bridges an RFC 8441 websocket (HTTP/2 extended CONNECT
// with :protocol websocket) to an HTTP/1.1 Upgrade towards the upstream.
// The websocket frames are identical on both sides, so after the two
// handshakes the edge only copies bytes.
func (p *proxy) serveH2WebSocket(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor != 2 || r.Header.Get(":protocol") != "websocket" {
		http.Error(w, "405 CONNECT is not allowed: this is not a forward proxy", http.StatusMethodNotAllowed)
		return
	}
	var nonce [16]byte
	rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	out := p.upgradeRequest(r, "websocket")
	out.Header["Sec-Websocket-Key"] = []string{key}
	if out.Header.Get("Sec-Websocket-Version") == "" {
		out.Header["Sec-Websocket-Version"] = []string{"13"}
	}
	back, br, resHeader, ok := p.switchProtocols(w, r, out)
	if !ok {
		return
	}
	defer func() { _ = back.Close() }()
	sum := sha1.Sum([]byte(key + websocketGUID))
	if resHeader.Get("Sec-Websocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]) {
		p.errorHandler(w, r, errors.New("upstream answered the websocket upgrade with a wrong Sec-WebSocket-Accept"))
		return
	}
	for _, k := range []string{"Sec-Websocket-Protocol", "Sec-Websocket-Extensions"} {
		if v, ok := resHeader[k]; ok {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if rc.Flush() != nil {
		return
	}
	// The stream lives as long as this handler: client to upstream in a
	// goroutine, upstream to client here; either end closing stops both.
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = pump(back, activityReader{r.Body, p.act}, &p.u.pool)
		_ = back.Close()
	}()
	_ = pump(flushWriter{w, rc}, activityReader{withBuffered(br, back), p.act}, &p.u.pool)
	_ = back.Close()
	_ = r.Body.Close()
	<-done
}

// flushWriter sends every write to the HTTP/2 client at once.
type flushWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (f flushWriter) Write(b []byte) (int, error) {
	n, err := f.w.Write(b)
	if err == nil {
		err = f.rc.Flush()
	}
	return n, err
}
