// Package basicauth implements HTTP basic authentication against an Apache
// htpasswd file, plus a signed session cookie so that JupyterLab's own
// `Authorization: token …` requests keep working after one Basic login.
package basicauth

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// File is a parsed htpasswd file: user name to password hash.
type File struct {
	users map[string]hash

	// An unknown user costs a comparison of the slowest kind in the file
	// (bcrypt at the file's highest cost when there is one), so that
	// unknown and known users take comparable time (no enumeration).
	dummyKind hashKind
	dummyOnce sync.Once
	dummy     []byte
	dummyCost int
}

type hashKind int

const (
	kindBcrypt hashKind = iota
	kindAPR1
	kindSHA
)

type hash struct {
	kind   hashKind
	bcrypt []byte   // the whole "$2y$…" string
	salt   string   // apr1 salt
	sum    string   // apr1 encoded digest (22 characters)
	sha    [20]byte // {SHA} digest
}

// fixHint is appended to every parse error: the one command that always
// produces an entry this package accepts.
const fixHint = "regenerate the entry with `htpasswd -B FILE USER` (bcrypt)"

// Parse reads an htpasswd file. Blank lines and lines starting with '#' are
// ignored. Errors name the line number and user, never the hash.
func Parse(r io.Reader) (*File, error) {
	f := &File{users: map[string]hash{}, dummyCost: bcrypt.DefaultCost}
	firstLine := map[string]int{}
	maxCost := 0
	var seen [kindSHA + 1]bool
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64*1024)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r \t")
		if line == "" || strings.HasPrefix(strings.TrimLeft(line, " \t"), "#") {
			continue
		}
		user, enc, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("line %d: expected USER:HASH, found no ':'; %s", n, fixHint)
		}
		if user == "" {
			return nil, fmt.Errorf("line %d: empty user name; %s", n, fixHint)
		}
		if prev, dup := firstLine[user]; dup {
			return nil, fmt.Errorf("line %d: user %q already defined on line %d; remove one of the entries (Apache's htpasswd would use the first)", n, user, prev)
		}
		h, err := parseHash(enc)
		if err != nil {
			return nil, fmt.Errorf("line %d (user %q): %w; %s", n, user, err, fixHint)
		}
		if h.kind == kindBcrypt {
			c, _ := bcrypt.Cost(h.bcrypt) // already validated by parseHash
			maxCost = max(maxCost, c)
		}
		firstLine[user] = n
		f.users[user] = h
		seen[h.kind] = true
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("after line %d: %w", n, err)
	}
	if len(f.users) == 0 {
		return nil, errors.New("no users; add one with `htpasswd -B FILE USER`")
	}
	if maxCost > 0 {
		f.dummyCost = maxCost
	}
	// Kinds are declared slowest first.
	f.dummyKind = hashKind(slices.Index(seen[:], true))
	return f, nil
}

// Load parses the htpasswd file at path.
func Load(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("htpasswd file: %w", err)
	}
	defer func() { _ = fh.Close() }()
	f, err := Parse(fh)
	if err != nil {
		return nil, fmt.Errorf("htpasswd file %s: %w", path, err)
	}
	return f, nil
}

func parseHash(enc string) (hash, error) {
	switch {
	case strings.HasPrefix(enc, "$2y$"), strings.HasPrefix(enc, "$2a$"), strings.HasPrefix(enc, "$2b$"):
		if _, err := bcrypt.Cost([]byte(enc)); err != nil || len(enc) != 60 {
			return hash{}, errors.New("malformed bcrypt hash")
		}
		return hash{kind: kindBcrypt, bcrypt: []byte(enc)}, nil
	case strings.HasPrefix(enc, apr1Magic):
		salt, sum, ok := strings.Cut(enc[len(apr1Magic):], "$")
		if !ok || salt == "" || len(salt) > 8 || len(sum) != 22 || !isCryptB64(salt) || !isCryptB64(sum) {
			return hash{}, errors.New("malformed $apr1$ (Apache MD5) hash")
		}
		return hash{kind: kindAPR1, salt: salt, sum: sum}, nil
	case strings.HasPrefix(enc, "{SHA}"):
		raw, err := base64.StdEncoding.DecodeString(enc[len("{SHA}"):])
		if err != nil || len(raw) != sha1.Size {
			return hash{}, errors.New("malformed {SHA} hash (want base64 of a 20-byte SHA-1 digest)")
		}
		h := hash{kind: kindSHA}
		copy(h.sha[:], raw)
		return h, nil
	case strings.HasPrefix(enc, "$"):
		return hash{}, errors.New("unsupported hash scheme (supported: bcrypt $2y$/$2a$/$2b$, $apr1$, {SHA})")
	case len(enc) == 13 && isCryptB64(enc):
		return hash{}, errors.New("looks like a crypt(3) DES hash (htpasswd -d), which is not supported: it truncates passwords to 8 characters")
	default:
		return hash{}, errors.New("looks like a plaintext password (htpasswd -p), which is not supported")
	}
}

