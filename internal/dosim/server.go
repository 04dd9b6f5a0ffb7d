// Package dosim is an in-memory DigitalOcean API v2: account, SSH keys,
// domains and records, droplets, droplet actions and actions, sizes, tags,
// block storage volumes with their actions and snapshots, with the real API's semantics (pagination, rate-limit headers, error
// bodies, 401, 422), faults on demand, and every request and response
// checked against DigitalOcean's published OpenAPI spec.
//
// In a test:
//
//	sim := dosim.NewTest(t, dosim.Options{Token: "tok", ActiveAfter: 300 * time.Millisecond})
//	sim.Faults().RateLimit(2, time.Second)
//	// point godo (or the provider) at sim.URL() with token "tok"
//
// NewTest fails the test at cleanup if any exchange broke the spec. A
// Backend turns droplets into real machines (the lab); the default one only
// waits ActiveAfter; a Backend that is also a VolumeBackend gives volumes
// real storage. Snapshots (Droplet, Droplets, Domains, Records, SSHKeys)
// serve assertions, the lab's DNS server and its metadata service.
package dosim

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configure a Server. The zero value is usable.
type Options struct {
	// Token is the bearer token the API accepts; others get 401. Empty: a
	// random token, see Server.Token.
	Token string
	// ActiveAfter is how long the default backend takes for a droplet to
	// boot (status new -> active) and for each droplet action.
	ActiveAfter time.Duration
	// IPv4Pool hands out droplet addresses; default 198.18.0.0/15. The
	// network address and the gateway (the first host) are never given out.
	IPv4Pool netip.Prefix
	// IPv6Pool hands out droplet IPv6 addresses (/64 each is not modelled:
	// one address per droplet); default 2001:db8:d0::/64.
	IPv6Pool netip.Prefix
	// Backend runs the machines; nil = a backend that only waits ActiveAfter.
	Backend Backend
	// SpecPath is DigitalOcean-public.v2.yaml; "" = FindSpec. No spec:
	// conformance is off, except with CI=true where New fails.
	SpecPath string
	// Logf receives one line per request and notes; nil = silent.
	Logf func(format string, args ...any)
}

// Rate-limit figures the API advertises (DigitalOcean: 5000 per hour).
const rateLimit = 5000

// MaxUserData is DigitalOcean's limit for user_data.
const MaxUserData = 64 << 10

// Server is one simulated DigitalOcean account.
type Server struct {
	opts    Options
	backend Backend
	checker *checker // nil: conformance off
	faults  *Faults
	mux     *http.ServeMux
	ctx     context.Context // ends at Close; machine operations derive from it
	cancel  context.CancelFunc
	work    sync.WaitGroup // machine operations in flight

	mu         sync.Mutex
	seq        map[string]int
	keys       map[int]*sshKey
	domains    map[string]*domain
	droplets   map[int]*droplet
	tags       map[string]*tag
	actions    map[int]*action
	volumes    map[string]*volume
	snapshots  map[string]*volumeSnapshot // volume snapshots by ID
	ipv4Next   netip.Addr
	ipv6Next   netip.Addr
	violations []string
	checked    int
	requests   int
	tamper     func(r *http.Request, body []byte) []byte // test hook: rewrites a response body before it is checked

	httpSrv *http.Server
	url     string
}

