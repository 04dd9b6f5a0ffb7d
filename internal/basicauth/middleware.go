package basicauth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Options configure Middleware.
type Options struct {
	// Realm is shown by the browser's login prompt; default "jhub".
	Realm string
	// Users is the htpasswd file checked for Basic credentials.
	Users *File
	// CookieKey signs the session cookie (HMAC-SHA256). Empty means a random
	// per-process key: sessions then end when the edge restarts.
	CookieKey []byte
	// CookieName defaults to DefaultCookieName.
	CookieName string
	// CookieTTL is how long a session cookie is accepted; default 12 hours.
	CookieTTL time.Duration
	// Limiter, when set, throttles failed logins per ClientKey(r), which
	// is then required.
	Limiter   *Limiter
	ClientKey func(*http.Request) string

	now    func() time.Time                 // tests inject a clock
	verify func(user, password string) bool // and count the hashes
}

// DefaultCookieName is the session cookie's name when Options.CookieName is empty.
const DefaultCookieName = "jhub_edge_auth"

const cookieVersion = "v1"

// Middleware requires either valid Basic credentials or a valid session
// cookie. A Basic login sets the cookie; the Basic Authorization header is
// removed before forwarding (the upstream must not see the edge's password).
// Any other Authorization header (JupyterLab's `token …`) is forwarded
// untouched when the cookie is valid, and the session cookie itself is
// removed from the forwarded Cookie header. Requests without Basic
// credentials never count as failed logins, so a Lab request without the
// cookie gets 401 as always, never 429.
func Middleware(next http.Handler, o Options) http.Handler {
	if o.Realm == "" {
		o.Realm = "jhub"
	}
	if o.CookieName == "" {
		o.CookieName = DefaultCookieName
	}
	if o.CookieTTL <= 0 {
		o.CookieTTL = 12 * time.Hour
	}
	if len(o.CookieKey) == 0 {
		o.CookieKey = make([]byte, 32)
		rand.Read(o.CookieKey) // never fails on supported platforms
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.verify == nil && o.Users != nil {
		o.verify = o.Users.Verify
	}
	if o.Limiter != nil && o.ClientKey == nil {
		panic("basicauth: Options.Limiter needs Options.ClientKey")
	}
	challenge := `Basic realm="` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(o.Realm) + `", charset="UTF-8"`
	return &middleware{next: next, o: o, challenge: challenge, good: newGoodLogins(o.CookieTTL)}
}

type middleware struct {
	next      http.Handler
	o         Options
	challenge string
	good      *goodLogins
}

func (m *middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if user, pass, ok := r.BasicAuth(); ok {
		// Basic credentials are meant for the edge: they must be right, even
		// when a cookie is also present, and never reach the upstream.
		if !m.verify(w, r, user, pass) {
			return
		}
		r.Header.Del("Authorization")
		stripCookie(r, m.o.CookieName)
		http.SetCookie(w, &http.Cookie{
			Name:     m.o.CookieName,
			Value:    m.sign(user, m.o.now().Add(m.o.CookieTTL)),
			Path:     "/",
			MaxAge:   int(m.o.CookieTTL / time.Second),
			Secure:   true,
			HttpOnly: true,
			SameSite: http.SameSiteLaxMode,
		})
		m.next.ServeHTTP(w, r)
		return
	}
	if c, err := r.Cookie(m.o.CookieName); err == nil && m.valid(c.Value) {
		stripCookie(r, m.o.CookieName)
		m.next.ServeHTTP(w, r)
		return
	}
	m.deny(w)
}

// verify checks Basic credentials, answering 401 or 429 itself when they
// do not pass. Credentials that verified recently cost an HMAC; others
// cost a hash, unless the client's failures used up its allowance.
func (m *middleware) verify(w http.ResponseWriter, r *http.Request, user, pass string) bool {
	if m.o.Users == nil {
		m.deny(w)
		return false
	}
	id := m.good.id(user, pass)
	if m.good.has(id, m.o.now()) {
		return true
	}
	var client string
	if m.o.Limiter != nil {
		client = m.o.ClientKey(r)
		if ok, wait := m.o.Limiter.take(client); !ok {
			secs := strconv.Itoa(retryAfter(wait))
			w.Header().Set("Retry-After", secs)
			http.Error(w, "429 too many failed logins from your address; try again in "+secs+" s", http.StatusTooManyRequests)
			return false
		}
	}
	if !m.o.verify(user, pass) {
		m.deny(w)
		return false
	}
	if m.o.Limiter != nil {
		m.o.Limiter.giveBack(client)
	}
	m.good.add(id, m.o.now())
	return true
}

func (m *middleware) deny(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", m.challenge)
	http.Error(w, "401 unauthorized", http.StatusUnauthorized)
}

// sign returns "v1.<base64url user>.<expiry unix>.<base64url mac>".
func (m *middleware) sign(user string, exp time.Time) string {
	u := base64.RawURLEncoding.EncodeToString([]byte(user))
	e := strconv.FormatInt(exp.Unix(), 10)
	return cookieVersion + "." + u + "." + e + "." + base64.RawURLEncoding.EncodeToString(m.mac(user, exp.Unix()))
}

func (m *middleware) mac(user string, exp int64) []byte {
	h := hmac.New(sha256.New, m.o.CookieKey)
	// Length-prefix the user so that no (user, expiry) pair shares its MAC input with another.
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(len(user)))
	h.Write([]byte(cookieVersion))
	h.Write(b[:])
	h.Write([]byte(user))
	binary.BigEndian.PutUint64(b[:], uint64(exp))
	h.Write(b[:])
	return h.Sum(nil)
}

func (m *middleware) valid(v string) bool {
	parts := strings.Split(v, ".")
	if len(parts) != 4 || parts[0] != cookieVersion {
		return false
	}
	user, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return false
	}
	exp, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[3])
	if err != nil || !hmac.Equal(sig, m.mac(string(user), exp)) {
		return false
	}
	return m.o.now().Unix() < exp && m.o.Users != nil && m.o.Users.has(string(user))
}

// stripCookie removes the named cookie from the request's Cookie headers,
// leaving the other cookies' values as the client sent them.
func stripCookie(r *http.Request, name string) {
	vals := r.Header.Values("Cookie")
	if len(vals) == 0 {
		return
	}
	var kept []string
	for _, v := range vals {
		var parts []string
		for p := range strings.SplitSeq(v, ";") {
			k, _, _ := strings.Cut(strings.TrimSpace(p), "=")
			if k != name {
				parts = append(parts, strings.TrimSpace(p))
			}
		}
		if len(parts) > 0 {
			kept = append(kept, strings.Join(parts, "; "))
		}
	}
	r.Header.Del("Cookie")
	for _, v := range kept {
		r.Header.Add("Cookie", v)
	}
}
