package lab

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// The droplets have no route out, yet the payload runs `apt-get update` and
// installs packages. The lab serves the host's own Debian archives to them
// (a pass-through mirror at the gateway), so apt checks real signed indices,
// and the image already holds every package the payload installs, so the
// install step is a no-op. Mirror addresses are never written down: they come
// from the host's apt sources.

// aptSources maps each suite in the host's deb822 sources to its first URI.
func aptSources(glob string) (map[string]string, error) {
	files, _ := filepath.Glob(glob)
	out := map[string]string{}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return nil, fmt.Errorf("lab: reading apt sources: %w", err)
		}
		var uri string
		var suites []string
		flush := func() {
			for _, s := range suites {
				if _, seen := out[s]; !seen && uri != "" {
					out[s] = uri
				}
			}
			uri, suites = "", nil
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			line := sc.Text()
			if strings.TrimSpace(line) == "" {
				flush()
				continue
			}
			if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, "#") {
				switch strings.ToLower(strings.TrimSpace(k)) {
				case "uris":
					if f := strings.Fields(v); len(f) > 0 {
						uri = f[0]
					}
				case "suites":
					suites = strings.Fields(v)
				}
			}
		}
		flush()
		fh.Close()
	}
	return out, nil
}

// aptMirror proxies /debian/ and /debian-security/ to the host's archives
// for suites bookworm and bookworm-security.
func aptMirror(sources map[string]string) (http.Handler, error) {
	mux := http.NewServeMux()
	for path, suite := range map[string]string{"/debian/": "bookworm", "/debian-security/": "bookworm-security"} {
		raw, ok := sources[suite]
		if !ok {
			return nil, fmt.Errorf("lab: the host's apt sources (/etc/apt/sources.list.d/*.sources) have no %s suite; add one so the lab can serve it to droplets", suite)
		}
		u, err := url.Parse(strings.TrimSuffix(raw, "/") + "/")
		if err != nil {
			return nil, fmt.Errorf("lab: apt source %q: %w", raw, err)
		}
		prefix := path
		proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme, r.Out.URL.Host = u.Scheme, u.Host
			r.Out.URL.Path = u.Path + strings.TrimPrefix(r.In.URL.Path, prefix)
			r.Out.URL.RawPath = ""
			r.Out.Host = u.Host
		}}
		mux.Handle(path, proxy)
	}
	return mux, nil
}
