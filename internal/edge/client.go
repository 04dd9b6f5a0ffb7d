package edge

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// clientKey names the client behind an address for per-client limits (the
// connection cap, login throttling). It is always the TCP peer: the edge is
// the outermost hop, and X-Forwarded-For is the edge's to write, never to
// read. An IPv6 client counts as its /64, the smallest block a subscriber
// is given, so that rotating through it does not make a new client.
func clientKey(a netip.Addr) string {
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// remoteKey is clientKey for an http.Request's RemoteAddr ("ip:port").
func remoteKey(remoteAddr string) string {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	return clientKey(ap.Addr())
}

// refusedLogEvery spaces the warnings about refused connections: a client
// hammering the cap must not flood the journal.
const refusedLogEvery = 10 * time.Second

// connCap counts open connections per client across the HTTP and HTTPS
// listeners and refuses connections beyond max right after accept, before
// any TLS handshake, so a refusal costs one accept and one close.
type connCap struct {
	max int
	log *slog.Logger

	mu       sync.Mutex
	open     map[string]int
	lastLog  time.Time
	unlogged int // refusals since the last warning, from any client
}

func newConnCap(limit int, log *slog.Logger) *connCap {
	return &connCap{max: limit, log: log, open: map[string]int{}}
}

func (c *connCap) wrap(ln net.Listener) net.Listener { return &cappedListener{Listener: ln, cap: c} }

type cappedListener struct {
	net.Listener
	cap *connCap
}

func (l *cappedListener) Accept() (net.Conn, error) {
	for {
		conn, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key := connKey(conn.RemoteAddr())
		if l.cap.admit(key) {
			return &cappedConn{Conn: conn, cap: l.cap, key: key}, nil
		}
		_ = conn.Close()
	}
}

func connKey(a net.Addr) string {
	if t, ok := a.(*net.TCPAddr); ok {
		return clientKey(t.AddrPort().Addr())
	}
	return a.String()
}

// admit counts a new connection from key, or reports that it must be
// refused (and logs that, at most every refusedLogEvery).
func (c *connCap) admit(key string) bool {
	c.mu.Lock()
	if c.open[key] < c.max {
		c.open[key]++
		c.mu.Unlock()
		return true
	}
	c.unlogged++
	now := time.Now()
	if now.Sub(c.lastLog) < refusedLogEvery {
		c.mu.Unlock()
		return false
	}
	refused := c.unlogged
	c.lastLog, c.unlogged = now, 0
	c.mu.Unlock()
	c.log.Warn("connections refused: a client address reached limits.max_conns_per_client",
		"client", key, "limit", c.max, "refused", refused, "period", refusedLogEvery.String())
	return false
}

func (c *connCap) release(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open[key]--; c.open[key] <= 0 {
		delete(c.open, key)
	}
}

// cappedConn gives its slot back once, on the first Close.
type cappedConn struct {
	net.Conn
	cap  *connCap
	key  string
	once sync.Once
}

func (c *cappedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.cap.release(c.key) })
	return err
}