func isCryptB64(s string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(itoa64, s[i]) < 0 {
			return false
		}
	}
	return true
}

// Verify reports whether password is user's password. Digests are compared
// in constant time; an unknown user still costs a comparison (see dummyKind).
func (f *File) Verify(user, password string) bool {
	h, ok := f.users[user]
	if !ok {
		f.verifyUnknown(password)
		return false
	}
	switch h.kind {
	case kindBcrypt:
		return bcrypt.CompareHashAndPassword(h.bcrypt, bcryptInput(password)) == nil
	case kindAPR1:
		return subtle.ConstantTimeCompare([]byte(apr1([]byte(password), []byte(h.salt))), []byte(h.sum)) == 1
	case kindSHA:
		sum := sha1.Sum([]byte(password))
		return subtle.ConstantTimeCompare(sum[:], h.sha[:]) == 1
	}
	return false
}

// verifyUnknown spends the time a known user of the file's slowest kind would.
func (f *File) verifyUnknown(password string) {
	switch f.dummyKind {
	case kindBcrypt:
		f.dummyOnce.Do(func() {
			// The error only happens for a cost outside bcrypt's range, which
			// Parse already rejected.
			f.dummy, _ = bcrypt.GenerateFromPassword([]byte("unknown user"), f.dummyCost)
		})
		_ = bcrypt.CompareHashAndPassword(f.dummy, bcryptInput(password))
	case kindAPR1:
		subtle.ConstantTimeCompare([]byte(apr1([]byte(password), []byte("unknown."))), []byte("unknown-user-digest..."))
	case kindSHA:
		sum := sha1.Sum([]byte(password))
		subtle.ConstantTimeCompare(sum[:], make([]byte, sha1.Size))
	}
}

// bcryptInput truncates to bcrypt's 72-byte limit as Apache's htpasswd does;
// Go's bcrypt refuses longer passwords instead, which would lock such users out.
func bcryptInput(password string) []byte {
	return []byte(password)[:min(len(password), 72)]
}

// has reports whether user is (still) in the file; a cookie issued to a user
// later removed from the file stops working.
func (f *File) has(user string) bool {
	_, ok := f.users[user]
	return ok
}

const (
	apr1Magic = "$apr1$"
	itoa64    = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// apr1 is Apache's variant of Poul-Henning Kamp's MD5-crypt (the algorithm
// of apr_md5_encode); it returns the 22-character encoded digest.
func apr1(pw, salt []byte) string {
	d := md5.New()
	d.Write(pw)
	d.Write([]byte(apr1Magic))
	d.Write(salt)

	alt := md5.Sum(slices.Concat(pw, salt, pw))
	for i := len(pw); i > 0; i -= 16 {
		d.Write(alt[:min(i, 16)])
	}
	for i := len(pw); i != 0; i >>= 1 {
		if i&1 != 0 {
			d.Write([]byte{0})
		} else {
			d.Write(pw[:1])
		}
	}
	final := d.Sum(nil)

	// 1000 rounds to slow down brute force (the whole point of MD5-crypt).
	for i := range 1000 {
		d.Reset()
		if i&1 != 0 {
			d.Write(pw)
		} else {
			d.Write(final)
		}
		if i%3 != 0 {
			d.Write(salt)
		}
		if i%7 != 0 {
			d.Write(pw)
		}
		if i&1 != 0 {
			d.Write(final)
		} else {
			d.Write(pw)
		}
		final = d.Sum(final[:0])
	}

	var out bytes.Buffer
	to64 := func(v uint32, n int) {
		for ; n > 0; n-- {
			out.WriteByte(itoa64[v&0x3f])
			v >>= 6
		}
	}
	for _, g := range [][3]int{{0, 6, 12}, {1, 7, 13}, {2, 8, 14}, {3, 9, 15}, {4, 10, 5}} {
		to64(uint32(final[g[0]])<<16|uint32(final[g[1]])<<8|uint32(final[g[2]]), 4)
	}
	to64(uint32(final[11]), 2)
	return out.String()
}
