package lab

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"
)

// ServeTLS serves h over HTTPS on the gateway's port, where droplets reach
// it, with a certificate for the gateway address from a CA made for this
// service (as Pebble's endpoint has). It returns the base URL and the CA
// (PEM) a droplet must be told to trust; the lab stops it on Close. Tests
// run stand-ins for outside services with it (an OpenID provider, GitHub).
func (l *Lab) ServeTLS(port int, h http.Handler) (baseURL string, caPEM []byte, err error) {
	gw := l.slot.gateway4()
	caPEM, certPEM, keyPEM, err := listenerCert(gw)
	if err != nil {
		return "", nil, fmt.Errorf("lab: certificate for %s:%d: %w", gw, port, err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return "", nil, fmt.Errorf("lab: certificate for %s:%d: %w", gw, port, err)
	}
	addr := net.JoinHostPort(gw.String(), strconv.Itoa(port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("lab: listening on %s: %w", addr, err)
	}
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	l.mu.Lock()
	l.http = append(l.http, srv)
	l.mu.Unlock()
	go func() {
		if err := srv.ServeTLS(ln, "", ""); !errors.Is(err, http.ErrServerClosed) {
			l.opts.Logf("lab %d: server on %s stopped: %v", l.slot, addr, err)
		}
	}()
	return "https://" + addr, caPEM, nil
}
