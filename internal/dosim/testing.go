package dosim

import (
	"strings"
	"testing"
)

// NewTest starts a server for one test and closes it on cleanup. Cleanup
// fails the test, listing them, if any conformance violation was recorded.
// Without the spec the test logs how to enable conformance (with CI=true,
// it fails instead).
func NewTest(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if !s.Conformance() {
		t.Logf("dosim: OpenAPI conformance is OFF: set %s=/path/to/DigitalOcean-public.v2.yaml to check traffic", SpecEnv)
	}
	t.Cleanup(func() {
		s.Close()
		if v := s.Violations(); len(v) > 0 {
			t.Errorf("dosim: %d OpenAPI conformance violation(s):\n  %s", len(v), strings.Join(v, "\n  "))
		}
	})
	return s
}
