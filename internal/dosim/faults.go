package dosim

import (
	"net/http"
	"strings"
	"sync"
	"time"
)

// Faults inject failures into one server. All methods are safe for
// concurrent use and return the receiver so calls chain. Request faults
// (RateLimit, ServerErrors, Latency) apply to every route unless set
// through On.
type Faults struct {
	mu            sync.Mutex
	rules         []*faultRule
	latency       []latencyRule
	notFoundAfter int
	failActions   int
	slowActions   time.Duration
	failOf        map[string]int           // action type -> forced failures left
	slowOf        map[string]time.Duration // action type -> extra time
}

// scope selects requests by method ("" = any) and path prefix ("" = any).
type scope struct {
	method, prefix string
}

func (sc scope) match(r *http.Request) bool {
	return (sc.method == "" || strings.EqualFold(sc.method, r.Method)) && strings.HasPrefix(r.URL.Path, sc.prefix)
}

type faultRule struct {
	scope
	left       int
	code       int
	retryAfter time.Duration
}

type latencyRule struct {
	scope
	d time.Duration
}

// RateLimit answers the next n requests 429 with Retry-After, RateLimit-Reset
// retryAfter from now, and ratelimit-remaining 0.
func (f *Faults) RateLimit(n int, retryAfter time.Duration) *Faults {
	return f.On("", "").RateLimit(n, retryAfter)
}

// ServerErrors answers the next n requests with code (500, 503, ...).
func (f *Faults) ServerErrors(n, code int) *Faults { return f.On("", "").ServerErrors(n, code) }

// Latency delays every request by d (0 removes the delay).
func (f *Faults) Latency(d time.Duration) *Faults { return f.On("", "").Latency(d) }

// NotFoundAfterCreate makes each droplet and domain record created from now
// on answer 404 to its first n GETs, as an eventually consistent API does.
func (f *Faults) NotFoundAfterCreate(n int) *Faults {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.notFoundAfter = n
	return f
}

// FailActions makes the next n actions (droplet create included) end
// "errored"; the backend is not called for them.
func (f *Faults) FailActions(n int) *Faults {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failActions = n
	return f
}

// SlowActions makes each action and droplet activation take d on top of
// the backend's own time.
func (f *Faults) SlowActions(d time.Duration) *Faults {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.slowActions = d
	return f
}

// FailActionsOf makes the next n actions of one type ("attach_volume",
// "detach_volume", "resize_volume", or a droplet action such as
// "power_off") end "errored" without effect; the backend is not called.
func (f *Faults) FailActionsOf(typ string, n int) *Faults {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failOf == nil {
		f.failOf = map[string]int{}
	}
	f.failOf[typ] = n
	return f
}

// SlowActionsOf makes each action of one type take d more.
func (f *Faults) SlowActionsOf(typ string, d time.Duration) *Faults {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.slowOf == nil {
		f.slowOf = map[string]time.Duration{}
	}
	f.slowOf[typ] = d
	return f
}

// Clear removes every fault.
func (f *Faults) Clear() *Faults {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules, f.latency = nil, nil
	f.notFoundAfter, f.failActions, f.slowActions = 0, 0, 0
	f.failOf, f.slowOf = nil, nil
	return f
}

// ScopedFaults are request faults limited to one method and path prefix.
type ScopedFaults struct {
	f  *Faults
	sc scope
}

// On limits the request faults set through the result to requests with
// this method ("" = any) whose path starts with pathPrefix.
func (f *Faults) On(method, pathPrefix string) *ScopedFaults {
	return &ScopedFaults{f: f, sc: scope{method: method, prefix: pathPrefix}}
}

// RateLimit: see Faults.RateLimit.
func (s *ScopedFaults) RateLimit(n int, retryAfter time.Duration) *Faults {
	return s.add(&faultRule{scope: s.sc, left: n, code: http.StatusTooManyRequests, retryAfter: retryAfter})
}

// ServerErrors: see Faults.ServerErrors.
func (s *ScopedFaults) ServerErrors(n, code int) *Faults {
	return s.add(&faultRule{scope: s.sc, left: n, code: code})
}

// Latency: see Faults.Latency.
func (s *ScopedFaults) Latency(d time.Duration) *Faults {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	kept := s.f.latency[:0]
	for _, l := range s.f.latency {
		if l.scope != s.sc {
			kept = append(kept, l)
		}
	}
	s.f.latency = kept
	if d > 0 {
		s.f.latency = append(s.f.latency, latencyRule{scope: s.sc, d: d})
	}
	return s.f
}

func (s *ScopedFaults) add(r *faultRule) *Faults {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	if r.left > 0 {
		s.f.rules = append(s.f.rules, r)
	}
	return s.f
}

// take consumes one request fault matching r, if any.
func (f *Faults) take(r *http.Request) *faultRule {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, rule := range f.rules {
		if rule.match(r) {
			rule.left--
			if rule.left == 0 {
				f.rules = append(f.rules[:i], f.rules[i+1:]...)
			}
			c := *rule
			return &c
		}
	}
	return nil
}

func (f *Faults) latencyFor(r *http.Request) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	var d time.Duration
	for _, l := range f.latency {
		if l.match(r) {
			d += l.d
		}
	}
	return d
}

func (f *Faults) notFoundCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.notFoundAfter
}

// actionFaultOf consumes one forced failure for an action of type typ
// (its own first, then any type's) and reports the extra delay.
func (f *Faults) actionFaultOf(typ string) (fail bool, slow time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.failOf[typ] > 0:
		f.failOf[typ]--
		fail = true
	case f.failActions > 0:
		f.failActions--
		fail = true
	}
	return fail, f.slowActions + f.slowOf[typ]
}
