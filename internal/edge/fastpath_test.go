package edge

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"sync/atomic"
	"testing"
	"time"
)

// countingUpstream counts the TCP connections the edge opens to it.
func countingUpstream(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var conns atomic.Int32
	up := httptest.NewUnstartedServer(h)
	up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	up.Start()
	t.Cleanup(up.Close)
	return up, &conns
}

func hubAt(up *httptest.Server) string {
	return fmt.Sprintf("hub: {hosts: [hub.test], mode: upstream, upstream: %q}\n", up.URL)
}

func TestFastPathKeepsUpstreamConnectionsAlive(t *testing.T) {
	up, conns := countingUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok "+r.URL.RequestURI())
	})
	te := startEdge(t, hubAt(up))
	c := te.client()
	for i := range 20 {
		_, body := mustGet(t, c, fmt.Sprintf("https://hub.test/hub/api?i=%d", i))
		if want := fmt.Sprintf("ok /hub/api?i=%d", i); body != want {
			t.Fatalf("body %q, want %q", body, want)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("20 sequential requests took %d upstream connections, want 1 kept alive", n)
	}
}

func TestFastPathRetriesAConnectionTheUpstreamClosedWhileIdle(t *testing.T) {
	up, conns := countingUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	})
	te := startEdge(t, hubAt(up))
	c := te.client()
	mustGet(t, c, "https://hub.test/hub/api")
	// The upstream (a restarted hub, say) drops the idle keep-alive
	// connection without a word; the next request must not see a 502.
	up.CloseClientConnections()
	resp, body := mustGet(t, c, "https://hub.test/hub/api")
	if resp.StatusCode != http.StatusOK || body != "ok" {
		t.Fatalf("after the upstream closed its idle connection: %s %q, want 200 ok", resp.Status, body)
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("upstream saw %d connections, want 2 (the dropped one and its replacement)", n)
	}
}

func TestFastPathHonoursConnectionCloseFromTheUpstream(t *testing.T) {
	up, conns := countingUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		_, _ = io.WriteString(w, "bye")
	})
	te := startEdge(t, hubAt(up))
	c := te.client()
	for range 3 {
		resp, body := mustGet(t, c, "https://hub.test/hub/api")
		if body != "bye" || resp.Header.Get("Connection") != "" {
			t.Fatalf("body %q, Connection %q: want bye and no hop-by-hop header", body, resp.Header.Get("Connection"))
		}
	}
	if n := conns.Load(); n != 3 {
		t.Errorf("upstream saw %d connections for 3 requests it closed, want 3", n)
	}
}

func TestFastPathStopsWaitingWhenTheClientLeaves(t *testing.T) {
	gone := make(chan struct{})
	up, _ := countingUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // a long poll that never answers
		close(gone)
	})
	te := startEdge(t, hubAt(up))
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://hub.test/hub/api/wait", nil)
	go func() {
		time.Sleep(300 * time.Millisecond)
		cancel()
	}()
	if resp, err := te.client().Do(req); err == nil {
		_ = resp.Body.Close()
		t.Fatalf("got %s, want the request cancelled", resp.Status)
	}
	select {
	case <-gone:
	case <-time.After(10 * time.Second):
		t.Fatal("the upstream connection stayed open after the client left")
	}
}

func TestFastPathHeadTrailersAndEarlyHints(t *testing.T) {
	up, _ := countingUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hub/hints":
			w.Header().Set("Link", "</hub/static/style.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Del("Link") // for the 103 only
			_, _ = io.WriteString(w, "page")
		case "/hub/trailer":
			w.Header().Set("Trailer", "X-Checksum")
			_, _ = io.WriteString(w, "streamed")
			w.(http.Flusher).Flush()
			w.Header().Set("X-Checksum", "abc")
		default:
			w.Header().Set("Content-Length", "5")
			if r.Method != http.MethodHead {
				_, _ = io.WriteString(w, "hello")
			}
		}
	})
	te := startEdge(t, hubAt(up))
	c := te.client()

	resp, err := c.Head("https://hub.test/hub/file")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ContentLength != 5 {
		t.Errorf("HEAD: %s, Content-Length %d; want 200 and 5", resp.Status, resp.ContentLength)
	}
	// The connection still works after a HEAD (no body was expected).
	if _, body := mustGet(t, c, "https://hub.test/hub/file"); body != "hello" {
		t.Errorf("GET after HEAD: %q, want hello", body)
	}

	resp, body := mustGet(t, c, "https://hub.test/hub/trailer")
	if body != "streamed" || resp.Trailer.Get("X-Checksum") != "abc" {
		t.Errorf("trailer: body %q, trailers %v; want streamed and X-Checksum: abc", body, resp.Trailer)
	}

	var hints []textproto.MIMEHeader
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		if code == http.StatusEarlyHints {
			hints = append(hints, h)
		}
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, "https://hub.test/hub/hints", nil)
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if string(page) != "page" || len(hints) != 1 || hints[0].Get("Link") == "" {
		t.Errorf("early hints: body %q, 103s %v; want page and one 103 with its Link", page, hints)
	}
	if resp.Header.Get("Strict-Transport-Security") == "" || resp.Header.Get("Link") != "" {
		t.Errorf("answer after a 103: headers %v; want the edge's HSTS kept and the 103's Link gone", resp.Header)
	}
}
