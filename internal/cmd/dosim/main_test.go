package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
)

func TestServesAndPrintsEnvironment(t *testing.T) {
	outR, outW := io.Pipe()
	var stderr bytes.Buffer
	stop := make(chan os.Signal, 1)
	done := make(chan error, 1)
	go func() {
		done <- run([]string{"-listen", "127.0.0.1:0", "-token", "tok-123", "-active-delay", "10ms"}, outW, &stderr, stop)
		_ = outW.Close()
	}()
	sc := bufio.NewScanner(outR)
	env := map[string]string{}
	for len(env) < 2 && sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		env[k] = v
	}
	go io.Copy(io.Discard, outR) //nolint:errcheck // drain
	url := env["DIGITALOCEAN_API_URL"]
	if !strings.HasPrefix(url, "http://127.0.0.1:") || env["DIGITALOCEAN_TOKEN"] != "tok-123" {
		t.Fatalf("printed %v", env)
	}
	req, _ := http.NewRequest(http.MethodGet, url+"/v2/account", nil)
	req.Header.Set("Authorization", "Bearer tok-123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]map[string]any
	err = json.NewDecoder(resp.Body).Decode(&body)
	_ = resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || body["account"]["status"] != "active" {
		t.Fatalf("GET /v2/account: %d %v %v", resp.StatusCode, body, err)
	}
	stop <- syscall.SIGTERM
	if err := <-done; err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
}

func TestBadFlags(t *testing.T) {
	var stderr bytes.Buffer
	err := run([]string{"-ipv4-pool", "not-a-prefix"}, io.Discard, &stderr, nil)
	if err == nil || !strings.Contains(err.Error(), "-ipv4-pool") {
		t.Errorf("bad pool: %v", err)
	}
}
