package edge

import (
	"errors"
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
	dialer    *net.Dialer
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
		log:    log,
		dialer: dialer,
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
			// Read/WriteBufferSize stay at 4 KiB: an upgraded connection keeps
			// both buffers for its whole life, and bulk copies bypass them.
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
	if r.ProtoMajor == 1 {
		if up := upgradeType(r.Header); up != "" {
			p.serveUpgrade(w, r, up)
			return
		}
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
	return nil
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
