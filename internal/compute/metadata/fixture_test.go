package metadata

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	proxy "github.com/nimbus-cloud/nimbus/internal/network/dataplane/metadata"
)

const (
	testSecret = "s3cret"
	uuidA      = "1a2b3c4d-0000-4000-8000-00000000000a"
	uuidB      = "0000beef-0000-4000-8000-00000000000b"
	imageA     = "0f1e2d3c-1111-4111-8111-000000000001"
	sshKeyA    = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA test@a"
)

// testNow dates every test request: after all of upstream's versions.
var testNow = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

// instanceA has a key, user data, metadata and one port on a DHCP subnet with a
// floating IP; instanceB, of another project, has none of it and boots from a
// volume.
func instanceA() *Instance {
	return &Instance{
		UUID: uuidA, EC2ID: 5, Name: "web 1", Hostname: "web-1", ProjectID: "proj-a",
		ReservationID: "r-abcdefgh", LaunchIndex: 0, AvailabilityZone: "nova",
		InstanceType: "m1.small", ImageID: imageA,
		Keys:           []KeyPair{{Name: "mykey", Type: "ssh", PublicKey: sshKeyA}},
		UserData:       []byte("#cloud-config\nhostname: web-1\n"),
		Metadata:       map[string]string{"role": "web", "tier": "front"},
		SecurityGroups: []string{"default", "web"},
		RootDeviceName: "/dev/vda",
		AdminPass:      "Adm1nPass",
		Ports: []Port{{
			ID: "6c1f3e22-8e2a-4d9b-9a55-1f2e3d4c5b6a", NetworkID: "net-a", MAC: "fa:16:3e:00:00:0a", MTU: 1450,
			FixedIPs: []FixedIP{{
				IP: netip.MustParseAddr("10.0.0.5"), SubnetID: "sub-a", CIDR: netip.MustParsePrefix("10.0.0.0/24"),
				Gateway: netip.MustParseAddr("10.0.0.1"), DNSNameservers: []netip.Addr{netip.MustParseAddr("10.0.0.2")},
				EnableDHCP: true, DHCPServer: netip.MustParseAddr("10.0.0.2"),
			}},
			FloatingIPs: []netip.Addr{netip.MustParseAddr("203.0.113.9")},
		}},
	}
}

func instanceB() *Instance {
	return &Instance{
		UUID: uuidB, EC2ID: 0x2a, Name: "db", Hostname: "db", ProjectID: "proj-b",
		ReservationID: "r-00000002", LaunchIndex: 1, AvailabilityZone: "az2", InstanceType: "m1.large",
	}
}

// fakeSource holds instances by UUID and keeps posted passwords.
type fakeSource struct {
	mu        sync.Mutex
	instances map[string]*Instance
	err       error // answered for every lookup when set
}

func newFakeSource(insts ...*Instance) *fakeSource {
	s := &fakeSource{instances: map[string]*Instance{}}
	for _, i := range insts {
		s.instances[i.UUID] = i
	}
	return s
}

func (s *fakeSource) Instance(_ context.Context, uuid string) (*Instance, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	i, ok := s.instances[uuid]
	if !ok {
		return nil, ErrNotFound
	}
	c := *i
	return &c, nil
}

func (s *fakeSource) SetPassword(_ context.Context, uuid, password string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.instances[uuid]
	if !ok {
		return ErrNotFound
	}
	i.Password = password
	return nil
}

var _ PasswordStore = (*fakeSource)(nil)

func testOptions() Options {
	return Options{
		SharedSecret: testSecret,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		DHCPDomain:   "novalocal",
		Now:          func() time.Time { return testNow },
	}
}

// request is a request as the network service's proxy signs it.
func request(method, path, uuid, project string) *http.Request {
	r := httptest.NewRequest(method, path, nil)
	r.Header.Set(proxy.HeaderInstanceID, uuid)
	r.Header.Set(proxy.HeaderTenantID, project)
	r.Header.Set(proxy.HeaderSignature, proxy.Sign(testSecret, uuid))
	r.Header.Set(proxy.HeaderForwardedFor, "10.0.0.5")
	return r
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

var seedRE = regexp.MustCompile(`"random_seed": "([^"]*)"`)

// withoutSeed checks that body's random_seed is 512 random bytes in base64 and
// replaces it with SEED, so the rest can be compared exactly.
func withoutSeed(t *testing.T, body string) string {
	t.Helper()
	m := seedRE.FindStringSubmatch(body)
	if m == nil {
		return body
	}
	seed, err := base64.StdEncoding.DecodeString(m[1])
	if err != nil || len(seed) != randomSeedBytes {
		t.Errorf("random_seed is %d bytes (%v), want %d", len(seed), err, randomSeedBytes)
	}
	return seedRE.ReplaceAllString(body, `"random_seed": "SEED"`)
}

func readCloser(s string) io.ReadCloser { return io.NopCloser(strings.NewReader(s)) }
