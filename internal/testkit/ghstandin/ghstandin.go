// Package ghstandin stands in for GitHub in tests: the OAuth web flow
// and the API calls a GitHub login makes, laid out as GitHub Enterprise
// Server serves them (BASE/login/oauth/..., BASE/api/v3/...), so the
// edge runs its production code path through auth.github_url. It checks
// what GitHub checks on that path: the client ID and secret, the
// callback URL, PKCE (S256), single-use codes and bearer tokens.
//
// What it does not cover: GitHub's consent screen and its password,
// two-factor and passkey sign-in (a browser signs in by POSTing a login
// to /session), rate limits, token expiry and refresh, SAML SSO enforced
// by an organisation, GitHub Apps (as opposed to OAuth apps), and
// api.github.com's host layout for github.com itself.
package ghstandin

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// SessionCookie holds the GitHub login a browser is signed in as.
const SessionCookie = "dotcom_user"

// Server is the stand-in; it is an http.Handler.
type Server struct {
	clientID, secret, callback string
	orgs                       map[string]map[string]string // login → organisation → state
	mux                        *http.ServeMux

	mu     sync.Mutex
	codes  map[string]grant
	tokens map[string]string // access token → login
}

type grant struct{ challenge, login, redirect string }

// New serves one OAuth app: clientID and secret, and its callback URL
// (any when ""). orgs gives each login's organisation memberships and
// their state ("active", "pending"); logins are as GitHub spells them.
func New(clientID, secret, callback string, orgs map[string]map[string]string) *Server {
	s := &Server{clientID: clientID, secret: secret, callback: callback, orgs: orgs, mux: http.NewServeMux(),
		codes: map[string]grant{}, tokens: map[string]string{}}
	s.mux.HandleFunc("GET /login/oauth/authorize", s.authorize)
	s.mux.HandleFunc("GET /login", s.loginForm)
	s.mux.HandleFunc("POST /session", s.signIn)
	s.mux.HandleFunc("POST /login/oauth/access_token", s.accessToken)
	s.mux.HandleFunc("GET /api/v3/user", s.user)
	s.mux.HandleFunc("GET /api/v3/user/memberships/orgs/{org}", s.membership)
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func random() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// authorize sends a browser that is not signed in to the sign-in form,
// and one that is back to the app's callback with a code.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect := q.Get("redirect_uri")
	if q.Get("client_id") != s.clientID || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" ||
		q.Get("state") == "" || redirect == "" || (s.callback != "" && redirect != s.callback) {
		http.Error(w, "bad authorize request (client_id, redirect_uri, state or PKCE)", http.StatusBadRequest)
		return
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		http.Redirect(w, r, "/login?"+url.Values{"return_to": {r.URL.RequestURI()}}.Encode(), http.StatusFound)
		return
	}
	code := random()
	s.mu.Lock()
	s.codes[code] = grant{q.Get("code_challenge"), c.Value, redirect}
	s.mu.Unlock()
	http.Redirect(w, r, redirect+"?"+url.Values{"code": {code}, "state": {q.Get("state")}}.Encode(), http.StatusFound)
}

var form = template.Must(template.New("login").Parse(`<!doctype html><title>Sign in to GitHub</title>
<form method="post" action="/session"><input name="login"><input type="hidden" name="return_to" value="{{.}}"><button>Sign in</button></form>`))

func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = form.Execute(w, r.URL.Query().Get("return_to"))
}

// signIn signs the browser in as the login it posts and returns it to
// where it was going (a path on this server only).
func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	login, back := r.FormValue("login"), r.FormValue("return_to")
	if login == "" || !strings.HasPrefix(back, "/") || strings.HasPrefix(back, "//") {
		http.Error(w, "login and a local return_to are required", http.StatusBadRequest)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: login, Path: "/", Secure: r.TLS != nil, HttpOnly: true})
	http.Redirect(w, r, back, http.StatusFound)
}

func (s *Server) accessToken(w http.ResponseWriter, r *http.Request) {
	code := r.FormValue("code")
	s.mu.Lock()
	g, ok := s.codes[code]
	delete(s.codes, code)
	s.mu.Unlock()
	sum := sha256.Sum256([]byte(r.FormValue("code_verifier")))
	w.Header().Set("Content-Type", "application/json")
	if !ok || r.FormValue("client_id") != s.clientID || r.FormValue("client_secret") != s.secret ||
		base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge || (r.FormValue("redirect_uri") != "" && r.FormValue("redirect_uri") != g.redirect) {
		// GitHub answers 200 with an error body.
		writeJSON(w, map[string]string{"error": "bad_verification_code"})
		return
	}
	tok := "gho_" + random()
	s.mu.Lock()
	s.tokens[tok] = g.login
	s.mu.Unlock()
	writeJSON(w, map[string]string{"access_token": tok, "token_type": "bearer", "scope": "read:org"})
}

// login is the user a request's bearer token belongs to.
func (s *Server) login(r *http.Request) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	return l, ok
}

func apiError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	writeJSON(w, map[string]string{"message": msg})
}

// writeJSON answers v; a client that went away gets nothing more.
func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	_, _ = w.Write(b)
}

func (s *Server) user(w http.ResponseWriter, r *http.Request) {
	l, ok := s.login(r)
	if !ok {
		apiError(w, http.StatusUnauthorized, "Bad credentials")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	writeJSON(w, map[string]string{"login": l})
}

func (s *Server) membership(w http.ResponseWriter, r *http.Request) {
	l, ok := s.login(r)
	if !ok {
		apiError(w, http.StatusUnauthorized, "Bad credentials")
		return
	}
	state, ok := s.orgs[l][r.PathValue("org")]
	if !ok {
		apiError(w, http.StatusNotFound, "Not Found")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	writeJSON(w, map[string]string{"state": state})
}
