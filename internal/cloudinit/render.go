package cloudinit

import (
	"bytes"
	"embed"
	"fmt"
	"slices"
	"strings"
	"text/template"

	"gopkg.in/yaml.v3"
)

// The document is built as Go values and marshalled with yaml.v3 rather than
// templated as text: every user-supplied string is then quoted by the YAML
// encoder, so no value can break out of its scalar, and ExtraCloudConfig can be
// merged structurally. text/template only fills the embedded file bodies below,
// and those take the fixed parameters in filesData, never user input.

//go:embed files/*.tmpl
var filesFS embed.FS

var filesTmpl = template.Must(template.New("files").Option("missingkey=error").ParseFS(filesFS, "files/*.tmpl"))

// Paths and values the payload and its file bodies agree on.
const (
	metadataIP      = "169.254.169.254"
	metadataMarker  = "# jhub: metadata service for root only"
	ufwBeforeRules  = "/etc/ufw/before.rules"
	metadataSnippet = "/etc/ufw/jhub-before-output.rules"
	blockMetadata   = "/usr/local/sbin/jhub-block-metadata"
	sshdDropIn      = "/etc/ssh/sshd_config.d/10-jhub.conf"
	autoUpgrades    = "/etc/apt/apt.conf.d/20auto-upgrades"
	hostKeyFile     = "/etc/ssh/ssh_host_ed25519_key"
	swapFile        = "/swapfile"
)

var filesData = struct {
	Marker, MetadataIP, UfwBeforeRules, SnippetFile, HostKeyFile string
}{metadataMarker, metadataIP, ufwBeforeRules, metadataSnippet, hostKeyFile}

// basePackages are installed by cloud-init's package module, before runcmd
// sets up the firewall that needs ufw.
var basePackages = []string{"ufw", "unattended-upgrades"}

// firewallCommands run in order from runcmd. The reset makes "nothing else
// open" true even on an image that ships ufw with rules of its own, and leaves
// ufw stopped, so the enable at the end loads the before.rules into which the
// metadata rule was spliced.
var firewallCommands = [][]string{
	{"ufw", "--force", "reset"},
	{blockMetadata},
	{"ufw", "default", "deny", "incoming"},
	{"ufw", "default", "allow", "outgoing"},
	{"ufw", "limit", "22/tcp"},
	{"ufw", "allow", "80/tcp"},
	{"ufw", "allow", "443/tcp"},
	{"ufw", "--force", "enable"},
}

func renderFile(name string) (string, error) {
	var b strings.Builder
	if err := filesTmpl.ExecuteTemplate(&b, name, filesData); err != nil {
		return "", fmt.Errorf("cloudinit: rendering embedded %s: %w", name, err)
	}
	return b.String(), nil
}

// files are the write_files entries. Permissions are strings: cloud-init's
// schema rejects 0600 read as an integer.
func files() ([]any, error) {
	specs := []struct{ path, tmpl, perm string }{
		{sshdDropIn, "sshd.conf.tmpl", "0644"},
		{metadataSnippet, "ufw-before-output.rules.tmpl", "0644"},
		{blockMetadata, "block-metadata.sh.tmpl", "0755"},
		{autoUpgrades, "auto-upgrades.tmpl", "0644"},
	}
	out := make([]any, 0, len(specs))
	for _, s := range specs {
		content, err := renderFile(s.tmpl)
		if err != nil {
			return nil, err
		}
		out = append(out, map[string]any{"path": s.path, "owner": "root:root", "permissions": s.perm, "content": content})
	}
	return out, nil
}

// Render validates c and returns the complete user_data, "#cloud-config\n"
// first. The output is deterministic for a given Config.
func Render(c Config) ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	doc, err := c.document()
	if err != nil {
		return nil, err
	}
	extra, err := parseExtra(c.ExtraCloudConfig)
	if err != nil {
		return nil, err
	}
	if err := mergeExtra(doc, extra); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.WriteString("#cloud-config\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	node, err := payloadNode(doc)
	if err != nil {
		return nil, err
	}
	if err := enc.Encode(node); err != nil {
		return nil, fmt.Errorf("cloudinit: encoding user_data: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("cloudinit: encoding user_data: %w", err)
	}
	if buf.Len() > MaxUserData {
		return nil, fieldErr(atExtraCloudConfig, "the rendered user_data is %d bytes, over DigitalOcean's limit of %d bytes (64 KiB); shrink extra_cloud_config or ship large files over SSH", buf.Len(), MaxUserData)
	}
	return buf.Bytes(), nil
}

// document is the provider's own part of the payload as generic YAML values,
// so that ExtraCloudConfig can be merged into it.
func (c Config) document() (map[string]any, error) {
	writeFiles, err := files()
	if err != nil {
		return nil, err
	}
	writeFiles = append(writeFiles, c.sshdAllowUsers())
	hub, _ := c.hubInstaller() // validated by Render

	runcmd := []any{}
	for _, cmd := range append(slices.Clone(firewallCommands), hub.commands()...) {
		runcmd = append(runcmd, toAnyList(cmd))
	}
	packages := []any{}
	seen := map[string]bool{}
	for _, p := range append(slices.Clone(basePackages), c.Packages...) {
		if !seen[p] {
			seen[p] = true
			packages = append(packages, p)
		}
	}

	// Host names are case-insensitive; DigitalOcean droplet names need not be.
	hostname := strings.ToLower(c.Hostname)
	doc := map[string]any{
		"preserve_hostname": false,
		"hostname":          strings.SplitN(hostname, ".", 2)[0],
		"users": []any{map[string]any{
			"name":                c.AdminUser,
			"shell":               "/bin/bash",
			"sudo":                "ALL=(ALL) NOPASSWD:ALL",
			"lock_passwd":         true,
			"ssh_authorized_keys": toAnyList(slices.Concat(c.AdminKeys, c.AccountKeys)),
		}},
		"disable_root":   true,
		"ssh_pwauth":     false,
		"ssh_deletekeys": true,
		// With ssh_keys present cloud-init generates nothing; the schema wants
		// a non-empty list, and ed25519 is the only type we would ever want.
		"ssh_genkeytypes": []any{"ed25519"},
		"ssh_keys": map[string]any{
			"ed25519_private": c.HostKey.Private,
			"ed25519_public":  c.HostKey.Public,
		},
		"package_update": true,
		"packages":       packages,
		"write_files":    writeFiles,
		"runcmd":         runcmd,
	}
	if strings.Contains(hostname, ".") {
		doc["fqdn"] = hostname
	}
	if c.SwapMiB > 0 {
		size := c.SwapMiB * 1024 * 1024
		doc["swap"] = map[string]any{"filename": swapFile, "size": size, "maxsize": size}
	}
	if c.AptMirror != "" {
		sources, err := renderFile("sources.list.tmpl")
		if err != nil {
			return nil, err
		}
		doc["apt"] = map[string]any{
			"preserve_sources_list": false,
			"primary":               []any{map[string]any{"arches": []any{"default"}, "uri": c.AptMirror}},
			"security":              []any{map[string]any{"arches": []any{"default"}, "uri": c.AptSecurityMirror}},
			"sources_list":          sources,
		}
	}
	return doc, nil
}

func toAnyList[T any](in []T) []any {
	out := make([]any, len(in))
	for i, v := range in {
		out[i] = v
	}
	return out
}
