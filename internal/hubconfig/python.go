package hubconfig

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// pyStr renders s as a single-quoted Python string literal made of printable
// ASCII only: quotes, backslashes, control characters and every non-ASCII
// rune are escaped, so no input can end the literal or start a new
// statement. s must be valid UTF-8 (Validate checks).
func pyStr(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range s {
		switch {
		case r == '\'' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		case r <= 0xff:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// pyValue is a Python expression: a literal built by the helpers below or
// raw code this package writes itself (never user input).
type pyValue string

func pyString(s string) pyValue { return pyValue(pyStr(s)) }

func pyBool(v bool) pyValue {
	if v {
		return "True"
	}
	return "False"
}

func pyInt(n int) pyValue { return pyValue(strconv.Itoa(n)) }

func pyList(items ...pyValue) pyValue {
	return pyValue("[" + join(items) + "]")
}

func pyStrings(ss []string) []pyValue {
	out := make([]pyValue, len(ss))
	for i, s := range ss {
		out[i] = pyString(s)
	}
	return out
}

// pySet renders a set literal; Python has no empty-set literal ({} is a dict).
func pySet(ss []string) pyValue {
	if len(ss) == 0 {
		return "set()"
	}
	return pyValue("{" + join(pyStrings(ss)) + "}")
}

// pyKV is one dict entry; a dict is a slice so output order is fixed.
type pyKV struct {
	Key   string
	Value pyValue
}

func pyDict(kvs ...pyKV) pyValue {
	items := make([]pyValue, len(kvs))
	for i, kv := range kvs {
		items[i] = pyValue(pyStr(kv.Key) + ": " + string(kv.Value))
	}
	return pyValue("{" + join(items) + "}")
}

func join(items []pyValue) string {
	ss := make([]string, len(items))
	for i, v := range items {
		ss[i] = string(v)
	}
	return strings.Join(ss, ", ")
}

// validText reports whether s can be rendered into the configs: valid UTF-8
// without NUL (Python source and YAML both reject NUL).
func validText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}
