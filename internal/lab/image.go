package lab

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// ImageSlug is the DigitalOcean image the lab's golden image stands for; the
// lab boots droplets of this image only.
const ImageSlug = "debian-13-x64"

// ImageSuite is the Debian release of the golden image.
const ImageSuite = "trixie"

// SetupScript is the script that builds the lab image, relative to the
// module root; its hash names the image.
const SetupScript = "scripts/setup-lab.sh"

// CacheDir is where setup scripts keep what outlives a clone.
func CacheDir() string {
	if d := os.Getenv("JHUB_CACHE"); d != "" {
		return d
	}
	return "/var/cache/jhub"
}

// FindImage returns the golden root filesystem built by scripts/setup-lab.sh
// for the recipe in this checkout: $JHUB_LAB_IMAGE if set, else
// $JHUB_CACHE/lab/image-<first 16 hex digits of sha256(setup-lab.sh)>, the
// same name the script publishes. A stale or missing image is an error that
// says which command builds it.
func FindImage() (string, error) {
	if p := os.Getenv("JHUB_LAB_IMAGE"); p != "" {
		if !exists(filepath.Join(p, "etc/jhub-lab-recipe")) {
			return "", fmt.Errorf("lab: JHUB_LAB_IMAGE=%s is not a lab image (no etc/jhub-lab-recipe); unset it or run `sudo bash %s`", p, SetupScript)
		}
		return p, nil
	}
	script, err := findScript()
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(script)
	if err != nil {
		return "", fmt.Errorf("lab: %w", err)
	}
	sum := sha256.Sum256(b)
	img := filepath.Join(CacheDir(), "lab", "image-"+hex.EncodeToString(sum[:])[:16])
	if !exists(filepath.Join(img, "etc/jhub-lab-recipe")) {
		return "", fmt.Errorf("lab: no image for the current recipe at %s; build it with `sudo bash %s` (a few minutes, once per recipe)", img, SetupScript)
	}
	// When a lab last used the image: setup-lab.sh removes images of other
	// recipes only once no lab has used them for a week. The stamp lies
	// beside the image, which must not change under the droplets' overlays.
	stamp := img + ".used"
	f, err := os.OpenFile(stamp, os.O_CREATE|os.O_WRONLY, 0o644)
	if err == nil {
		err = f.Close()
	}
	if err == nil {
		now := time.Now()
		err = os.Chtimes(stamp, now, now)
	}
	if err != nil {
		return "", fmt.Errorf("lab: marking the image used (without the mark, setup-lab.sh of another recipe may remove it): %w", err)
	}
	return img, nil
}

// findScript walks up from the working directory to the module root.
func findScript() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("lab: %w", err)
	}
	for {
		p := filepath.Join(dir, SetupScript)
		if exists(p) && exists(filepath.Join(dir, "go.mod")) {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("lab: %s not found above the working directory; run from the jhub checkout or set JHUB_LAB_IMAGE", SetupScript)
		}
		dir = parent
	}
}
