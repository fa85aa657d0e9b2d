package metadata_test

import (
	"github.com/nimbus-cloud/nimbus/internal/network"
	"github.com/nimbus-cloud/nimbus/internal/network/agent"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/metadata"
)

// In a test file: the agent will import this package, so this package imports
// neither the agent nor the network service.
var (
	_ agent.Part      = (*metadata.Proxy)(nil)
	_ metadata.Lookup = (*network.Service)(nil)
)
