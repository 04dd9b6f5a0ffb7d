package edge

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/classhub/terraform-provider-jhub/internal/edgeconfig"
)

// TestReloadKeepsConnections: an open websocket and an event stream in
// flight survive route changes, a good reload and a rejected one.
func TestReloadKeepsConnections(t *testing.T) {
	ws := echoServer(t)
	events := make(chan string)
	sse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.(http.Flusher).Flush()
		for {
			select {
			case ev := <-events:
				if _, err := fmt.Fprintf(w, "data: %s\n\n", ev); err != nil {
					return
				}
				w.(http.Flusher).Flush()
			case <-r.Context().Done():
				return
			}
		}
	}))
	defer sse.Close()
	other := newUpstream(t, "other")
	before := newUpstream(t, "before")
	te := startEdge(t, chpConfig(fmt.Sprintf("sites: [{host: other.test, upstream: %q}]\n", before.URL)))
	te.apiDo("POST", "/api/routes/user/alice", fmt.Sprintf(`{"user": "alice", "target": %q, "jupyterhub": true}`, ws.URL))
	te.apiDo("POST", "/api/routes/hub", fmt.Sprintf(`{"hub": true, "target": %q, "jupyterhub": true}`, sse.URL))

	conn := te.dialWS(context.Background(), "wss://hub.test/user/alice/api/kernels/1/channels")
	resp, err := (&http.Client{Transport: te.transport(true)}).Get("https://hub.test/hub/api/users/alice/server/progress")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	stream := bufio.NewReader(resp.Body)
	check := func(step string) {
		t.Helper()
		echo(t, conn, step, "/user/alice/api/kernels/1/channels")
		events <- step
		line, err := readWithin(stream, 5*time.Second)
		if err != nil || line != "data: "+step+"\n" {
			t.Fatalf("%s: event stream gave %q %v", step, line, err)
		}
		if line, err := readWithin(stream, 5*time.Second); err != nil || line != "\n" {
			t.Fatalf("%s: event not ended by a blank line: %q %v", step, line, err)
		}
	}
	check("start")

	// Route changes: the routes these connections came through are replaced and deleted.
	te.apiDo("POST", "/api/routes/user/alice", fmt.Sprintf(`{"user": "alice", "target": %q, "jupyterhub": true}`, other.URL))
	te.apiDo("DELETE", "/api/routes/hub", "")
	check("after route changes")

	// A good reload through the API points the site elsewhere.
	writeConfig(t, te.dir, chpConfig(fmt.Sprintf("sites: [{host: other.test, upstream: %q}]\n", other.URL)))
	if resp, body := te.apiDo("POST", "/api/reload", ""); resp.StatusCode != 200 {
		t.Fatalf("reload: %d %s", resp.StatusCode, body)
	}
	if _, body := mustGet(t, te.client(), "https://other.test/x"); body != "other /x" {
		t.Errorf("site after reload: %q", body)
	}
	check("after reload")

	// A broken file is rejected, logged, and the old config keeps serving.
	writeConfig(t, te.dir, chpConfig("sites: [{host: broken.test, static: {root: /does/not/exist}}]\n"))
	resp2, body := te.apiDo("POST", "/api/reload", "")
	if resp2.StatusCode != 400 || !strings.Contains(body, "sites[0].static.root: directory /does/not/exist does not exist") {
		t.Errorf("bad reload: %d %s", resp2.StatusCode, body)
	}
	if err := te.srv.ReloadFile(); err == nil {
		t.Error("ReloadFile accepted a broken file")
	}
	if !strings.Contains(te.logs.String(), "config reload rejected") {
		t.Error("rejected reload was not logged")
	}
	if _, body := mustGet(t, te.client(), "https://other.test/y"); body != "other /y" {
		t.Errorf("old config no longer serving: %q", body)
	}
	check("after rejected reload")
	conn.Close(1000, "")
}

// TestLargeUploadStreamed sends a 200 MiB body through the edge, over
// HTTP/1.1 and HTTP/2, under the default slow-body limits, to an upstream that only counts bytes,
// sampling the heap while it flows: a buffering proxy would hold the whole
// body.
func TestLargeUploadStreamed(t *testing.T) {
	size := int64(200 << 20)
	if testing.Short() {
		size = 64 << 20
	}
	var got atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		got.Store(n)
	}))
	defer up.Close()
	te := startEdge(t, fmt.Sprintf("hub: {hosts: [hub.test], mode: upstream, upstream: %q}\n", up.URL))
	if lim := te.srv.limits; lim.BodyTimeout != edgeconfig.DefaultBodyTimeout || lim.BodyMinRate != edgeconfig.DefaultBodyMinRate {
		t.Fatalf("limits %+v, want the defaults", lim)
	}

	for _, h2 := range []bool{false, true} {
		t.Run(protoName(h2), func(t *testing.T) { uploadWatchingHeap(t, te, h2, size, &got) })
	}
}

func uploadWatchingHeap(t *testing.T, te *testEdge, h2 bool, size int64, got *atomic.Int64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
		}
	}()
	req, _ := http.NewRequest("POST", "https://hub.test/user/alice/api/contents/big.bin", io.LimitReader(zeroReader{}, size))
	req.ContentLength = size
	resp, err := (&http.Client{Transport: te.transport(h2)}).Do(req)
	close(stop)
	<-sampled
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if h2 != (resp.ProtoMajor == 2) {
		t.Fatalf("protocol %s, wanted h2=%v", resp.Proto, h2)
	}
	if got.Load() != size {
		t.Fatalf("upstream got %d bytes, want %d", got.Load(), size)
	}
	if growth := int64(peak.Load()) - int64(base); growth > 32<<20 {
		t.Errorf("heap grew by %d MiB while streaming %d MiB: the body is being buffered", growth>>20, size>>20)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestLoadConfigNamesFile: errors name the file and the field.
func TestLoadConfigNamesFile(t *testing.T) {
	dir := prepareDir(t)
	p := writeConfig(t, dir, "hub: {hosts: [hub.test], mode: chp-api, api_token_file: /nope}\n")
	_, err := edgeconfig.LoadConfig(p)
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "hub.api_token_file: token file /nope does not exist") {
		t.Errorf("LoadConfig error %v: want the file name and the field", err)
	}
	if _, err := edgeconfig.LoadConfig(dir + "/missing.yaml"); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
}
