package edge

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// upstreams is what every proxy shares: one tuned transport (so keep-alive
// connections to the hub are reused across routes) and one buffer pool.
type upstreams struct {
	transport *http.Transport
	pool      bufferPool
	log       *slog.Logger
	// hsts mirrors the live config: when the edge sends HSTS itself, an
	// upstream's own header is dropped so the client sees exactly one.
	hsts atomic.Bool
}

func newUpstreams(log *slog.Logger) *upstreams {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &upstreams{
		log: log,
		transport: &http.Transport{
			Proxy:                 nil, // never honour HTTP_PROXY for loopback upstreams
			DialContext:           dialer.DialContext,
			MaxIdleConns:          0,
			MaxIdleConnsPerHost:   1024,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
			DisableCompression:    true, // pass bodies through untouched
			ForceAttemptHTTP2:     false,
			ReadBufferSize:        32 << 10,
			WriteBufferSize:       32 << 10,
		},
	}
}

// bufferPool recycles 32 KiB copy buffers across requests.
type bufferPool struct{ p sync.Pool }

const copyBufSize = 32 << 10

func (b *bufferPool) Get() []byte {
	if v := b.p.Get(); v != nil {
		return *(v.(*[]byte))
	}
	return make([]byte, copyBufSize)
}

func (b *bufferPool) Put(buf []byte) {
	if cap(buf) == copyBufSize {
		buf = buf[:copyBufSize]
		b.p.Put(&buf)
	}
}

// proxy forwards to one target. Each route owns one, so choosing the target
// costs nothing per request.
type proxy struct {
	u          *upstreams
	target     *url.URL
	targetName string // for the access log
	act        *atomic.Int64
	rp         httputil.ReverseProxy
}

func (u *upstreams) newProxy(target *url.URL, act *atomic.Int64) *proxy {
	p := &proxy{u: u, target: target, targetName: target.String(), act: act}
	p.rp = httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      u.transport,
		FlushInterval:  -1, // stream everything: event streams, progress, downloads
		BufferPool:     &u.pool,
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.errorHandler,
		ErrorLog:       slog.NewLogLogger(u.log.Handler(), slog.LevelWarn),
	}
	return p
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if lw, ok := w.(*logWriter); ok {
		lw.upstream = p.targetName
	}
	if r.Method == http.MethodConnect {
		// Only reachable for HTTP/2 extended CONNECT (RFC 8441); plain
		// CONNECT is refused before routing.
		p.serveH2WebSocket(w, r)
		return
	}
	p.rp.ServeHTTP(w, r)
}

var (
	protoHTTPS = []string{"https"}
	protoHTTP  = []string{"http"}
)

// rewrite points the request at the target, keeps Host exactly as the
// client sent it and sets the forwarding headers. httputil.ReverseProxy has
// already removed hop-by-hop headers and every client-sent X-Forwarded-*.
func (p *proxy) rewrite(pr *httputil.ProxyRequest) {
	in, out := pr.In, pr.Out
	p.pointAt(out.URL, in.URL)
	out.Host = in.Host
	setForwarded(out.Header, in)
	p.act.Store(time.Now().UnixNano())
}

// pointAt sets scheme and host, and prepends the target's path as CHP does.
func (p *proxy) pointAt(out, in *url.URL) {
	out.Scheme = p.target.Scheme
	out.Host = p.target.Host
	if tp := p.target.Path; tp != "" && tp != "/" {
		if tp[len(tp)-1] == '/' {
			tp = tp[:len(tp)-1]
		}
		out.Path = tp + in.Path
		if in.RawPath != "" {
			out.RawPath = p.target.EscapedPath() + in.RawPath
		}
	}
}

func setForwarded(h http.Header, in *http.Request) {
	ip := clientIP(in.RemoteAddr)
	h["X-Forwarded-For"] = []string{ip}
	h["X-Real-Ip"] = []string{ip}
	proto := protoHTTP
	if in.TLS != nil {
		proto = protoHTTPS
	}
	h["X-Forwarded-Proto"] = proto
	h["X-Scheme"] = proto
}

