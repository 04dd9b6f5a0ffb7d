package provider

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-log/tflog"
)

// resize powers the droplet off, resizes it (CPU and memory only unless
// disk, so it can shrink again later) and powers it on, also when the resize
// itself failed.
func (r *dropletResource) resize(ctx context.Context, id int, size string, disk bool) error {
	if err := r.act(ctx, id, "power_off", func() (*godo.Action, *godo.Response, error) {
		return r.client.do.DropletActions.PowerOff(ctx, id)
	}); err != nil {
		return err
	}
	resizeErr := r.act(ctx, id, "resize", func() (*godo.Action, *godo.Response, error) {
		return r.client.do.DropletActions.Resize(ctx, id, size, disk)
	})
	onErr := r.act(ctx, id, "power_on", func() (*godo.Action, *godo.Response, error) {
		return r.client.do.DropletActions.PowerOn(ctx, id)
	})
	if resizeErr != nil {
		return resizeErr
	}
	return onErr
}

// setTags moves the droplet from the tags it has to the tags it should have,
// as DigitalOcean's own provider does (setResourceTags).
func (r *dropletResource) setTags(ctx context.Context, id int, have, want []string) error {
	return setResourceTags(ctx, r.client.do, godo.Resource{ID: strconv.Itoa(id), Type: godo.DropletResourceType}, have, want)
}

// waitCreated waits for the droplet's create action, or its status where the
// API gave no action link, to finish.
func (r *dropletResource) waitCreated(ctx context.Context, id int, apiResp *godo.Response) error {
	if apiResp != nil && apiResp.Links != nil {
		for _, a := range apiResp.Links.Actions {
			if a.Rel == "create" {
				if err := r.waitAction(ctx, a.ID); err != nil {
					return err
				}
			}
		}
	}
	return poll(ctx, func() (bool, error) {
		d, _, err := r.client.do.Droplets.Get(ctx, id)
		if isNotFound(err) {
			// Just-created droplets can 404 for a moment.
			return false, nil
		}
		if err != nil {
			return false, err
		}
		switch d.Status {
		case "active":
			return true, nil
		case "new":
			return false, nil
		default:
			return false, fmt.Errorf("status is %q", d.Status)
		}
	})
}

// act starts a droplet action and waits for it to complete.
func (r *dropletResource) act(ctx context.Context, id int, kind string, start func() (*godo.Action, *godo.Response, error)) error {
	tflog.Info(ctx, "droplet action", map[string]any{"id": id, "type": kind})
	a, _, err := start()
	if err != nil {
		return fmt.Errorf("starting %s on droplet %d: %w", kind, id, err)
	}
	if err := r.waitAction(ctx, a.ID); err != nil {
		return fmt.Errorf("%s on droplet %d: %w", kind, id, err)
	}
	return nil
}

func (r *dropletResource) waitAction(ctx context.Context, actionID int) error {
	return waitAction(ctx, func() (*godo.Action, *godo.Response, error) { return r.client.do.Actions.Get(ctx, actionID) })
}

// waitAction polls an action (droplet or volume) until it completes; an
// action that ends otherwise is an error naming it. A 404 right after the
// start is the API catching up.
func waitAction(ctx context.Context, get func() (*godo.Action, *godo.Response, error)) error {
	return poll(ctx, func() (bool, error) {
		a, _, err := get()
		if isNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		switch a.Status {
		case godo.ActionCompleted:
			return true, nil
		case godo.ActionInProgress:
			return false, nil
		default:
			return false, fmt.Errorf("action %d (%s) ended %q", a.ID, a.Type, a.Status)
		}
	})
}

// pollInterval bounds the wait between checks of a long-running operation.
const pollInterval = 5 * time.Second

// poll calls done until it reports true or an error, backing off from a
// quarter second to pollInterval, and honouring the context's deadline.
func poll(ctx context.Context, done func() (bool, error)) error {
	wait := 250 * time.Millisecond
	for {
		ok, err := done()
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gave up waiting: %w", ctx.Err())
		case <-time.After(wait):
		}
		wait = min(wait*2, pollInterval)
	}
}
