package cloud

import (
	"fmt"

	"github.com/nimbus-cloud/nimbus/internal/image"
)

// imageStore is the image service's store as [image] store chooses: nil for the
// file store (DATA_DIR/images, the default), or the object store used as
// glance_store's single-tenant swift driver uses it: images in the admin
// project's account (the user compute also acts as), container glance, reached
// through the catalog's object-store endpoint on first use.
func (c *Cloud) imageStore() (image.Store, error) {
	switch c.cfg.Image.Store {
	case "", "file":
		return nil, nil
	case "swift":
		secrets, err := readSecrets(c.cfg.DataDir)
		if err != nil {
			return nil, fmt.Errorf("[image] store = swift needs the admin's credentials: %w", err)
		}
		return image.NewSwiftStore(image.SwiftOptions{
			Auth:            image.KeystonePasswordAuth(c.IdentityURL+"/v3", "admin", secrets.Admin, "admin"),
			Container:       c.cfg.Image.SwiftContainer,
			ChunkSize:       c.cfg.Image.SwiftChunkSize << 20,
			LargeObjectSize: c.cfg.Image.SwiftLargeObjectSize << 20,
			Deferred:        true, // the start-up recovery runs before the object store serves
		}), nil
	default:
		return nil, fmt.Errorf("[image] store = %q: want file or swift", c.cfg.Image.Store)
	}
}
