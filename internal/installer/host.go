package installer

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/classhub/terraform-provider-jhub/internal/ondroplet"
)

// WaitCloudInit blocks until cloud-init has finished. When it failed, the
// error carries `cloud-init status --long` and the error lines of its logs,
// which name the failing module.
func (c *Client) WaitCloudInit(ctx context.Context) error {
	_, _, err := c.Run(ctx, c.sudo+"cloud-init status --wait", nil)
	var xe *ExitError
	if err == nil || (errors.As(err, &xe) && xe.Status == 2) {
		// 2: done with recoverable errors (deprecations on newer cloud-init).
		return nil
	}
	if !errors.As(err, &xe) || xe.Status < 0 {
		return fmt.Errorf("waiting for cloud-init: %w", err)
	}
	logs := c.p(ondroplet.CloudInitLogDir)
	report, _ := c.sh(ctx, `cloud-init status --long 2>&1 || true
echo "--- errors in `+logs+`/cloud-init.log:"
grep -E '\[(WARNING|ERROR|CRITICAL)\]' `+logs+`/cloud-init.log 2>/dev/null | tail -n 30 || true
echo "--- end of `+logs+`/cloud-init-output.log:"
tail -n 30 `+logs+`/cloud-init-output.log 2>/dev/null || true`, nil)
	return fmt.Errorf("cloud-init failed on %s (the droplet's bootstrap; fix the cloud-init payload or recreate the droplet):\n%s", c.addr, strings.TrimSpace(string(report)))
}

// Alive reports whether the connection still reaches the host: a droplet
// that rebooted or was replaced leaves a dead one behind.
func (c *Client) Alive(ctx context.Context) error {
	_, _, err := c.Run(ctx, "true", nil)
	return err
}

// Arch is the Go architecture of the host: "amd64" or "arm64".
func (c *Client) Arch(ctx context.Context) (string, error) {
	out, _, err := c.Run(ctx, "uname -m", nil)
	if err != nil {
		return "", fmt.Errorf("reading the machine type: %w", err)
	}
	switch m := strings.TrimSpace(string(out)); m {
	case "x86_64", "amd64":
		return "amd64", nil
	case "aarch64", "arm64":
		return "arm64", nil
	default:
		return "", fmt.Errorf("machine type %q of %s is not supported: the edge is built for x86_64 (amd64) and aarch64 (arm64); pick a droplet of one of those", m, c.addr)
	}
}
