package basicauth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"math"
	"sync"
	"time"
)

// Limiter throttles failed logins per client: each client has a bucket of
// maxFailures tokens that refills at maxFailures per window. Checking a
// password takes a token before hashing and gives it back on success, so
// at most maxFailures hashes per client are ever in flight or wasted at
// once, and an empty bucket is answered without hashing. One Limiter is
// meant to outlive configuration reloads and to be shared by every
// Middleware of a process.
type Limiter struct {
	max    float64
	perSec float64 // refill rate
	now    func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	sweepAt int // bucket count that triggers dropping refilled buckets
}

type bucket struct {
	tokens float64
	at     time.Time // when tokens was last brought up to date
}

// minSweep is the bucket count below which no sweep is worth it.
const minSweep = 1024

// NewLimiter allows maxFailures failed logins per client in any window.
func NewLimiter(maxFailures int, window time.Duration) *Limiter {
	return &Limiter{
		max:     float64(maxFailures),
		perSec:  float64(maxFailures) / window.Seconds(),
		now:     time.Now,
		buckets: map[string]*bucket{},
		sweepAt: minSweep,
	}
}

// take spends one of client's tokens. When there is none it returns false
// and how long until there is.
func (l *Limiter) take(client string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.buckets[client]
	if b == nil {
		if len(l.buckets) >= l.sweepAt {
			l.sweep(now)
		}
		b = &bucket{tokens: l.max, at: now}
		l.buckets[client] = b
	}
	l.refill(b, now)
	if b.tokens < 1 {
		wait := time.Duration((1 - b.tokens) / l.perSec * float64(time.Second))
		return false, wait
	}
	b.tokens--
	return true, 0
}

// giveBack returns the token of a login that succeeded.
func (l *Limiter) giveBack(client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b := l.buckets[client]; b != nil {
		l.refill(b, l.now())
		b.tokens = min(b.tokens+1, l.max)
	}
}

func (l *Limiter) refill(b *bucket, now time.Time) {
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(l.max, b.tokens+d.Seconds()*l.perSec)
		b.at = now
	}
}

// sweep forgets clients whose bucket has refilled (they are as good as
// new), so memory follows the clients that failed recently.
func (l *Limiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if l.refill(b, now); b.tokens >= l.max {
			delete(l.buckets, k)
		}
	}
	l.sweepAt = max(minSweep, 2*len(l.buckets))
}

// goodLogins remembers credentials that verified recently, as an HMAC
// under a key that lives only in this process, so that the browser's
// Basic header, which it repeats on every request, costs an HMAC instead
// of a bcrypt, and a throttled client's correct password still works.
type goodLogins struct {
	key [32]byte
	ttl time.Duration

	mu sync.Mutex
	m  map[[sha256.Size]byte]time.Time // expiry
}

// maxGoodLogins bounds the memory; a full cache only stops remembering.
const maxGoodLogins = 4096

func newGoodLogins(ttl time.Duration) *goodLogins {
	g := &goodLogins{ttl: ttl, m: map[[sha256.Size]byte]time.Time{}}
	rand.Read(g.key[:])
	return g
}

func (g *goodLogins) id(user, pass string) (id [sha256.Size]byte) {
	h := hmac.New(sha256.New, g.key[:])
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(user)))
	h.Write(n[:])
	h.Write([]byte(user))
	h.Write([]byte(pass))
	h.Sum(id[:0])
	return id
}

func (g *goodLogins) has(id [sha256.Size]byte, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	exp, ok := g.m[id]
	return ok && now.Before(exp)
}

func (g *goodLogins) add(id [sha256.Size]byte, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.m) >= maxGoodLogins {
		for k, exp := range g.m {
			if !now.Before(exp) {
				delete(g.m, k)
			}
		}
		if len(g.m) >= maxGoodLogins {
			return
		}
	}
	g.m[id] = now.Add(g.ttl)
}

// retryAfter renders a wait as whole seconds for the Retry-After header.
func retryAfter(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
