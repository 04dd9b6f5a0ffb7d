package dosim

import "slices"

// The catalog of regions, sizes and images droplets may use: slugs the
// provider's examples and tests name, with DigitalOcean's figures.

type wireRegion struct {
	Name      string   `json:"name"`
	Slug      string   `json:"slug"`
	Features  []string `json:"features"`
	Available bool     `json:"available"`
	Sizes     []string `json:"sizes"`
}

type wireSize struct {
	Slug         string   `json:"slug"`
	Memory       int      `json:"memory"`
	Vcpus        int      `json:"vcpus"`
	Disk         int      `json:"disk"`
	Transfer     float64  `json:"transfer"`
	PriceMonthly float64  `json:"price_monthly"`
	PriceHourly  float64  `json:"price_hourly"`
	Regions      []string `json:"regions"`
	Available    bool     `json:"available"`
	Description  string   `json:"description"`
}

type wireImage struct {
	ID           int      `json:"id"`
	Name         string   `json:"name"`
	Type         string   `json:"type"`
	Distribution string   `json:"distribution"`
	Slug         string   `json:"slug"`
	Public       bool     `json:"public"`
	Regions      []string `json:"regions"`
	CreatedAt    string   `json:"created_at"`
	MinDiskSize  int      `json:"min_disk_size"`
	SizeGigabyte float64  `json:"size_gigabytes"`
	Description  string   `json:"description"`
	Tags         []string `json:"tags"`
	Status       string   `json:"status"`
}

var regionNames = map[string]string{
	"ams3": "Amsterdam 3", "blr1": "Bangalore 1", "fra1": "Frankfurt 1", "lon1": "London 1",
	"nyc1": "New York 1", "nyc3": "New York 3", "sfo3": "San Francisco 3", "sgp1": "Singapore 1",
	"syd1": "Sydney 1", "tor1": "Toronto 1",
}

// defaultRegion is where a droplet lands when the request names none.
const defaultRegion = "nyc3"

var sizes = []wireSize{
	{Slug: "s-1vcpu-512mb-10gb", Memory: 512, Vcpus: 1, Disk: 10, Transfer: 0.5, PriceMonthly: 4, PriceHourly: 0.00595, Description: "Basic"},
	{Slug: "s-1vcpu-1gb", Memory: 1024, Vcpus: 1, Disk: 25, Transfer: 1, PriceMonthly: 6, PriceHourly: 0.00893, Description: "Basic"},
	{Slug: "s-1vcpu-2gb", Memory: 2048, Vcpus: 1, Disk: 50, Transfer: 2, PriceMonthly: 12, PriceHourly: 0.01786, Description: "Basic"},
	{Slug: "s-2vcpu-2gb", Memory: 2048, Vcpus: 2, Disk: 60, Transfer: 3, PriceMonthly: 18, PriceHourly: 0.02679, Description: "Basic"},
	{Slug: "s-2vcpu-4gb", Memory: 4096, Vcpus: 2, Disk: 80, Transfer: 4, PriceMonthly: 24, PriceHourly: 0.03571, Description: "Basic"},
	{Slug: "s-4vcpu-8gb", Memory: 8192, Vcpus: 4, Disk: 160, Transfer: 5, PriceMonthly: 48, PriceHourly: 0.07143, Description: "Basic"},
	{Slug: "s-8vcpu-16gb", Memory: 16384, Vcpus: 8, Disk: 320, Transfer: 6, PriceMonthly: 96, PriceHourly: 0.14286, Description: "Basic"},
	{Slug: "g-2vcpu-8gb", Memory: 8192, Vcpus: 2, Disk: 25, Transfer: 4, PriceMonthly: 63, PriceHourly: 0.09375, Description: "General Purpose"},
}

var images = []wireImage{
	{ID: 160000012, Name: "12 x64", Distribution: "Debian", Slug: "debian-12-x64", MinDiskSize: 10, SizeGigabyte: 0.98, Description: "Debian 12 x64"},
	{ID: 160000013, Name: "13 x64", Distribution: "Debian", Slug: "debian-13-x64", MinDiskSize: 10, SizeGigabyte: 1.1, Description: "Debian 13 x64"},
	{ID: 160002204, Name: "22.04 (LTS) x64", Distribution: "Ubuntu", Slug: "ubuntu-22-04-x64", MinDiskSize: 10, SizeGigabyte: 2.3, Description: "Ubuntu 22.04 (LTS) x64"},
	{ID: 160002404, Name: "24.04 (LTS) x64", Distribution: "Ubuntu", Slug: "ubuntu-24-04-x64", MinDiskSize: 10, SizeGigabyte: 2.4, Description: "Ubuntu 24.04 (LTS) x64"},
}

func regionSlugs() []string {
	var out []string
	for slug := range regionNames {
		out = append(out, slug)
	}
	slices.Sort(out)
	return out
}

func sizeSlugs() []string {
	var out []string
	for _, sz := range sizes {
		out = append(out, sz.Slug)
	}
	return out
}

func findRegion(slug string) (wireRegion, bool) {
	name, ok := regionNames[slug]
	if !ok {
		return wireRegion{}, false
	}
	return wireRegion{
		Name: name, Slug: slug, Available: true, Sizes: sizeSlugs(),
		Features: []string{"backups", "ipv6", "metadata", "install_agent", "storage", "image_transfer"},
	}, true
}

func findSize(slug string) (wireSize, bool) {
	for _, sz := range sizes {
		if sz.Slug == slug {
			sz.Regions, sz.Available = regionSlugs(), true
			return sz, true
		}
	}
	return wireSize{}, false
}

// findImage looks an image up by slug or by numeric ID.
func findImage(slug string, id int) (wireImage, bool) {
	for _, im := range images {
		if (slug != "" && im.Slug == slug) || (id != 0 && im.ID == id) {
			im.Type, im.Public, im.Status = "base", true, "available"
			im.Regions, im.Tags = regionSlugs(), []string{}
			im.CreatedAt = "2024-06-01T00:00:00Z"
			return im, true
		}
	}
	return wireImage{}, false
}

// SizeMemoryMiB is the RAM of a size in MiB, as DigitalOcean lists it (the
// lab gives each droplet's container this much memory).
func SizeMemoryMiB(slug string) (int, bool) {
	sz, ok := findSize(slug)
	return sz.Memory, ok
}
