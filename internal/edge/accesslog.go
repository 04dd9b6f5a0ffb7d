package edge

import (
	"bufio"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// logWriter records status, size and upstream for the access log. It is
// pooled; ReverseProxy reaches Flush and Hijack through it.
type logWriter struct {
	http.ResponseWriter
	status   int
	bytes    int64
	upstream string
}

var logWriterPool = sync.Pool{New: func() any { return new(logWriter) }}

func newLogWriter(w http.ResponseWriter) *logWriter {
	lw := logWriterPool.Get().(*logWriter)
	*lw = logWriter{ResponseWriter: w}
	return lw
}

func (l *logWriter) WriteHeader(code int) {
	if l.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		l.status = code
	}
	l.ResponseWriter.WriteHeader(code)
}

func (l *logWriter) Write(b []byte) (int, error) {
	if l.status == 0 {
		l.status = http.StatusOK
	}
	n, err := l.ResponseWriter.Write(b)
	l.bytes += int64(n)
	return n, err
}

func (l *logWriter) Flush() {
	if f, ok := l.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack marks the request as upgraded: ReverseProxy writes the 101
// straight to the connection.
func (l *logWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	l.status = http.StatusSwitchingProtocols
	return http.NewResponseController(l.ResponseWriter).Hijack()
}

func (l *logWriter) Unwrap() http.ResponseWriter { return l.ResponseWriter }

// logAccess writes one JSON line. Headers are never logged (they carry
// Authorization and cookies) and secrets in the query string are redacted.
func (s *Server) logAccess(lw *logWriter, r *http.Request, start time.Time) {
	status := lw.status
	if status == 0 {
		status = http.StatusOK
	}
	attrs := [...]slog.Attr{
		slog.String("method", r.Method),
		slog.String("host", r.Host),
		slog.String("path", r.URL.Path),
		slog.String("query", redactQuery(r.URL.RawQuery)),
		slog.Int("status", status),
		slog.Int64("bytes", lw.bytes),
		slog.Duration("duration", time.Since(start)),
		slog.String("upstream", lw.upstream),
		slog.String("remote", clientIP(r.RemoteAddr)),
		slog.String("proto", r.Proto),
	}
	s.access.LogAttrs(context.Background(), slog.LevelInfo, "request", attrs[:]...)
	*lw = logWriter{}
	logWriterPool.Put(lw)
}

// redactQuery hides the value of every parameter whose name mentions
// "token" (token=, access_token=, auth_token=...) and of OAuth's code and
// state (a code is a login until redeemed), keeping the rest intact.
func redactQuery(q string) string {
	if q == "" {
		return q
	}
	parts := strings.Split(q, "&")
	for i, p := range parts {
		k, _, hasValue := strings.Cut(p, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			name = k
		}
		name = strings.ToLower(name)
		if hasValue && (strings.Contains(name, "token") || name == "code" || name == "state") {
			parts[i] = k + "=REDACTED"
		}
	}
	return strings.Join(parts, "&")
}
