package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// A minimal RFC 6455 implementation: enough for an echo server and a load
// generator, with nothing in the way of measuring the proxy (no
// fragmentation, no extensions, unmasked server frames, masked client frames).

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

const (
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xA
)

func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// writeFrame writes one final frame; a non-nil mask masks the payload in place.
func writeFrame(w *bufio.Writer, op byte, payload []byte, mask []byte) error {
	hdr := make([]byte, 0, 14)
	hdr = append(hdr, 0x80|op)
	var mbit byte
	if mask != nil {
		mbit = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		hdr = append(hdr, mbit|byte(n))
	case n <= 0xFFFF:
		hdr = append(hdr, mbit|126)
		hdr = binary.BigEndian.AppendUint16(hdr, uint16(n))
	default:
		hdr = append(hdr, mbit|127)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	if mask != nil {
		hdr = append(hdr, mask...)
		for i := range payload {
			payload[i] ^= mask[i&3]
		}
	}
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	if _, err := w.Write(payload); err != nil {
		return err
	}
	return w.Flush()
}

// readFrame reads one frame into buf (grown as needed), unmasking it.
func readFrame(r *bufio.Reader, buf []byte) (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err = io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	if h[0]&0x80 == 0 {
		return 0, nil, errors.New("fragmented websocket frames are not supported by this benchmark")
	}
	op = h[0] & 0x0F
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		var e [2]byte
		if _, err = io.ReadFull(r, e[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(e[:]))
	case 127:
		var e [8]byte
		if _, err = io.ReadFull(r, e[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(e[:])
	}
	if n > 1<<24 {
		return 0, nil, fmt.Errorf("websocket frame of %d bytes is larger than this benchmark uses", n)
	}
	var mask [4]byte
	masked := h[1]&0x80 != 0
	if masked {
		if _, err = io.ReadFull(r, mask[:]); err != nil {
			return 0, nil, err
		}
	}
	if uint64(cap(buf)) < n {
		buf = make([]byte, n)
	}
	payload = buf[:n]
	if _, err = io.ReadFull(r, payload); err != nil {
		return 0, nil, err
	}
	if masked {
		for i := range payload {
			payload[i] ^= mask[i&3]
		}
	}
	return op, payload, nil
}

// wsEcho upgrades the request and echoes every data frame back.
func wsEcho(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || r.Header.Get("Sec-WebSocket-Key") == "" {
		http.Error(w, "websocket upgrade expected", http.StatusBadRequest)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	// The server side of an echo: the client sees any failure as a broken
	// websocket, so errors end the loop and nothing else.
	defer func() { _ = conn.Close() }()
	if _, err := fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", wsAccept(r.Header.Get("Sec-WebSocket-Key"))); err != nil || brw.Flush() != nil {
		return
	}
	buf := make([]byte, 4096)
	for {
		op, p, err := readFrame(brw.Reader, buf)
		if err != nil {
			return
		}
		switch op {
		case opClose:
			_ = writeFrame(brw.Writer, opClose, p, nil) // the client is closing anyway
			return
		case opPing:
			op = opPong
		}
		if writeFrame(brw.Writer, op, p, nil) != nil {
			return
		}
	}
}

// wsConn is the client side of one websocket.
type wsConn struct {
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
	mask [4]byte
}

// dialWS opens a websocket over HTTP/1.1 (ws:// or wss://); certificates are
// not verified, the benchmark uses a throw-away self-signed one.
func dialWS(rawURL string, timeout time.Duration) (*wsConn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	d := &net.Dialer{Timeout: timeout}
	var conn net.Conn
	switch u.Scheme {
	case "ws":
		conn, err = d.Dial("tcp", u.Host)
	case "wss":
		conn, err = tls.DialWithDialer(d, "tcp", u.Host, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	default:
		return nil, fmt.Errorf("%s: scheme must be ws or wss", rawURL)
	}
	if err != nil {
		return nil, err
	}
	c := &wsConn{conn: conn, r: bufio.NewReaderSize(conn, 4096), w: bufio.NewWriterSize(conn, 4096)}
	var k [16]byte
	rand.Read(k[:])
	rand.Read(c.mask[:])
	key := base64.StdEncoding.EncodeToString(k[:])
	origin := "http://" + u.Host
	if u.Scheme == "wss" {
		origin = "https://" + u.Host
	}
	// On failure the connection is dropped and the handshake's error is the
	// one worth reporting.
	fail := func(err error) (*wsConn, error) {
		_ = conn.Close()
		return nil, err
	}
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return fail(err)
	}
	// A bufio.Writer keeps its first error and Flush returns it.
	_, _ = fmt.Fprintf(c.w, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nOrigin: %s\r\n\r\n", u.RequestURI(), u.Host, key, origin)
	if err := c.w.Flush(); err != nil {
		return fail(err)
	}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		return fail(err)
	}
	_ = resp.Body.Close() // a 101 has no body; a refusal's is not read
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != wsAccept(key) {
		return fail(fmt.Errorf("%s: websocket upgrade refused: %s", rawURL, resp.Status))
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		return fail(err)
	}
	return c, nil
}

// roundTrip sends msg and checks that the same bytes come back. scratch
// (len(msg)) holds the masked copy, buf receives the echo.
func (c *wsConn) roundTrip(msg, scratch, buf []byte) ([]byte, error) {
	copy(scratch, msg)
	if err := writeFrame(c.w, opBinary, scratch, c.mask[:]); err != nil {
		return buf, err
	}
	op, p, err := readFrame(c.r, buf)
	if err != nil {
		return buf, err
	}
	if op != opBinary || !bytes.Equal(p, msg) {
		return p, fmt.Errorf("echo mismatch: opcode %d, %d bytes, want %d", op, len(p), len(msg))
	}
	return p, nil
}
