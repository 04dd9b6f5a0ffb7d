package dosim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"gopkg.in/yaml.v3"
)

// SpecEnv names the environment variable that points at DigitalOcean's
// OpenAPI root file (DigitalOcean-public.v2.yaml).
const SpecEnv = "JHUB_DO_OPENAPI"

// specRel is where the spec lives relative to the module root (the shared
// checkout next to the work tree).
const specRel = "../shared/do-openapi/specification/DigitalOcean-public.v2.yaml"

// ErrNoSpec is returned by FindSpec when no spec file can be found.
var ErrNoSpec = errors.New("DigitalOcean OpenAPI spec not found: conformance checking is off; set " +
	SpecEnv + "=/path/to/DigitalOcean-public.v2.yaml (from github.com/digitalocean/openapi, specification/)")

// FindSpec returns the spec path: $JHUB_DO_OPENAPI, else ../shared/do-openapi/…
// relative to the module root (the nearest parent directory with a go.mod).
func FindSpec() (string, error) {
	if p := os.Getenv(SpecEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", SpecEnv, p, err)
		}
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, filepath.FromSlash(specRel))
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
			return "", ErrNoSpec
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", ErrNoSpec
		}
		dir = parent
	}
}

// checker validates traffic against a loaded spec. It is shared by every
// Server using the same spec file: loading takes a few hundred milliseconds.
type checker struct {
	doc    *openapi3.T
	router routers.Router
}

type specEntry struct {
	once sync.Once
	c    *checker
	err  error
}

var specCache sync.Map // absolute path -> *specEntry

func loadChecker(p string) (*checker, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return nil, err
	}
	v, _ := specCache.LoadOrStore(abs, &specEntry{})
	e := v.(*specEntry)
	e.once.Do(func() { e.c, e.err = newChecker(abs) })
	return e.c, e.err
}

func newChecker(abs string) (*checker, error) {
	l := openapi3.NewLoader()
	l.IsExternalRefsAllowed = true
	// The loader reads a file once per reference to it; cache the result.
	files := map[string][]byte{}
	l.ReadFromURIFunc = func(_ *openapi3.Loader, u *url.URL) ([]byte, error) {
		if b, ok := files[u.Path]; ok {
			return b, nil
		}
		b, err := readSpecFile(u.Path, u.Path == filepath.ToSlash(abs))
		if err == nil {
			files[u.Path] = b
		}
		return b, err
	}
	doc, err := l.LoadFromFile(abs)
	if err != nil {
		return nil, fmt.Errorf("load OpenAPI spec %s: %w", abs, err)
	}
	// The spec names https://api.digitalocean.com; the simulator listens on
	// loopback, so requests are matched with their path only (see route).
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route OpenAPI spec %s: %w", abs, err)
	}
	return &checker{doc: doc, router: r}, nil
}

// readSpecFile reads one file of the spec and rewrites the places where
// DigitalOcean's sources use $ref beyond OpenAPI 3.0 (their bundler, Redocly,
// accepts them; kin-openapi does not). Each rewrite inlines the referenced
// content exactly, so nothing is dropped from validation:
//   - root: paths.<path>.<method> is a $ref to an operation file;
//   - root: tags[].description is a $ref to a Markdown text (docs only);
//   - any file: `properties: {$ref: …}` refers to a map of properties
//     (load balancer models).
//
// Two rewrites are about meaning, not syntax:
//   - domain_record_types.yml requires `flags` and `tag` for NS, SRV and TXT
//     records, but they are CAA attributes (the base model says they are
//     null for other types) and godo omits an empty tag; the requirement is
//     dropped for those three types only, everything else stays required.
//   - a property written as
//     `allOf: [{$ref: X}, {description: …}]` where X is `nullable: true`
//     (droplet.next_backup_window, null when backups are off) is null in real
//     responses, but OpenAPI 3.0 does not carry nullable through allOf, so the
//     wrapper is marked nullable too. Nothing else about the schema changes.
func readSpecFile(p string, root bool) ([]byte, error) {
	raw, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("parse %s: %w", p, err)
	}
	if len(doc.Content) == 0 {
		return raw, nil
	}
	changed := false
	if root {
		top := doc.Content[0]
		if paths := mapGet(top, "paths"); paths != nil {
			paths.Content = servedPaths(paths.Content)
			for i := 1; i < len(paths.Content); i += 2 {
				item := paths.Content[i]
				for j := 1; j < len(item.Content); j += 2 {
					if ref := soleRef(item.Content[j]); ref != "" {
						n, err := resolveRef(p, ref)
						if err != nil {
							return nil, err
						}
						item.Content[j] = n
						changed = true
					}
				}
			}
		}
		if tags := mapGet(top, "tags"); tags != nil {
			for _, tag := range tags.Content {
				for j := 0; j+1 < len(tag.Content); j += 2 {
					if tag.Content[j].Value == "description" && tag.Content[j+1].Kind != yaml.ScalarNode {
						tag.Content[j+1] = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: ""}
						changed = true
					}
				}
			}
		}
	}
	if strings.HasSuffix(p, "/resources/domains/models/domain_record_types.yml") {
		caaOnlyNotRequired(doc.Content[0])
		changed = true
	}
	// After the operations are inlined, so their properties refs are seen too.
	if err := nullableThroughAllOf(doc.Content[0], p, &changed); err != nil {
		return nil, err
	}
	if err := inlinePropertiesRefs(doc.Content[0], p, &changed); err != nil {
		return nil, err
	}
	if !changed {
		return raw, nil
	}
	return yaml.Marshal(&doc)
}