// New builds a server; Start or Handler serve it.
func New(opts Options) (*Server, error) {
	if opts.Token == "" {
		opts.Token = randomHex(32)
	}
	if !opts.IPv4Pool.IsValid() {
		opts.IPv4Pool = netip.MustParsePrefix("198.18.0.0/15")
	}
	if !opts.IPv6Pool.IsValid() {
		opts.IPv6Pool = netip.MustParsePrefix("2001:db8:d0::/64")
	}
	if !opts.IPv4Pool.Addr().Is4() || opts.IPv4Pool.Bits() > 30 {
		return nil, fmt.Errorf("dosim: IPv4Pool %s: want an IPv4 prefix of /30 or larger", opts.IPv4Pool)
	}
	if opts.IPv6Pool.Addr().Is4() || opts.IPv6Pool.Bits() > 126 {
		return nil, fmt.Errorf("dosim: IPv6Pool %s: want an IPv6 prefix of /126 or larger", opts.IPv6Pool)
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	s := &Server{
		opts:      opts,
		backend:   opts.Backend,
		faults:    &Faults{},
		seq:       map[string]int{},
		keys:      map[int]*sshKey{},
		domains:   map[string]*domain{},
		droplets:  map[int]*droplet{},
		tags:      map[string]*tag{},
		actions:   map[int]*action{},
		volumes:   map[string]*volume{},
		snapshots: map[string]*volumeSnapshot{},
	}
	if s.backend == nil {
		s.backend = sleepBackend{d: opts.ActiveAfter}
	}
	// Skip the network address and the gateway (first host).
	s.ipv4Next = opts.IPv4Pool.Masked().Addr().Next().Next()
	s.ipv6Next = opts.IPv6Pool.Masked().Addr().Next().Next()
	spec := opts.SpecPath
	if spec == "" {
		var err error
		if spec, err = FindSpec(); err != nil {
			if os.Getenv("CI") == "true" {
				return nil, fmt.Errorf("dosim: CI=true requires OpenAPI conformance: %w", err)
			}
			opts.Logf("dosim: %v", err)
		}
	}
	if spec != "" {
		c, err := loadChecker(spec)
		if err != nil {
			return nil, fmt.Errorf("dosim: %w (SpecPath / %s)", err, SpecEnv)
		}
		s.checker = c
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.routes()
	return s, nil
}

// Token is the bearer token the server accepts.
func (s *Server) Token() string { return s.opts.Token }

// Conformance reports whether traffic is checked against the OpenAPI spec.
func (s *Server) Conformance() bool { return s.checker != nil }

// Handler serves the API.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Start listens on 127.0.0.1 on a free port and returns the base URL.
func (s *Server) Start() (string, error) { return s.Listen("127.0.0.1:0") }

// Listen serves on addr (host:port) and returns the base URL.
func (s *Server) Listen(addr string) (string, error) {
	if s.httpSrv != nil {
		return "", errors.New("dosim: server already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("dosim: listen %s: %w", addr, err)
	}
	s.url = "http://" + ln.Addr().String()
	s.httpSrv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go s.httpSrv.Serve(ln) //nolint:errcheck // returns ErrServerClosed at Close
	return s.url, nil
}

// URL is the base URL after Start ("" before).
func (s *Server) URL() string { return s.url }

// Close stops serving, ends machine operations in flight, and destroys every
// droplet that still exists through the backend, so a test leaves no
// machine behind.
func (s *Server) Close() {
	if s.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.httpSrv.Shutdown(ctx)
		cancel()
	}
	s.cancel()
	s.work.Wait()
	s.mu.Lock()
	var ids []int
	for id := range s.droplets {
		ids = append(ids, id)
	}
	s.droplets = map[int]*droplet{}
	s.mu.Unlock()
	for _, id := range ids {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := s.backend.Destroy(ctx, id); err != nil {
			s.opts.Logf("dosim: close: destroy droplet %d: %v", id, err)
		}
		cancel()
	}
	s.closeVolumes()
}

// Faults are the faults to inject into this server's responses.
func (s *Server) Faults() *Faults { return s.faults }

// Violations lists every conformance violation seen so far.
func (s *Server) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.violations...)
}

// Checked is how many request/response pairs were validated against the spec.
func (s *Server) Checked() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.checked
}

// Requests is how many requests the server answered.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

func (s *Server) next(kind string, base int) int {
	s.seq[kind]++
	return base + s.seq[kind]
}

func randomHex(n int) string {
	b := make([]byte, n/2)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}

func requestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// apiError is a DigitalOcean error response.
type apiError struct {
	status  int
	id      string
	message string
}

func (e *apiError) Error() string { return e.message }

func notFound() *apiError {
	return &apiError{http.StatusNotFound, "not_found", "The resource you were accessing could not be found."}
}

