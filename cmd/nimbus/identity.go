package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/nimbus-cloud/nimbus/internal/platform/fernet"
)

func identityCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "identity", Short: "Identity service administration"}
	var common commonFlags
	rotate := &cobra.Command{
		Use:   "rotate-keys",
		Short: "Rotate the Fernet token keys (like keystone-manage fernet_rotate)",
		Long: `Promotes the staged key to primary, stages a new key and retires the oldest keys
beyond max_active_keys. Tokens sealed with a retired key stop validating; all others
keep working. A running cloud picks up the new keys within seconds.`,
		RunE: func(*cobra.Command, []string) error {
			cfg, err := common.load()
			if err != nil {
				return err
			}
			repo, err := fernet.OpenRepository(filepath.Join(cfg.DataDir, "fernet-keys"), cfg.Identity.MaxActiveKeys)
			if err != nil {
				return err
			}
			if err := repo.Rotate(); err != nil {
				return err
			}
			fmt.Printf("rotated: %d keys active\n", len(repo.Keys()))
			return nil
		},
	}
	common.register(rotate)
	cmd.AddCommand(rotate)
	return cmd
}
