package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-framework/diag"
)

// isNotFound reports whether a godo call failed because the object is gone.
func isNotFound(err error) bool {
	var er *godo.ErrorResponse
	return errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusNotFound
}

// apiError describes a failed API call with what was attempted; godo's own
// message already carries the status, the API's message and its request id.
func apiError(what string, err error) string {
	return fmt.Sprintf("%s: %s", what, err)
}

// clientFrom turns the provider's data into the shared client, reporting a
// provider that was not configured (for example an unknown token at plan time).
func clientFrom(data any, diags *diag.Diagnostics) *client {
	if data == nil {
		return nil
	}
	c, ok := data.(*client)
	if !ok {
		diags.AddError("Unexpected provider data", fmt.Sprintf("Expected *provider.client, got %T. This is a bug in the provider; please report it.", data))
		return nil
	}
	return c
}

// requireClient is called where an API call is about to happen.
func requireClient(c *client, diags *diag.Diagnostics) bool {
	if c == nil {
		diags.AddError("Provider not configured",
			"The jhub provider has no DigitalOcean client: its token or api_endpoint was unknown when it was configured. Set them from values known before apply, such as variables or environment variables.")
		return false
	}
	return true
}

// size looks a droplet size up by slug.
func (c *client) size(ctx context.Context, slug string) (godo.Size, bool, error) {
	sizes, err := c.allSizes(ctx)
	if err != nil {
		return godo.Size{}, false, err
	}
	s, ok := sizes[slug]
	return s, ok, nil
}

// smallestSize is the size with the least memory (then the cheapest)
// offered in region that fits accepts.
func (c *client) smallestSize(ctx context.Context, region string, fits func(godo.Size) bool) (godo.Size, bool, error) {
	sizes, err := c.allSizes(ctx)
	if err != nil {
		return godo.Size{}, false, err
	}
	var best godo.Size
	found := false
	for _, s := range sizes {
		if !s.Available || !slices.Contains(s.Regions, region) || !fits(s) {
			continue
		}
		if !found || s.Memory < best.Memory || (s.Memory == best.Memory && s.PriceMonthly < best.PriceMonthly) {
			best, found = s, true
		}
	}
	return best, found, nil
}

// allSizes lists DigitalOcean's sizes once per configured provider, so the
// plans of several droplets cost one call.
func (c *client) allSizes(ctx context.Context) (map[string]godo.Size, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sizes == nil {
		all, err := listAll(func(opt *godo.ListOptions) ([]godo.Size, *godo.Response, error) { return c.do.Sizes.List(ctx, opt) })
		if err != nil {
			return nil, err
		}
		c.sizes = map[string]godo.Size{}
		for _, s := range all {
			c.sizes[s.Slug] = s
		}
	}
	return c.sizes, nil
}

// listAll pages through a godo list call.
func listAll[T any](list func(*godo.ListOptions) ([]T, *godo.Response, error)) ([]T, error) {
	var all []T
	opt := &godo.ListOptions{Page: 1, PerPage: 200}
	for {
		page, resp, err := list(opt)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if resp.Links == nil || resp.Links.IsLastPage() {
			return all, nil
		}
		n, err := resp.Links.CurrentPage()
		if err != nil {
			return nil, err
		}
		opt.Page = n + 1
	}
}
