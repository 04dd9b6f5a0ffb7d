package basicauth

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readPasswords reads testdata/vectors.passwords (USER<TAB>PASSWORD, the
// input of testdata/gen-vectors.sh); the password is kept byte for byte.
func readPasswords(t testing.TB) map[string]string {
	t.Helper()
	fh, err := os.Open("testdata/vectors.passwords")
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	pw := map[string]string{}
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		user, p, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			t.Fatalf("bad vectors.passwords line %q", sc.Text())
		}
		pw[user] = p
	}
	return pw
}

// TestVectors checks every hash Debian's htpasswd produced (see
// testdata/gen-vectors.sh) against its password and a wrong one.
func TestVectors(t *testing.T) {
	f, err := Load("testdata/vectors.htpasswd")
	if err != nil {
		t.Fatal(err)
	}
	pws := readPasswords(t)
	kinds := map[string]hashKind{"B": kindBcrypt, "m": kindAPR1, "s": kindSHA}
	checked := 0
	for user, h := range f.users {
		base, scheme, _ := strings.Cut(user, "-")
		pw, ok := pws[base]
		if !ok {
			t.Fatalf("no password for %s", user)
		}
		if h.kind != kinds[scheme] {
			t.Errorf("%s: parsed as kind %d, want %d", user, h.kind, kinds[scheme])
		}
		if !f.Verify(user, pw) {
			t.Errorf("%s: correct password rejected", user)
		}
		if f.Verify(user, "!"+pw) || (len(pw) <= 72 && f.Verify(user, pw[:len(pw)-1])) || f.Verify(user, "") {
			t.Errorf("%s: wrong password accepted", user)
		}
		checked++
	}
	if checked != 3*len(pws) {
		t.Fatalf("checked %d entries, want %d", checked, 3*len(pws))
	}
}

func TestLongBcryptPasswordTruncatedLikeApache(t *testing.T) {
	f, err := Load("testdata/vectors.htpasswd")
	if err != nil {
		t.Fatal(err)
	}
	pw := readPasswords(t)["frank"]
	if len(pw) <= 72 {
		t.Fatalf("vector too short (%d bytes) to exercise truncation", len(pw))
	}
	// htpasswd hashed only the first 72 bytes, so any suffix matches.
	if !f.Verify("frank-B", pw[:72]+"anything") {
		t.Error("72-byte prefix with other suffix rejected; Apache accepts it")
	}
}

func TestAPR1KnownDigest(t *testing.T) {
	// From vectors.htpasswd: bob-m:$apr1$jeyPBt8D$89ZdrxbZSxnE9LOtLi3E00 for "x".
	if got := apr1([]byte("x"), []byte("jeyPBt8D")); got != "89ZdrxbZSxnE9LOtLi3E00" {
		t.Fatalf("apr1 = %s", got)
	}
}

