// Command terraform-provider-jhub serves the jhub Terraform provider.
package main

import (
	"context"
	"flag"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/classhub/terraform-provider-jhub/internal/provider"
)

// Generate the docs: tfplugindocs reads the schema, examples/ and templates/.
//go:generate go tool tfplugindocs generate --provider-name jhub
//go:generate terraform fmt -recursive ./examples/

// version is set by the release build (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "start the provider with support for debuggers like delve")
	flag.Parse()

	err := providerserver.Serve(context.Background(), provider.New(version), providerserver.ServeOpts{
		Address: "registry.terraform.io/classhub/jhub",
		Debug:   debug,
	})
	if err != nil {
		log.Fatal(err)
	}
}
