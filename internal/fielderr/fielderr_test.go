package fielderr

import (
	"errors"
	"fmt"
	"testing"
)

func TestPathString(t *testing.T) {
	for _, c := range []struct {
		p    Path
		want string
	}{
		{Root("tls").Name("acme_email"), "tls.acme_email"},
		{Root("sites").Index(2).Name("basic_auth").Name("paths").Index(0), "sites[2].basic_auth.paths[0]"},
		{Root("basic_auth_users").Key(`b"ob`), `basic_auth_users["b\"ob"]`},
		{Root("allowed_users").Elem("alice"), `allowed_users["alice"]`},
	} {
		if got := c.p.String(); got != c.want {
			t.Errorf("got %s, want %s", got, c.want)
		}
	}
}

func TestPathsNeverAlias(t *testing.T) {
	base := make(Path, 1, 8)
	base[0] = Step{Name: "sites"}
	a, b := base.Index(0), base.Index(1)
	if a.String() != "sites[0]" || b.String() != "sites[1]" {
		t.Fatalf("shared prefix aliased: %s %s", a, b)
	}
}

func TestListCollectsAndAllFindsThroughWrapping(t *testing.T) {
	var l List
	if l.Err() != nil {
		t.Fatal("empty list must be nil")
	}
	l.Add(Root("base_url"), "%q is not a path", "x y")
	var inner List
	inner.Add(Root("tls").Name("mode"), "required")
	l.Append(Root("ignored"), fmt.Errorf("render: %w", inner.Err()))
	l.Append(Root("spawner"), errors.New("plain"))
	got := All(fmt.Errorf("wrapped: %w", l.Err()))
	if len(got) != 3 {
		t.Fatalf("got %d errors: %v", len(got), got)
	}
	want := []string{`base_url: "x y" is not a path`, "tls.mode: required", "spawner: plain"}
	for i, e := range got {
		if e.Error() != want[i] {
			t.Errorf("error %d = %q, want %q", i, e.Error(), want[i])
		}
	}
}

func TestParseRoundTrips(t *testing.T) {
	for _, p := range []Path{
		Root("tls").Name("acme_email"),
		Root("sites").Index(12).Name("basic_auth").Name("paths").Index(0),
		Root("basic_auth_users").Key(`we"ird].key`),
		Root("auth").Name("admin_passwords").Key("teacher"),
	} {
		got, err := Parse(p.String())
		if err != nil || got.String() != p.String() {
			t.Errorf("Parse(%s) = %s, %v", p, got, err)
		}
	}
	for _, bad := range []string{"a[", "a[x]", `a["x`, "a..b", "[1"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}