// servedPrefixes are the API areas the simulator implements. Only their
// operations are loaded: the whole spec (445 paths) takes several seconds
// to load, these take well under one, and a request elsewhere is answered
// 404 by the simulator and reported as outside the checked operations.
var servedPrefixes = []string{"/v2/account", "/v2/actions", "/v2/domains", "/v2/droplets", "/v2/sizes", "/v2/snapshots", "/v2/tags", "/v2/volumes"}

func servedPaths(kv []*yaml.Node) []*yaml.Node {
	var out []*yaml.Node
	for i := 0; i+1 < len(kv); i += 2 {
		for _, p := range servedPrefixes {
			if kv[i].Value == p || strings.HasPrefix(kv[i].Value, p+"/") {
				out = append(out, kv[i], kv[i+1])
				break
			}
		}
	}
	return out
}

func inlinePropertiesRefs(n *yaml.Node, file string, changed *bool) error {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "properties" {
				if ref := soleRef(n.Content[i+1]); ref != "" {
					r, err := resolveRef(file, ref)
					if err != nil {
						return err
					}
					n.Content[i+1] = r
					*changed = true
				}
			}
		}
	}
	for _, c := range n.Content {
		if err := inlinePropertiesRefs(c, file, changed); err != nil {
			return err
		}
	}
	return nil
}

func caaOnlyNotRequired(types *yaml.Node) {
	for _, name := range []string{"domain_record_ns", "domain_record_srv", "domain_record_txt"} {
		all := mapGet(mapGet(types, name), "allOf")
		if all == nil {
			continue
		}
		for _, part := range all.Content {
			if req := mapGet(part, "required"); req != nil {
				req.Content = slices.DeleteFunc(req.Content, func(n *yaml.Node) bool { return n.Value == "flags" || n.Value == "tag" })
			}
		}
	}
}

func nullableThroughAllOf(n *yaml.Node, file string, changed *bool) error {
	if all := mapGet(n, "allOf"); all != nil && len(n.Content) == 2 && len(all.Content) == 2 {
		ref, other := soleRef(all.Content[0]), all.Content[1]
		if ref != "" && other.Kind == yaml.MappingNode && len(other.Content) == 2 && other.Content[0].Value == "description" {
			target, err := resolveRef(file, ref)
			if err != nil {
				return err
			}
			if nb := mapGet(target, "nullable"); nb != nil && nb.Value == "true" {
				n.Content = append(n.Content,
					&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "nullable"},
					&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"})
				*changed = true
			}
		}
	}
	for _, c := range n.Content {
		if err := nullableThroughAllOf(c, file, changed); err != nil {
			return err
		}
	}
	return nil
}