func unprocessable(format string, args ...any) *apiError {
	return &apiError{http.StatusUnprocessableEntity, "unprocessable_entity", fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, "bad_request", fmt.Sprintf(format, args...)}
}

// recorder buffers a response so it can be checked before it is sent.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}

type ctxKey struct{}

// reqInfo travels with a request through the handlers.
type reqInfo struct {
	id string
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	info := &reqInfo{id: requestID()}
	r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, info))
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		http.Error(w, "read request: "+err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := &recorder{header: http.Header{}}
	s.dispatch(rec, r)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	s.mu.Lock()
	s.requests++
	remaining := max(rateLimit-s.requests, 0)
	tamper := s.tamper
	s.mu.Unlock()
	h := rec.header
	if h.Get("Ratelimit-Limit") == "" {
		h.Set("Ratelimit-Limit", strconv.Itoa(rateLimit))
		h.Set("Ratelimit-Remaining", strconv.Itoa(remaining))
		h.Set("Ratelimit-Reset", strconv.FormatInt(time.Now().Add(time.Hour).Truncate(time.Hour).Unix(), 10))
	}
	h.Set("X-Request-Id", info.id)
	out := rec.body.Bytes()
	if tamper != nil {
		out = tamper(r, out)
	}
	if s.checker != nil {
		v := s.checker.check(context.Background(), exchange{req: r, reqBody: body, status: rec.status, header: h, body: out})
		s.mu.Lock()
		s.checked++
		s.violations = append(s.violations, v...)
		s.mu.Unlock()
		for _, m := range v {
			s.opts.Logf("dosim: conformance violation: %s", m)
		}
	}
	s.opts.Logf("dosim: %s %s -> %d", r.Method, r.URL.RequestURI(), rec.status)
	for k, vs := range h {
		w.Header()[k] = vs
	}
	w.WriteHeader(rec.status)
	_, _ = w.Write(out)
}

// dispatch applies faults and authentication, then routes.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request) {
	if d := s.faults.latencyFor(r); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}
	if f := s.faults.take(r); f != nil {
		if f.code == http.StatusTooManyRequests {
			reset := time.Now().Add(f.retryAfter)
			secs := int((f.retryAfter + time.Second - 1) / time.Second)
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			w.Header().Set("Ratelimit-Limit", strconv.Itoa(rateLimit))
			w.Header().Set("Ratelimit-Remaining", "0")
			w.Header().Set("Ratelimit-Reset", strconv.FormatInt(reset.Unix(), 10))
			s.writeError(w, r, &apiError{f.code, "too_many_requests", "API Rate limit exceeded."})
			return
		}
		s.writeError(w, r, &apiError{f.code, "server_error", "Unexpected server-side error (injected fault)."})
		return
	}
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "bearer") || tok != s.opts.Token {
		s.writeError(w, r, &apiError{http.StatusUnauthorized, "unauthorized", "Unable to authenticate you."})
		return
	}
	// Unknown routes (and methods) get DigitalOcean's 404 body, not the mux's text.
	if _, pattern := s.mux.Handler(r); pattern == "" {
		s.writeError(w, r, notFound())
		return
	}
	s.mux.ServeHTTP(w, r)
}

