package edge

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"unicode/utf8"
)

// The edge normalises each request's path once, before anything looks at
// it, and then decides (virtual host routes, base_url, CHP routes, basic
// auth paths, ACME challenges, static files) on exactly what it forwards or
// serves. Otherwise a guard on /private/ could be walked around with
// //private/, /./private/, /%2e/private/ or /%2F/private/, which the
// upstream or the file system resolve to /private/ after the guard said no.

var errUnsafePath = errors.New("the path cannot be normalised safely")

// cleanPath normalises raw, a path as the client sent it (percent-encoded).
// It returns dec, the decoded path every decision compares against, and
// enc, the path forwarded upstream, which decodes to exactly dec.
//
// Duplicate slashes are merged, "." and ".." segments resolved (also when
// percent-encoded) and percent-encoded unreserved characters decoded
// (RFC 3986 section 6.2.2). Every other escape is kept as the client sent it,
// so notebook names with %20 or UTF-8 reach JupyterHub byte for byte, and
// bytes that may not appear raw in a path are escaped. It refuses what has
// no single meaning: '..' above the root, an encoded '/' or '\', a raw
// backslash (a separator on some servers), NUL and other control
// characters, invalid UTF-8, and dot segments with parameters ("..;x",
// which Java servers read as "..").
func cleanPath(raw string) (dec, enc string, err error) {
	if raw == "" {
		return "/", "/", nil // absolute-form request target without a path
	}
	if raw[0] != '/' {
		return "", "", errUnsafePath
	}
	if isCleanPath(raw) {
		return raw, raw, nil
	}
	// d and e grow together; starts records where each kept segment
	// begins in both, so ".." and dropped segments are a reslice.
	d := make([]byte, 0, len(raw))
	e := make([]byte, 0, len(raw)+8)
	var starts [][2]int
	for rest := raw[1:]; ; {
		s, tail, more := strings.Cut(rest, "/")
		rest = tail
		at := [2]int{len(d), len(e)}
		d = append(d, '/')
		e = append(e, '/')
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c == '%' {
				if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
					return "", "", errUnsafePath
				}
				v := unhex(s[i+1])<<4 | unhex(s[i+2])
				if isControl(v) || v == '/' || v == '\\' {
					return "", "", errUnsafePath
				}
				d = append(d, v)
				if isUnreserved(v) {
					e = append(e, v)
				} else {
					e = append(e, s[i:i+3]...)
				}
				i += 2
				continue
			}
			if isControl(c) || c == '\\' {
				return "", "", errUnsafePath
			}
			d = append(d, c)
			if isRawPathByte(c) {
				e = append(e, c)
			} else {
				e = append(e, '%', upperHex[c>>4], upperHex[c&15])
			}
		}
		seg := d[at[0]+1:]
		if !utf8.Valid(seg) {
			return "", "", errUnsafePath
		}
		switch {
		case len(seg) == 0 || string(seg) == ".":
			d, e = d[:at[0]], e[:at[1]]
		case string(seg) == "..":
			if len(starts) == 0 {
				return "", "", errUnsafePath
			}
			prev := starts[len(starts)-1]
			starts = starts[:len(starts)-1]
			d, e = d[:prev[0]], e[:prev[1]]
		case isDotWithParams(seg):
			return "", "", errUnsafePath
		default:
			starts = append(starts, at)
			if more {
				continue
			}
			return string(d), string(e), nil
		}
		if !more {
			// A path ending in "/", "/." or "/.." names a directory.
			return string(append(d, '/')), string(append(e, '/')), nil
		}
	}
}

// isCleanPath reports a path that is already in normal form and needs no
// decoding: the common case, answered without allocating.
func isCleanPath(p string) bool {
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '/':
			// "//", "/." (".", "..", ".;x", dot-files) and "/..": slow path.
			if i+1 < len(p) && (p[i+1] == '/' || p[i+1] == '.') {
				return false
			}
		case c == '%' || !isRawPathByte(c):
			return false
		}
	}
	return true
}

// isDotWithParams reports "." or ".." followed by ";params".
func isDotWithParams(seg []byte) bool {
	name, _, ok := bytes.Cut(seg, []byte{';'})
	return ok && (string(name) == "." || string(name) == "..")
}

func isControl(c byte) bool { return c < 0x20 || c == 0x7f }

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// isRawPathByte: RFC 3986 pchar without pct-encoded, plus '[' and ']'
// (Go's url package, like browsers, leaves those raw). The forwarded path
// holds only these and escapes, so url.URL.EscapedPath returns it verbatim.
func isRawPathByte(c byte) bool {
	if isUnreserved(c) {
		return true
	}
	switch c {
	case '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=', ':', '@', '[', ']':
		return true
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

const upperHex = "0123456789ABCDEF"

// normalizeRequest replaces r.URL's path with its normal form; false means
// it has answered 400. Opaque request targets ("GET http:x") would be
// forwarded as they came, so they are refused too.
func normalizeRequest(w http.ResponseWriter, r *http.Request) bool {
	u := r.URL
	raw := u.RawPath
	if raw == "" {
		raw = u.EscapedPath() // RawPath is only set when it differs from this
	}
	dec, enc, err := cleanPath(raw)
	if err != nil || u.Opaque != "" {
		http.Error(w, "400 Bad Request: the path cannot be normalised safely (an encoded '/' or '\\', '..' above the root, a control character or invalid UTF-8)", http.StatusBadRequest)
		return false
	}
	u.Path, u.RawPath = dec, enc
	return true
}