func mapGet(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// soleRef returns the target of a mapping that holds only a $ref.
func soleRef(n *yaml.Node) string {
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 && n.Content[0].Value == "$ref" {
		return n.Content[1].Value
	}
	return ""
}

// resolveRef loads ref (relative to file) and rewrites the relative
// references inside it so they stay valid from file's directory.
func resolveRef(file, ref string) (*yaml.Node, error) {
	target, frag, _ := strings.Cut(ref, "#")
	tpath := file
	if target != "" {
		tpath = path.Join(path.Dir(file), target)
	}
	raw, err := os.ReadFile(tpath)
	if err != nil {
		return nil, fmt.Errorf("resolve $ref %q in %s: %w", ref, file, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("parse %s: %w", tpath, err)
	}
	n := doc.Content[0]
	for _, tok := range strings.Split(strings.Trim(frag, "/"), "/") {
		if tok == "" {
			continue
		}
		if n = mapGet(n, strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")); n == nil {
			return nil, fmt.Errorf("resolve $ref %q in %s: no %q", ref, file, frag)
		}
	}
	rebaseRefs(n, path.Dir(file), tpath)
	return n, nil
}

// rebaseRefs rewrites $ref values and discriminator mappings written relative
// to the file `from` so they resolve from directory dir.
func rebaseRefs(n *yaml.Node, dir, from string) {
	rebase := func(v *yaml.Node) {
		if strings.Contains(v.Value, "://") {
			return
		}
		target, frag, hasFrag := strings.Cut(v.Value, "#")
		abs := from
		if target != "" {
			abs = path.Join(path.Dir(from), target)
		}
		rel, err := filepath.Rel(dir, abs)
		if err != nil {
			return
		}
		v.Value = filepath.ToSlash(rel)
		if hasFrag {
			v.Value += "#" + frag
		}
	}
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			switch {
			case k.Value == "$ref" && v.Kind == yaml.ScalarNode:
				rebase(v)
			case k.Value == "discriminator":
				if m := mapGet(v, "mapping"); m != nil {
					for j := 1; j < len(m.Content); j += 2 {
						rebase(m.Content[j])
					}
				}
			default:
				rebaseRefs(v, dir, from)
			}
		}
		return
	}
	for _, c := range n.Content {
		rebaseRefs(c, dir, from)
	}
}

// route finds the spec operation for a request sent to the simulator.
func (c *checker) route(r *http.Request) (*routers.Route, map[string]string, error) {
	u := *r.URL
	u.Scheme, u.Host = "https", "api.digitalocean.com"
	rr := r.Clone(r.Context())
	rr.URL, rr.Host = &u, u.Host
	return c.router.FindRoute(rr)
}

// bearerOnly accepts any bearer token: which token is valid is the
// simulator's business (401), the spec only says a bearer token is sent.
func bearerOnly(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if in.SecurityScheme == nil || in.SecurityScheme.Type != "http" || !strings.EqualFold(in.SecurityScheme.Scheme, "bearer") {
		return fmt.Errorf("security scheme %q is not bearer", in.SecuritySchemeName)
	}
	h := in.RequestValidationInput.Request.Header.Get("Authorization")
	if scheme, tok, ok := strings.Cut(h, " "); !ok || !strings.EqualFold(scheme, "bearer") || tok == "" {
		return errors.New("no bearer token in the Authorization header")
	}
	return nil
}

// exchange is one request/response pair as the simulator saw it.
type exchange struct {
	req     *http.Request
	reqBody []byte
	status  int
	header  http.Header
	body    []byte
}

// check validates an exchange and returns its violations, each naming the
// method, path and the validator's message.
func (c *checker) check(ctx context.Context, x exchange) []string {
	where := x.req.Method + " " + x.req.URL.RequestURI()
	route, params, err := c.route(x.req)
	if err != nil {
		return []string{fmt.Sprintf("%s: request: no such operation among the checked ones (%s): %v", where, strings.Join(servedPrefixes, ", "), err)}
	}
	req := x.req.Clone(ctx)
	req.Body = io.NopCloser(bytes.NewReader(x.reqBody))
	in := &openapi3filter.RequestValidationInput{
		Request:    req,
		PathParams: params,
		Route:      route,
		Options: &openapi3filter.Options{
			AuthenticationFunc: bearerOnly,
			MultiError:         true,
		},
	}
	var out []string
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
		out = append(out, fmt.Sprintf("%s: request (%s): %v", where, route.Operation.OperationID, flatten(err)))
	}
	rin := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 x.status,
		Header:                 x.header,
		Body:                   io.NopCloser(bytes.NewReader(x.body)),
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true,
			MultiError:            true,
		},
	}
	if err := openapi3filter.ValidateResponse(ctx, rin); err != nil {
		out = append(out, fmt.Sprintf("%s: response %d (%s): %v", where, x.status, route.Operation.OperationID, flatten(err)))
	}
	return out
}

// flatten joins the validator's messages, one line each: kin-openapi
// appends the whole schema and value to every message, which buries the
// reason in a test log.
func flatten(err error) string {
	errs := []error{err}
	var me openapi3.MultiError
	if errors.As(err, &me) {
		errs = me
	}
	parts := make([]string, 0, len(errs))
	for _, e := range errs {
		line, _, _ := strings.Cut(e.Error(), "\n")
		parts = append(parts, line)
	}
	return strings.Join(parts, "; ")
}