// handle registers an API handler: it returns the status and body to send,
// or an *apiError.
func (s *Server) handle(pattern string, f func(r *http.Request) (int, any, error)) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		status, v, err := f(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if v == nil {
			w.WriteHeader(status)
			return
		}
		writeJSON(w, status, v)
	})
}

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	s.handle("GET /v2/account", s.getAccount)
	s.handle("GET /v2/account/keys", s.listKeys)
	s.handle("POST /v2/account/keys", s.createKey)
	s.handle("GET /v2/account/keys/{key}", s.getKey)
	s.handle("PUT /v2/account/keys/{key}", s.updateKey)
	s.handle("DELETE /v2/account/keys/{key}", s.deleteKey)
	s.handle("GET /v2/domains", s.listDomains)
	s.handle("POST /v2/domains", s.createDomain)
	s.handle("GET /v2/domains/{domain}", s.getDomain)
	s.handle("DELETE /v2/domains/{domain}", s.deleteDomain)
	s.handle("GET /v2/domains/{domain}/records", s.listRecords)
	s.handle("POST /v2/domains/{domain}/records", s.createRecord)
	s.handle("GET /v2/domains/{domain}/records/{id}", s.getRecord)
	s.handle("PUT /v2/domains/{domain}/records/{id}", s.updateRecord)
	s.handle("PATCH /v2/domains/{domain}/records/{id}", s.updateRecord)
	s.handle("DELETE /v2/domains/{domain}/records/{id}", s.deleteRecord)
	s.handle("GET /v2/droplets", s.listDroplets)
	s.handle("POST /v2/droplets", s.createDroplet)
	s.handle("GET /v2/droplets/{id}", s.getDroplet)
	s.handle("DELETE /v2/droplets/{id}", s.deleteDroplet)
	s.handle("POST /v2/droplets/{id}/actions", s.postDropletAction)
	s.handle("GET /v2/droplets/{id}/actions", s.listDropletActions)
	s.handle("GET /v2/droplets/{id}/actions/{action}", s.getDropletAction)
	s.handle("GET /v2/actions", s.listActions)
	s.handle("GET /v2/actions/{action}", s.getAction)
	s.handle("GET /v2/sizes", s.listSizes)
	s.handle("GET /v2/tags", s.listTags)
	s.handle("POST /v2/tags", s.createTag)
	s.handle("GET /v2/tags/{tag}", s.getTag)
	s.handle("DELETE /v2/tags/{tag}", s.deleteTag)
	s.handle("POST /v2/tags/{tag}/resources", s.tagResources)
	s.handle("GET /v2/volumes", s.listVolumes)
	s.handle("POST /v2/volumes", s.createVolume)
	s.handle("DELETE /v2/volumes", s.deleteVolumeByName)
	s.handle("POST /v2/volumes/actions", s.postVolumeActionByName)
	// /v2/volumes/snapshots/{snapshot}: written with a wildcard, as a
	// literal "snapshots" would clash with /v2/volumes/{volume}/actions.
	s.handle("GET /v2/volumes/{volume}/{snapshot}", volumeSnapshotsOnly(s.getSnapshot))
	s.handle("DELETE /v2/volumes/{volume}/{snapshot}", volumeSnapshotsOnly(s.deleteSnapshot))
	s.handle("GET /v2/volumes/{volume}", s.getVolume)
	s.handle("DELETE /v2/volumes/{volume}", s.deleteVolume)
	s.handle("GET /v2/volumes/{volume}/actions", s.listVolumeActions)
	s.handle("POST /v2/volumes/{volume}/actions", s.postVolumeAction)
	s.handle("GET /v2/volumes/{volume}/actions/{action}", s.getVolumeAction)
	s.handle("GET /v2/volumes/{volume}/snapshots", s.listVolumeSnapshots)
	s.handle("POST /v2/volumes/{volume}/snapshots", s.createVolumeSnapshot)
	s.handle("GET /v2/snapshots/{snapshot}", s.getSnapshot)
	s.handle("DELETE /v2/snapshots/{snapshot}", s.deleteSnapshot)
	s.handle("DELETE /v2/tags/{tag}/resources", s.tagResources)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(map[string]string{"id": "server_error", "message": "encode response: " + err.Error()}) //nolint:errchkjson // a map of strings always encodes
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = &apiError{http.StatusInternalServerError, "server_error", err.Error()}
	}
	id := ""
	if info, ok := r.Context().Value(ctxKey{}).(*reqInfo); ok {
		id = info.id
	}
	writeJSON(w, ae.status, map[string]string{"id": ae.id, "message": ae.message, "request_id": id})
}

// decode reads a JSON request body into v.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		return badRequest("The request body is not valid JSON: %v", err)
	}
	return nil
}

// pathInt parses an integer path segment; a non-number is 404 like DO.
func pathInt(r *http.Request, name string) (int, error) {
	n, err := strconv.Atoi(r.PathValue(name))
	if err != nil {
		return 0, notFound()
	}
	return n, nil
}
