// Package fielderr is the one error type for a bad value in a Terraform
// resource's configuration. The renderers (cloudinit, hubconfig, the edge
// config, certs) report each problem at the attribute path of the resource
// schema that carries it, so the provider turns them into attribute
// diagnostics without translating names, and all problems are reported
// together.
package fielderr

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Step is one element of a Path: an attribute name, a list index, a map key
// or a set element.
type Step struct {
	Kind  Kind
	Name  string // KindName: the attribute; KindKey: the map key; KindElem: the set element's value
	Index int    // KindIndex
}

// Kind says what a Step selects.
type Kind int

const (
	KindName Kind = iota
	KindIndex
	KindKey
	KindElem
)

// Path is an attribute path in the schema's own terms, such as
// tls.acme_email, sites[0].host or basic_auth_users["bob"].
type Path []Step

// Root starts a path at a top-level attribute.
func Root(name string) Path { return Path{{Kind: KindName, Name: name}} }

// Name selects a nested attribute.
func (p Path) Name(n string) Path { return p.with(Step{Kind: KindName, Name: n}) }

// Index selects a list element.
func (p Path) Index(i int) Path { return p.with(Step{Kind: KindIndex, Index: i}) }

// Key selects a map element.
func (p Path) Key(k string) Path { return p.with(Step{Kind: KindKey, Name: k}) }

// Elem selects a set element by its value.
func (p Path) Elem(v string) Path { return p.with(Step{Kind: KindElem, Name: v}) }

// with copies: paths are shared prefixes and must never alias.
func (p Path) with(s Step) Path {
	out := make(Path, len(p), len(p)+1)
	copy(out, p)
	return append(out, s)
}

func (p Path) String() string {
	var b strings.Builder
	for i, s := range p {
		switch s.Kind {
		case KindName:
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.Name)
		case KindIndex:
			b.WriteString("[" + strconv.Itoa(s.Index) + "]")
		case KindKey, KindElem:
			b.WriteString("[" + strconv.Quote(s.Name) + "]")
		}
	}
	return b.String()
}

// Error is one bad value. Msg never carries a secret value.
type Error struct {
	Path Path
	Msg  string
}

func (e *Error) Error() string {
	if len(e.Path) == 0 {
		return e.Msg
	}
	return e.Path.String() + ": " + e.Msg
}

// List collects every problem of one configuration.
type List struct{ errs []error }

// Add records a problem at p.
func (l *List) Add(p Path, format string, args ...any) {
	l.errs = append(l.errs, &Error{Path: p, Msg: fmt.Sprintf(format, args...)})
}

// Append records err: its field errors as they are, anything else as a
// problem at p.
func (l *List) Append(p Path, err error) {
	if err == nil {
		return
	}
	if fe := All(err); len(fe) > 0 {
		for _, e := range fe {
			l.errs = append(l.errs, e)
		}
		return
	}
	l.errs = append(l.errs, &Error{Path: p, Msg: err.Error()})
}

// Err is nil without problems, else all of them joined.
func (l *List) Err() error { return errors.Join(l.errs...) }

// All returns the field errors in err, in order, looking through
// errors.Join and wrapping.
func All(err error) []*Error {
	var out []*Error
	var walk func(error)
	walk = func(err error) {
		if err == nil {
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		// Not errors.As: it stops at the first match, and a joined error
		// holds many.
		if fe, ok := err.(*Error); ok { //nolint:errorlint // walks the chain itself, see above

			out = append(out, fe)
			return
		}
		walk(errors.Unwrap(err))
	}
	walk(err)
	return out
}

// Parse reads a path written as String writes it: names joined by '.',
// list indexes as [N] and map keys as ["key"].
func Parse(s string) (Path, error) {
	var p Path
	rest := s
	for rest != "" {
		switch {
		case strings.HasPrefix(rest, "["):
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return nil, fmt.Errorf("path %q: unclosed [", s)
			}
			sel := rest[1:end]
			if strings.HasPrefix(sel, `"`) {
				// A quoted key may hold ']': find the closing quote first.
				q, err := strconv.QuotedPrefix(rest[1:])
				if err != nil {
					return nil, fmt.Errorf("path %q: %w", s, err)
				}
				k, _ := strconv.Unquote(q)
				end = 1 + len(q)
				if end >= len(rest) || rest[end] != ']' {
					return nil, fmt.Errorf("path %q: unclosed [", s)
				}
				p = p.Key(k)
			} else {
				i, err := strconv.Atoi(sel)
				if err != nil {
					return nil, fmt.Errorf("path %q: bad index %q", s, sel)
				}
				p = p.Index(i)
			}
			rest = rest[end+1:]
		default:
			rest = strings.TrimPrefix(rest, ".")
			end := strings.IndexAny(rest, ".[")
			if end < 0 {
				end = len(rest)
			}
			if end == 0 {
				return nil, fmt.Errorf("path %q: empty name", s)
			}
			p = p.Name(rest[:end])
			rest = rest[end:]
		}
	}
	return p, nil
}
