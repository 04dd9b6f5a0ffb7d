package cloudinit

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// cloud-init reads user_data with PyYAML, which resolves plain scalars by
// YAML 1.1 rules; yaml.v3, which reads ExtraCloudConfig and writes the
// payload, follows YAML 1.2. The two disagree on yes/on/off, 0o17, 1e3, 1:30,
// "2001-12-14 12:00:00" and "=" (which PyYAML cannot load at all), and PyYAML
// folds the keys 0, 0., false and no into one Python key. So ExtraCloudConfig
// is refused where the two would read it differently (checkExtraNode), and the
// payload is written so that both read the same values (payloadNode).

// yaml11Resolvers are PyYAML's implicit resolvers (yaml/resolver.py), in its
// order; a plain scalar matching none of them is a string.
var yaml11Resolvers = []struct {
	tag string
	re  *regexp.Regexp
}{
	{"!!bool", regexp.MustCompile(`^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$`)},
	{"!!float", regexp.MustCompile(`^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$`)},
	{"!!int", regexp.MustCompile(`^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$`)},
	{"!!merge", regexp.MustCompile(`^<<$`)},
	{"!!null", regexp.MustCompile(`^(?:~|null|Null|NULL|)$`)},
	{"!!timestamp", regexp.MustCompile(`^(?:[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)$`)},
	{"!!value", regexp.MustCompile(`^=$`)},
}

// yaml11Tag is the tag PyYAML gives a plain scalar.
func yaml11Tag(plain string) string {
	for _, r := range yaml11Resolvers {
		if r.re.MatchString(plain) {
			return r.tag
		}
	}
	return "!!str"
}

// isPlain reports a scalar written without quotes, block style or tag, the
// only kind whose type the reader guesses.
func isPlain(n *yaml.Node) bool {
	return n.Style&(yaml.TaggedStyle|yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0
}

// tagNames says what a tag means to someone writing cloud-config.
var tagNames = map[string]string{
	"!!str":       "a string",
	"!!bool":      "a boolean",
	"!!int":       "an integer",
	"!!float":     "a float",
	"!!null":      "null",
	"!!timestamp": "a date",
	"!!merge":     "a merge key (<<)",
	"!!value":     "the YAML 1.1 value key '=', which cloud-init cannot load",
}

func tagName(tag string) string {
	if s, ok := tagNames[tag]; ok {
		return s
	}
	return "tagged " + tag
}

// checkExtraNode walks the parsed ExtraCloudConfig, each node once (so that
// aliases cost nothing), and refuses what cloud-init would read differently
// from yaml.v3: every mapping key must be a string to both, and every value
// the same type to both. at is the dotted key path, "" at the top.
func checkExtraNode(n *yaml.Node, at string, seen map[*yaml.Node]bool) error {
	if seen[n] {
		return nil
	}
	seen[n] = true
	where := ""
	if at != "" {
		where = " (at " + at + ")"
	}
	if n.Style&yaml.TaggedStyle != 0 && !slices.Contains([]string{"!!str", "!!binary", "!!map", "!!seq"}, n.ShortTag()) {
		return fieldErr(atExtraCloudConfig, "%s%s has the tag %s; only !!str and !!binary mean the same to cloud-init, so write it without the tag", describe(n), where, n.Tag)
	}
	switch n.Kind {
	case yaml.AliasNode:
		return checkExtraNode(n.Alias, at, seen)
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if err := checkExtraNode(c, fmt.Sprintf("%s[%d]", at, i), seen); err != nil {
				return err
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.ScalarNode && isPlain(k) && k.Value == "<<" {
				// A merge key: both readers merge the mapping(s) in.
				if err := checkExtraNode(v, at, seen); err != nil {
					return err
				}
				continue
			}
			if k.Kind != yaml.ScalarNode {
				return fieldErr(atExtraCloudConfig, "a mapping key%s is a collection; cloud-config keys are names", where)
			}
			name := k.Value
			if at != "" {
				name = at + "." + k.Value
			}
			if v11, v12 := readAs(k), k.ShortTag(); v11 != "!!str" || v12 != "!!str" {
				reader, t := "cloud-init (YAML 1.1)", v11
				if v11 == "!!str" {
					reader, t = "YAML 1.2", v12
				}
				return fieldErr(atExtraCloudConfig, "key %q%s is %s to %s, not a name (cloud-init would fold keys such as 0, 0., false and no into one); quote it (\"%s\") if it is a name", k.Value, where, tagName(t), reader, k.Value)
			}
			if err := checkExtraNode(v, name, seen); err != nil {
				return err
			}
		}
	case yaml.ScalarNode:
		v11, v12 := readAs(n), n.ShortTag()
		switch {
		case v11 != v12:
			return fieldErr(atExtraCloudConfig, "value %s%s is %s to cloud-init (YAML 1.1) but %s in YAML 1.2; write it so both agree: quote it (\"%s\") for a string, or use true/false or a plain decimal number", n.Value, where, tagName(v11), tagName(v12), n.Value)
		case v11 == "!!timestamp" || v11 == "!!merge":
			return fieldErr(atExtraCloudConfig, "value %s%s is %s to cloud-init; cloud-config wants a string there, so quote it (\"%s\")", n.Value, where, tagName(v11), n.Value)
		}
	}
	return nil
}

// describe names a tagged node for an error without echoing a collection.
func describe(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return fmt.Sprintf("value %q", n.Value)
	}
	return "a collection"
}

// readAs is the tag cloud-init's PyYAML gives a parsed scalar.
func readAs(n *yaml.Node) string {
	if isPlain(n) {
		return yaml11Tag(n.Value)
	}
	return n.ShortTag()
}

// payloadNode builds the YAML for v (the merged document) so that PyYAML reads
// the values yaml.v3 would: strings that YAML 1.1 would resolve to something
// else are double-quoted, and floats always carry the '.' YAML 1.1 requires.
// Mapping keys come out sorted, as yaml.v3 writes Go maps.
func payloadNode(v any) (*yaml.Node, error) {
	switch v := v.(type) {
	case map[string]any:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for _, k := range sortedKeys(v) {
			val, err := payloadNode(v[k])
			if err != nil {
				return nil, err
			}
			key, err := payloadNode(k)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, key, val)
		}
		return n, nil
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, e := range v {
			c, err := payloadNode(e)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, c)
		}
		return n, nil
	case float64:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: yaml11Float(v)}, nil
	case string:
		// The encoder picks block style for multi-line text, quotes what YAML
		// 1.2 would resolve to another type, and writes bytes that are not
		// UTF-8 as !!binary (which needs the tag left empty).
		n := &yaml.Node{Kind: yaml.ScalarNode, Value: v}
		if utf8.ValidString(v) {
			n.Tag = "!!str"
			if yaml11Tag(v) != "!!str" {
				n.Style = yaml.DoubleQuotedStyle
			}
		}
		return n, nil
	}
	// Booleans, integers and null, which both versions spell alike.
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		return nil, fmt.Errorf("cloudinit: encoding %T: %w", v, err)
	}
	return &n, nil
}

// yaml11Float spells f so that both YAML versions read a float: with a '.'
// before any exponent, and the exponent signed.
func yaml11Float(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return ".inf"
	case math.IsInf(f, -1):
		return "-.inf"
	case math.IsNaN(f):
		return ".nan"
	}
	s := strconv.FormatFloat(f, 'g', -1, 64) // "1e+06", "0.5", "3"
	mant, exp, hasExp := strings.Cut(s, "e")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	if hasExp {
		return mant + "e" + exp
	}
	return mant
}
