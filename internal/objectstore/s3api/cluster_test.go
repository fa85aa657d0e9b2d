package s3api_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/objectstore"
	"github.com/nimbus-cloud/nimbus/internal/objectstore/objectstoretest"
	"github.com/nimbus-cloud/nimbus/internal/objectstore/s3api"
	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
)

// fakeIdentity checks signatures as identity's s3tokens does, with the
// secrets it knows: access key -> secret and credentials.
type fakeIdentity map[string]struct {
	secret string
	creds  *auth.Credentials
}

func (f fakeIdentity) CheckSignature(_ context.Context, access, sts, sig string) (*auth.Credentials, error) {
	e, ok := f[access]
	if !ok {
		return nil, s3api.ErrSignature
	}
	var want string
	if strings.HasPrefix(sts, "AWS4-HMAC-SHA256\n") {
		scope := strings.Split(strings.Split(sts, "\n")[2], "/")
		k := mac(sha256.New, []byte("AWS4"+e.secret), scope[0])
		for _, p := range scope[1:] {
			k = mac(sha256.New, k, p)
		}
		want = hex.EncodeToString(mac(sha256.New, k, sts))
	} else {
		want = base64.StdEncoding.EncodeToString(mac(sha1.New, []byte(e.secret), sts))
	}
	if want != sig {
		return nil, s3api.ErrSignature
	}
	return e.creds, nil
}

// Secret is what identity's OS-EC2 credential API answers the service user.
func (f fakeIdentity) Secret(_ context.Context, userID, access string) (string, error) {
	e, ok := f[access]
	if !ok || e.creds.UserID != userID {
		return "", s3api.ErrSignature
	}
	return e.secret, nil
}

func mac(h func() hash.Hash, key []byte, msg string) []byte {
	m := hmac.New(h, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

var identity = fakeIdentity{
	"AKA": {"secret-a", &auth.Credentials{UserID: "ua", UserName: "alice", ProjectID: "pa", ProjectName: "proja",
		Roles: []auth.Role{{Name: "member"}}}},
	"AKB": {"secret-b", &auth.Credentials{UserID: "ub", UserName: "bob", ProjectID: "pb", ProjectName: "projb",
		Roles: []auth.Role{{Name: "member"}}}},
}

// startS3 starts an all-in-one object store with the S3 API in front.
func startS3(t *testing.T) string {
	t.Helper()
	a := objectstoretest.Start(t, objectstore.Options{
		// a reseller admin lets the tests see the accounts as a Swift client
		TempAuthUsers: "user_admin_admin = admin .admin .reseller_admin\n",
		S3:            s3api.Options{Identity: identity, Location: "RegionOne", StorageDomains: []string{"s3.test"}}})
	return a.URL
}

// TestServeForCLI keeps a store up for manual runs of aws and s3cmd
// (NIMBUS_S3_SERVE=1); it does nothing otherwise.
func TestServeForCLI(t *testing.T) {
	if testing.Short() || !serveForCLI {
		return
	}
	u := startS3(t)
	t.Log("S3 at", u)
	time.Sleep(10 * time.Minute)
}

var serveForCLI = os.Getenv("NIMBUS_S3_SERVE") == "1"
