package objectstore

import (
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/proxy"
	"github.com/nimbus-cloud/nimbus/internal/objectstore/ring"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// ProxyOptions configure a proxy running on its own (nimbus serve --role
// proxy) beside the cluster's other proxies: the rings it reads, the
// cluster's hash path suffix, and the auth it shares with them.
type ProxyOptions struct {
	// RingDir holds account.ring.gz, container.ring.gz and object.ring.gz.
	RingDir        string
	HashPathSuffix string
	Host           string
	Port           int
	Auth           proxy.Authenticator
	IdentityURL    string
	// TempAuthDir holds tempauth's key (TempAuthKeyFile), the same file
	// every proxy of the cluster reads; TempAuthUsers are its users.
	TempAuthDir, TempAuthUsers string
	Logger                     *slog.Logger
}

// StartProxy opens a proxy's listener over the cluster's rings. Like
// upstream's, it keeps nothing of its own: any number of them serve one
// cluster, and a tempauth token one issued is good at every other.
func StartProxy(o ProxyOptions) (*proxy.Proxy, Server, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	rings := map[string]*ring.Ring{}
	for _, name := range RingNames {
		rg, err := ring.Load(filepath.Join(o.RingDir, name+".ring.gz"), "", o.HashPathSuffix)
		if err != nil {
			return nil, Server{}, fmt.Errorf("the %s ring (copy the cluster's rings to %s): %w", name, o.RingDir, err)
		}
		rings[name] = rg
	}
	// every policy's ring, or a container of another policy would have its
	// objects placed on Policy-0's devices
	policyRings := map[int]*ring.Ring{}
	for _, p := range otherPolicies() {
		rg, err := ring.Load(filepath.Join(o.RingDir, p.RingName()+".ring.gz"), "", o.HashPathSuffix)
		if err != nil {
			return nil, Server{}, fmt.Errorf("the %s ring of policy %s (copy the cluster's rings to %s): %w", p.RingName(), p.Name, o.RingDir, err)
		}
		policyRings[p.Index] = rg
	}
	tempAuth, err := LoadTempAuth(o.TempAuthDir, o.TempAuthUsers)
	if err != nil {
		return nil, Server{}, err
	}
	p := proxy.New(proxy.Options{
		Rings: proxy.Rings{Account: rings["account"], Container: rings["container"], Object: rings["object"],
			ObjectPolicies: policyRings},
		Auth: o.Auth, Logger: o.Logger, IdentityURL: o.IdentityURL, TempAuth: tempAuth,
	})
	l, err := httpapi.Listen(o.Host, o.Port)
	if err != nil {
		return nil, Server{}, fmt.Errorf("object-store proxy: %w", err)
	}
	return p, Server{Name: "object-store", Listener: l, Handler: p.Handler()}, nil
}