func TestUnknownUser(t *testing.T) {
	f, err := Load("testdata/vectors.htpasswd")
	if err != nil {
		t.Fatal(err)
	}
	if f.Verify("mallory", "x") || f.Verify("", "") {
		t.Fatal("unknown user accepted")
	}
	// The dummy comparison uses the file's bcrypt cost so timing does not tell users apart.
	if f.dummyKind != kindBcrypt || f.dummyCost != 5 || f.dummy == nil {
		t.Fatalf("dummy kind %d cost %d (hash set: %v), want bcrypt at cost 5", f.dummyKind, f.dummyCost, f.dummy != nil)
	}
	// Without bcrypt entries, an unknown user costs what the slowest entry costs.
	for in, want := range map[string]hashKind{
		"a:{SHA}EfatjsUqKYSrqv18O1FlA3hcIHI=\nb:$apr1$jeyPBt8D$89ZdrxbZSxnE9LOtLi3E00\n": kindAPR1,
		"a:{SHA}EfatjsUqKYSrqv18O1FlA3hcIHI=\n":                                          kindSHA,
	} {
		f, err := Parse(strings.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		if f.Verify("mallory", "x") || f.dummyKind != want || f.dummy != nil {
			t.Errorf("%q: dummy kind %d (bcrypt dummy made: %v), want %d", in, f.dummyKind, f.dummy != nil, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	des, _ := os.ReadFile("testdata/des.htpasswd")
	plain, _ := os.ReadFile("testdata/plain.htpasswd")
	cases := []struct{ name, in, want string }{
		{"des", "# comment\n\n" + string(des), "line 3 (user \"des\"): looks like a crypt(3) DES hash"},
		{"plain", string(plain), "line 1 (user \"plain\"): looks like a plaintext password"},
		{"no colon", "alice\n", "line 1: expected USER:HASH"},
		{"empty user", ":{SHA}q/eq1kOINtvlJqojGr3i0O73TUI=\n", "line 1: empty user name"},
		{"dup", "a:{SHA}q/eq1kOINtvlJqojGr3i0O73TUI=\na:{SHA}q/eq1kOINtvlJqojGr3i0O73TUI=\n", "line 2: user \"a\" already defined on line 1"},
		{"bad bcrypt", "a:$2y$05$short\n", "line 1 (user \"a\"): malformed bcrypt hash"},
		{"bad bcrypt cost", "a:$2y$99$alF.JwNIwVdYkuTgNtqK4eJFmZJiI2h2GpEb9qGXlccicKK5eE7jW\n", "malformed bcrypt hash"},
		{"bad apr1", "a:$apr1$toolongsalt$bukAkKzas0tHcTsodw560.\n", "malformed $apr1$"},
		{"bad sha", "a:{SHA}AAAA\n", "malformed {SHA}"},
		{"md5crypt", "a:$1$abc$bukAkKzas0tHcTsodw560.\n", "unsupported hash scheme"},
		{"empty", "# only a comment\n", "no users"},
	}
	for _, c := range cases {
		_, err := Parse(strings.NewReader(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to contain %q", c.name, err, c.want)
			continue
		}
		// Errors must not leak the hash or password material.
		for line := range strings.SplitSeq(c.in, "\n") {
			if _, enc, ok := strings.Cut(line, ":"); ok && len(enc) > 9 && strings.Contains(err.Error(), enc) {
				t.Errorf("%s: error %q contains the hash", c.name, err)
			}
		}
		if !strings.Contains(err.Error(), "htpasswd") {
			t.Errorf("%s: error %q does not say how to fix it", c.name, err)
		}
	}
}

func TestLoadNamesFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "users.htpasswd")
	if err := os.WriteFile(p, []byte("a:plain\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p)
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("err = %v, want file name and line", err)
	}
	_, err = Load(p + ".missing")
	if err == nil || !strings.Contains(err.Error(), p+".missing") {
		t.Fatalf("err = %v, want file name", err)
	}
}

func TestCRLFAndComments(t *testing.T) {
	in := "# users\r\n\r\nbob:{SHA}EfatjsUqKYSrqv18O1FlA3hcIHI=\r\n  # indented comment\r\n"
	f, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if !f.Verify("bob", "x") {
		t.Fatal("CRLF entry not verified")
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range []string{"testdata/vectors.htpasswd", "testdata/des.htpasswd", "testdata/plain.htpasswd"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, in string) {
		hf, err := Parse(strings.NewReader(in))
		if err != nil {
			if !strings.Contains(err.Error(), "line") && !strings.Contains(err.Error(), "no users") {
				t.Fatalf("error without a line number: %v", err)
			}
			return
		}
		if len(hf.users) == 0 {
			t.Fatal("parsed without error but no users")
		}
		// Verify must never panic on what Parse accepted; cheap kinds only,
		// bcrypt with a fuzzed cost could take minutes.
		for u, h := range hf.users {
			if h.kind != kindBcrypt {
				hf.Verify(u, in)
			}
		}
	})
}
