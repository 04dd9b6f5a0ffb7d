// Package provider is the jhub Terraform provider: the schema, the resources and
// the DigitalOcean client they share.
package provider

import (
	"context"
	"fmt"
	"os"
	"sync"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-framework-validators/float64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"golang.org/x/oauth2"
)

var _ provider.Provider = (*jhubProvider)(nil)

// New returns a constructor for the provider at the given version.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &jhubProvider{version: version} }
}

type jhubProvider struct {
	version string
}

type providerModel struct {
	Token             types.String  `tfsdk:"token"`
	APIEndpoint       types.String  `tfsdk:"api_endpoint"`
	HTTPRetryMax      types.Int64   `tfsdk:"http_retry_max"`
	HTTPRetryWaitMin  types.Float64 `tfsdk:"http_retry_wait_min"`
	HTTPRetryWaitMax  types.Float64 `tfsdk:"http_retry_wait_max"`
	RequestsPerSecond types.Float64 `tfsdk:"requests_per_second"`
}

// Defaults follow the DigitalOcean provider so that users who know it meet no surprises.
const (
	defaultAPIEndpoint  = "https://api.digitalocean.com"
	defaultRetryMax     = 4
	defaultRetryWaitMin = 1.0
	defaultRetryWaitMax = 30.0
)

func (p *jhubProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "jhub"
	resp.Version = p.version
}

func (p *jhubProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	nonNegative := []validator.Float64{float64validator.AtLeast(0)}
	resp.Schema = schema.Schema{
		MarkdownDescription: "The jhub provider turns a DigitalOcean account and a domain name into a TLS-secured JupyterHub for a class.",
		Attributes: map[string]schema.Attribute{
			"token": schema.StringAttribute{
				MarkdownDescription: "DigitalOcean API token. Defaults to the `DIGITALOCEAN_TOKEN` or `DIGITALOCEAN_ACCESS_TOKEN` environment variable.",
				Optional:            true,
				Sensitive:           true,
			},
			"api_endpoint": schema.StringAttribute{
				MarkdownDescription: "Base URL of the DigitalOcean API. Defaults to the `DIGITALOCEAN_API_URL` environment variable, else `" + defaultAPIEndpoint + "`.",
				Optional:            true,
			},
			"http_retry_max": schema.Int64Attribute{
				MarkdownDescription: fmt.Sprintf("How many times a request that failed with 429 or 5xx is retried. Defaults to %d; 0 turns retries off.", defaultRetryMax),
				Optional:            true,
				Validators:          []validator.Int64{int64validator.Between(0, 100)},
			},
			"http_retry_wait_min": schema.Float64Attribute{
				MarkdownDescription: fmt.Sprintf("Shortest wait between retries, in seconds. Defaults to %v.", defaultRetryWaitMin),
				Optional:            true,
				Validators:          nonNegative,
			},
			"http_retry_wait_max": schema.Float64Attribute{
				MarkdownDescription: fmt.Sprintf("Longest wait between retries, in seconds. Defaults to %v.", defaultRetryWaitMax),
				Optional:            true,
				Validators:          nonNegative,
			},
			"requests_per_second": schema.Float64Attribute{
				MarkdownDescription: "Client-side limit on API requests per second. Defaults to 0, no limit.",
				Optional:            true,
				Validators:          nonNegative,
			},
		},
	}
}

// client is what every resource receives from the provider.
type client struct {
	do *godo.Client

	mu    sync.Mutex
	sizes map[string]godo.Size // by slug, once listed
}

func (p *jhubProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var cfg providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if cfg.Token.IsUnknown() || cfg.APIEndpoint.IsUnknown() {
		// Values from other resources are known only at apply; resources report the missing client then.
		return
	}

	token := firstNonEmpty(cfg.Token.ValueString(), os.Getenv("DIGITALOCEAN_TOKEN"), os.Getenv("DIGITALOCEAN_ACCESS_TOKEN"))
	if token == "" {
		resp.Diagnostics.AddAttributeError(path.Root("token"), "Missing DigitalOcean API token",
			"Set the provider's token attribute or the DIGITALOCEAN_TOKEN environment variable to a DigitalOcean API token with read and write scope.")
		return
	}
	endpoint := firstNonEmpty(cfg.APIEndpoint.ValueString(), os.Getenv("DIGITALOCEAN_API_URL"), defaultAPIEndpoint)

	retry := godo.RetryConfig{
		RetryMax:     int(int64OrDefault(cfg.HTTPRetryMax, defaultRetryMax)),
		RetryWaitMin: godo.PtrTo(float64OrDefault(cfg.HTTPRetryWaitMin, defaultRetryWaitMin)),
		RetryWaitMax: godo.PtrTo(float64OrDefault(cfg.HTTPRetryWaitMax, defaultRetryWaitMax)),
		Logger:       tflogRetryLogger{ctx: ctx},
	}
	if *retry.RetryWaitMin > *retry.RetryWaitMax {
		resp.Diagnostics.AddAttributeError(path.Root("http_retry_wait_min"), "Retry waits out of order",
			fmt.Sprintf("http_retry_wait_min (%v) is larger than http_retry_wait_max (%v); make the minimum the smaller one.", *retry.RetryWaitMin, *retry.RetryWaitMax))
		return
	}

	// godo's retrying transport wraps an oauth2 transport and panics on any other kind.
	httpClient := oauth2.NewClient(context.Background(), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token}))
	opts := []godo.ClientOpt{
		godo.SetUserAgent(fmt.Sprintf("terraform-provider-jhub/%s", p.version)),
		godo.WithRetryAndBackoffs(retry),
	}
	if rps := cfg.RequestsPerSecond.ValueFloat64(); rps > 0 {
		opts = append(opts, godo.SetStaticRateLimit(rps))
	}
	do, err := godo.New(httpClient, opts...)
	if err == nil {
		err = setBaseURL(do, endpoint)
	}
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("api_endpoint"), "Invalid DigitalOcean API endpoint",
			fmt.Sprintf("The endpoint %q is not a usable URL: %s. Use a URL such as %s.", endpoint, err, defaultAPIEndpoint))
		return
	}

	c := &client{do: do}
	resp.ResourceData = c
	resp.DataSourceData = c
}

// setBaseURL makes sure the endpoint ends in a slash, as godo resolves paths relative to it.
func setBaseURL(do *godo.Client, endpoint string) error {
	if endpoint != "" && endpoint[len(endpoint)-1] != '/' {
		endpoint += "/"
	}
	return godo.SetBaseURL(endpoint)(do)
}

func (p *jhubProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{NewDomainResource, NewDropletResource, NewEdgeResource, NewVolumeResource, NewVolumeAttachmentResource, NewVolumeSnapshotResource}
}

func (p *jhubProvider) DataSources(context.Context) []func() datasource.DataSource {
	return nil
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func int64OrDefault(v types.Int64, d int64) int64 {
	if v.IsNull() || v.IsUnknown() {
		return d
	}
	return v.ValueInt64()
}

func float64OrDefault(v types.Float64, d float64) float64 {
	if v.IsNull() || v.IsUnknown() {
		return d
	}
	return v.ValueFloat64()
}
