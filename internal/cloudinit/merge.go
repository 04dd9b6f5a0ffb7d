package cloudinit

import (
	"errors"
	"io"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// OwnedKeys are cloud-config keys (dotted for nested ones) that only the
// provider sets, each with the jhub_droplet attribute to use instead. ExtraCloudConfig
// may not touch them: they carry SSH access, host identity, pinning and swap,
// and a merged-in change would silently weaken or break those.
var OwnedKeys = map[string]string{
	"users":                     "admin_user and ssh_public_keys",
	"user":                      "admin_user and ssh_public_keys",
	"ssh_authorized_keys":       "ssh_public_keys",
	"ssh_keys":                  "(the host key the provider pins)",
	"ssh_deletekeys":            "(the host key the provider pins)",
	"ssh_genkeytypes":           "(the host key the provider pins)",
	"ssh_pwauth":                "(password login stays off)",
	"disable_root":              "(root login stays off)",
	"disable_root_opts":         "(root login stays off)",
	"allow_public_ssh_keys":     "ssh_public_keys",
	"password":                  "(no passwords in user_data)",
	"chpasswd":                  "(no passwords in user_data)",
	"hostname":                  "name",
	"fqdn":                      "name",
	"preserve_hostname":         "name",
	"prefer_fqdn_over_hostname": "name",
	"swap":                      "swap_mib",
	"apt.primary":               "apt_mirror",
	"apt.security":              "apt_security_mirror",
	"apt.sources_list":          "apt_mirror",
	"apt.preserve_sources_list": "apt_mirror",
}

// privateKeyPEM catches PEM and OpenSSH private keys, encrypted or not.
var privateKeyPEM = regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----`)

// parseExtra reads ExtraCloudConfig: one YAML mapping (an optional
// "#cloud-config" line is just a comment), or nothing.
func parseExtra(s string) (map[string]any, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	if privateKeyPEM.MatchString(s) {
		return nil, fieldErr(atExtraCloudConfig, "contains a private key; user_data is readable on the droplet through the metadata service, so send secrets over SSH (jhub_edge) instead")
	}
	dec := yaml.NewDecoder(strings.NewReader(s))
	var node yaml.Node
	if err := dec.Decode(&node); errors.Is(err, io.EOF) {
		return nil, nil // only comments
	} else if err != nil {
		return nil, fieldErr(atExtraCloudConfig, "not valid YAML: %v", err)
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return nil, fieldErr(atExtraCloudConfig, "must be a single YAML document (found a second one, or trailing garbage)")
	}
	doc := &node
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	if doc.Kind == yaml.ScalarNode && doc.Tag == "!!null" {
		return nil, nil
	}
	if doc.Kind != yaml.MappingNode {
		return nil, fieldErr(atExtraCloudConfig, "must be a YAML mapping of cloud-config keys (like \"packages: [htop]\")")
	}
	if err := checkExtraNode(doc, "", map[*yaml.Node]bool{}); err != nil {
		return nil, err
	}
	var m map[string]any
	if err := doc.Decode(&m); err != nil {
		return nil, fieldErr(atExtraCloudConfig, "cannot read it as cloud-config: %v", err)
	}
	// Anything that does not survive a round trip through the encoder (odd
	// tags, non-string keys deep inside) would be rendered differently from
	// what the user wrote; refuse it rather than guess.
	if _, err := yaml.Marshal(m); err != nil {
		return nil, fieldErr(atExtraCloudConfig, "cannot be re-encoded: %v", err)
	}
	return m, nil
}

// mergeExtra merges extra into doc: mappings deep-merged, lists appended (so
// the user's runcmd runs after the provider's), equal scalars accepted, and
// anything else a conflict naming the dotted key.
func mergeExtra(doc, extra map[string]any) error {
	if err := checkWriteFiles(doc, extra); err != nil {
		return err
	}
	return mergeMap(doc, extra, "")
}

func mergeMap(dst, src map[string]any, prefix string) error {
	for _, k := range sortedKeys(src) {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		if field, ok := OwnedKeys[key]; ok {
			return fieldErr(atExtraCloudConfig, "key %q is managed by the provider; use %s", key, field)
		}
		sv := src[k]
		dv, exists := dst[k]
		if !exists {
			dst[k] = sv
			continue
		}
		switch d := dv.(type) {
		case map[string]any:
			s, ok := sv.(map[string]any)
			if !ok {
				return fieldErr(atExtraCloudConfig, "key %q must be a mapping to merge with the provider's", key)
			}
			if err := mergeMap(d, s, key); err != nil {
				return err
			}
		case []any:
			s, ok := sv.([]any)
			if !ok {
				return fieldErr(atExtraCloudConfig, "key %q must be a list to be appended to the provider's", key)
			}
			dst[k] = append(d, s...)
		default:
			if !reflect.DeepEqual(dv, sv) {
				return fieldErr(atExtraCloudConfig, "key %q conflicts with the provider's value %v", key, dv)
			}
		}
	}
	return nil
}

// checkWriteFiles refuses extra write_files entries aimed at a file the
// provider writes: appending would let the later entry replace the sshd
// hardening or the metadata rule.
func checkWriteFiles(doc, extra map[string]any) error {
	entries, ok := extra["write_files"].([]any)
	if !ok {
		return nil
	}
	var ours []string
	for _, f := range doc["write_files"].([]any) {
		ours = append(ours, f.(map[string]any)["path"].(string))
	}
	for i, e := range entries {
		m, ok := e.(map[string]any)
		if !ok {
			continue // cloud-init's schema check reports malformed entries
		}
		if p, _ := m["path"].(string); slices.Contains(ours, path.Clean(p)) {
			return fieldErr(atExtraCloudConfig, "write_files[%d] writes %s, which the provider writes", i, p)
		}
	}
	return nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
