// Package bundle carries the jhub-edge builds inside the provider, so that it
// can install the edge on a droplet from wherever Terraform runs (macOS,
// Windows, Terraform Cloud) without downloading anything.
package bundle

import (
	"bytes"
	"compress/gzip"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"sync"
)

// builds holds what `make bundle` produced; in a plain `go build` it holds only
// the README, and Edge says how to get a provider that can install the edge.
//
//go:embed builds
var builds embed.FS

// Arches are the droplet architectures the bundle carries.
var Arches = []string{"amd64", "arm64"}

// decompressed keeps each build once unpacked: a refresh and the update
// after it in one provider process both need it. Callers must not modify it.
var decompressed sync.Map // arch -> []byte

// Edge returns the jhub-edge binary for linux/arch.
func Edge(arch string) ([]byte, error) {
	if b, ok := decompressed.Load(arch); ok {
		return b.([]byte), nil
	}
	b, err := edgeFrom(builds, arch)
	if err == nil {
		decompressed.Store(arch, b)
	}
	return b, err
}

func edgeFrom(fsys fs.FS, arch string) ([]byte, error) {
	name := "builds/jhub-edge-linux-" + arch + ".gz"
	gz, err := fs.ReadFile(fsys, name)
	if err != nil {
		known := false
		for _, a := range Arches {
			known = known || a == arch
		}
		if !known {
			return nil, fmt.Errorf("no jhub-edge build for linux/%s: the provider carries builds for %v; use a droplet image for one of those", arch, Arches)
		}
		return nil, fmt.Errorf("this provider was built without the jhub-edge bundle (%s is missing): build it with `make build` (or a release build), not a plain `go build`", name)
	}
	r, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("bundled %s is corrupt: %w", name, err)
	}
	bin, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("bundled %s is corrupt: %w", name, err)
	}
	return bin, nil
}
