package objectstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/proxy"
	"github.com/nimbus-cloud/nimbus/internal/platform/fernet"
)

// TempAuthKeyFile is, under the store's directory, the Fernet key tempauth
// seals its tokens with; every proxy of the cluster needs a copy, as each
// needs the rings.
const TempAuthKeyFile = "tempauth_fernet_key"

// LoadTempAuth is the proxy's tempauth for the users configured (upstream's
// user_<account>_<user> lines), its key read from dir (made on first use);
// nil when no user is configured.
func LoadTempAuth(dir, users string) (*proxy.TempAuth, error) {
	parsed, err := proxy.ParseTempAuthUsers(users)
	if err != nil || len(parsed) == 0 {
		return nil, err
	}
	path := filepath.Join(dir, TempAuthKeyFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		k, gerr := fernet.GenerateKey()
		if gerr != nil {
			return nil, gerr
		}
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, err
		}
		// O_EXCL: of two processes making it at once, one key wins
		f, cerr := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if cerr == nil {
			_, werr := f.WriteString(k.String() + "\n")
			if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
				return nil, err
			}
		} else if !errors.Is(cerr, os.ErrExist) {
			return nil, cerr
		}
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	key, err := fernet.ParseKey(strings.TrimSpace(string(data)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &proxy.TempAuth{Users: parsed, Keys: []fernet.Key{key}, TokenLife: proxy.DefaultTokenLife}, nil
}
