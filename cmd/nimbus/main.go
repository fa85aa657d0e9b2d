// Command nimbus is the whole OpenStack-compatible cloud in one binary.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	root := &cobra.Command{
		Use:           "nimbus",
		Short:         "Nimbus: an OpenStack-compatible cloud in one binary",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(upCommand(), downCommand(), serveCommand(), identityCommand(), imageCommand(), ringCommand(), benchCommand())
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "nimbus:", err)
		os.Exit(1)
	}
}