// clientIP strips the port from RemoteAddr without allocating.
func clientIP(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return remote
	}
	return host
}

func (p *proxy) modifyResponse(res *http.Response) error {
	if p.u.hsts.Load() {
		delete(res.Header, "Strict-Transport-Security")
	}
	if res.StatusCode == http.StatusSwitchingProtocols {
		if rwc, ok := res.Body.(io.ReadWriteCloser); ok {
			res.Body = &activityConn{ReadWriteCloser: rwc, act: p.act}
		}
	}
	return nil
}

// activityConn records traffic on an upgraded (websocket) connection so
// last_activity reflects frames, not only the opening handshake.
type activityConn struct {
	io.ReadWriteCloser
	act *atomic.Int64
}

func (c *activityConn) Read(b []byte) (int, error) {
	n, err := c.ReadWriteCloser.Read(b)
	if n > 0 {
		c.act.Store(time.Now().UnixNano())
	}
	return n, err
}

func (c *activityConn) Write(b []byte) (int, error) {
	c.act.Store(time.Now().UnixNano())
	return c.ReadWriteCloser.Write(b)
}

func (p *proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		// The client went away; nobody is left to read an error page.
		if lw, ok := w.(*logWriter); ok {
			lw.status = 499
		}
		return
	}
	// url.Error would repeat the URL, query string (tokens) included.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	p.u.log.Warn("upstream request failed", "upstream", p.targetName, "path", r.URL.Path, "err", err.Error())
	http.Error(w, "502 Bad Gateway: the upstream service did not answer", http.StatusBadGateway)
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
	_, _ = rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])

	outURL := *r.URL
	p.pointAt(&outURL, r.URL)
	out := (&http.Request{
		Method:     http.MethodGet,
		URL:        &outURL,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     make(http.Header, len(r.Header)+4),
		Host:       r.Host,
	}).WithContext(r.Context())
	for k, vv := range r.Header {
		switch k {
		case ":protocol", "Connection", "Upgrade", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding",
			"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto":
			continue
		}
		out.Header[k] = vv
	}
	out.Header["Connection"] = []string{"Upgrade"}
	out.Header["Upgrade"] = []string{"websocket"}
	out.Header["Sec-Websocket-Key"] = []string{key}
	if out.Header.Get("Sec-Websocket-Version") == "" {
		out.Header["Sec-Websocket-Version"] = []string{"13"}
	}
	setForwarded(out.Header, r)
	p.act.Store(time.Now().UnixNano())

	res, err := p.u.transport.RoundTrip(out)
	if err != nil {
		p.errorHandler(w, r, err)
		return
	}
	if res.StatusCode != http.StatusSwitchingProtocols {
		// The upstream refused the upgrade (say, 403): pass its answer on.
		defer res.Body.Close()
		for k, vv := range res.Header {
			w.Header()[k] = vv
		}
		w.WriteHeader(res.StatusCode)
		buf := p.u.pool.Get()
		_, _ = io.CopyBuffer(w, res.Body, buf)
		p.u.pool.Put(buf)
		return
	}
	backConn, ok := res.Body.(io.ReadWriteCloser)
	sum := sha1.Sum([]byte(key + websocketGUID))
	if !ok || res.Header.Get("Sec-Websocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]) {
		res.Body.Close()
		p.errorHandler(w, r, errors.New("upstream answered the websocket upgrade with a wrong Sec-WebSocket-Accept"))
		return
	}
	defer backConn.Close()
	conn := &activityConn{ReadWriteCloser: backConn, act: p.act}
	for _, k := range []string{"Sec-Websocket-Protocol", "Sec-Websocket-Extensions"} {
		if v, ok := res.Header[k]; ok {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if err := rc.Flush(); err != nil {
		return
	}

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		buf := p.u.pool.Get()
		_, _ = io.CopyBuffer(conn, r.Body, buf)
		p.u.pool.Put(buf)
		cancel()
	}()
	go func() {
		<-ctx.Done()
		conn.Close() // unblocks the read below when the client side ends
	}()
	buf := p.u.pool.Get()
	defer p.u.pool.Put(buf)
	for {
		n, err := conn.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			if rc.Flush() != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
