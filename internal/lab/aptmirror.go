package lab

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The droplets have no route out, yet the payload runs `apt-get update` and
// installs packages. The lab serves the host's own Debian archives to them
// (a pass-through mirror at the gateway), so apt checks real signed indices
// and any package installs for real. The image already holds every package
// the payload installs, so the payload's install step is a no-op. Mirror
// addresses are never written down: they come from the host's apt sources.

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
		err = sc.Err()
		_ = fh.Close() // read only
		if err != nil {
			return nil, fmt.Errorf("lab: reading apt sources %s: %w", f, err)
		}
	}
	return out, nil
}

// hostSuite is the codename of the host's own Debian release.
func hostSuite() string {
	b, _ := os.ReadFile("/etc/os-release")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VERSION_CODENAME="); ok {
			return strings.Trim(v, `"'`)
		}
	}
	return ""
}

// aptMirror proxies /debian/ and /debian-security/ to the host's archives
// for the image's suites (ImageSuite and its -security suite), keeping
// by-hash index files and packages in cacheDir. A host of another release (hostSuite)
// has no source for them, but Debian serves every release from one archive:
// the source of the host's own suite serves the image's too.
func aptMirror(sources map[string]string, hostSuite, cacheDir string) (http.Handler, error) {
	mux := http.NewServeMux()
	for path, suffix := range map[string]string{"/debian/": "", "/debian-security/": "-security"} {
		raw, ok := sources[ImageSuite+suffix]
		if !ok {
			raw, ok = sources[hostSuite+suffix]
		}
		if !ok {
			return nil, fmt.Errorf("lab: the host's apt sources (/etc/apt/sources.list.d/*.sources) have neither a %s nor a %s suite; add one so the lab can serve the archive to droplets", ImageSuite+suffix, hostSuite+suffix)
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
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("lab: apt cache: %w", err)
	}
	return archiveCache{dir: cacheDir, next: mux}, nil
}

// archiveCache keeps on disk what never changes under its name: the
// archive's content-addressed index files (…/by-hash/SHA256/<sum>, which apt
// fetches for Debian's archives) and packages (…/pool/…/<name>_<version>_<arch>.deb,
// which the archive never replaces). A cached copy is never stale: later
// boots and later labs fetch only the small InRelease files from the archive.
type archiveCache struct {
	dir  string
	next http.Handler
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// cacheName is the file a request is kept in, and the hash its content must
// have ("" for a package, which apt checks against the signed index itself).
func cacheName(urlPath string) (name, wantSum string, ok bool) {
	if _, sum, ok := strings.Cut(urlPath, "/by-hash/SHA256/"); ok && sha256Hex.MatchString(sum) {
		return sum, sum, true
	}
	if strings.Contains(urlPath, "/pool/") && strings.HasSuffix(urlPath, ".deb") {
		h := sha256.Sum256([]byte(urlPath))
		return "deb-" + hex.EncodeToString(h[:]), "", true
	}
	return "", "", false
}

func (c archiveCache) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, sum, ok := cacheName(r.URL.Path)
	if r.Method != http.MethodGet || !ok {
		c.next.ServeHTTP(w, r)
		return
	}
	path := filepath.Join(c.dir, name)
	if f, err := os.Open(path); err == nil {
		defer func() { _ = f.Close() }() // read only
		http.ServeContent(w, r, "", time.Time{}, f)
		return
	}
	tmp, err := os.CreateTemp(c.dir, ".fetch-*")
	if err != nil {
		c.next.ServeHTTP(w, r)
		return
	}
	// After the rename there is nothing to remove; a .fetch-* file left
	// behind is never served.
	defer func() { _ = os.Remove(tmp.Name()) }()
	tw := &teeWriter{ResponseWriter: w, h: sha256.New(), f: tmp}
	c.next.ServeHTTP(tw, r)
	// Kept only if complete, on disk, and really the content its name promises.
	complete := tw.status == http.StatusOK && tw.err == nil && tw.Header().Get("Content-Length") == strconv.FormatInt(tw.n, 10)
	if err := tmp.Close(); err != nil {
		complete = false
	}
	if complete && (sum == "" || hex.EncodeToString(tw.h.Sum(nil)) == sum) {
		// The response is sent; uncached, the next request fetches it again.
		_ = os.Rename(tmp.Name(), path)
	}
}

// teeWriter copies a response body to a file and a hash as it is sent.
type teeWriter struct {
	http.ResponseWriter
	status int
	h      hash.Hash
	f      *os.File
	n      int64
	err    error
}

func (t *teeWriter) WriteHeader(code int) {
	t.status = code
	t.ResponseWriter.WriteHeader(code)
}

func (t *teeWriter) Write(b []byte) (int, error) {
	if t.status == 0 {
		t.status = http.StatusOK
	}
	if t.err == nil {
		t.h.Write(b)
		_, t.err = t.f.Write(b)
		t.n += int64(len(b))
	}
	return t.ResponseWriter.Write(b)
}
