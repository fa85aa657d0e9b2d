package cloud

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
)

// seedNetworks creates devstack's networks, idempotently (each is looked up by name
// first): "public", the external network floating IPs come from, and the demo
// project's "private", joined by the demo project's "router1".
func (c *Cloud) seedNetworks(ctx context.Context, api *inProcess) error {
	cfg := c.cfg.Network
	publicPrefix, err := netip.ParsePrefix(cfg.PublicCIDR)
	if err != nil {
		return fmt.Errorf("network.public_cidr %q: %w", cfg.PublicCIDR, err)
	}
	demo, err := api.projectID(ctx, "demo")
	if err != nil {
		return err
	}
	public, err := api.ensure(ctx, "networks", "network", map[string]any{"name": "public", "router:external": true,
		"provider:network_type": "flat", "provider:physical_network": "public"})
	if err != nil {
		return err
	}
	publicSubnet, err := api.ensure(ctx, "subnets", "subnet", map[string]any{"name": "public-subnet", "network_id": public,
		"ip_version": 4, "cidr": cfg.PublicCIDR, "gateway_ip": publicPrefix.Addr().Next().String(), "enable_dhcp": false})
	if err != nil {
		return err
	}
	private, err := api.ensure(ctx, "networks", "network", map[string]any{"name": "private", "project_id": demo})
	if err != nil {
		return err
	}
	privateSubnet, err := api.ensure(ctx, "subnets", "subnet", map[string]any{"name": "private-subnet", "network_id": private,
		"project_id": demo, "ip_version": 4, "cidr": cfg.PrivateCIDR})
	if err != nil {
		return err
	}
	router, err := api.ensure(ctx, "routers", "router", map[string]any{"name": "router1", "project_id": demo,
		"external_gateway_info": map[string]any{"network_id": public}})
	if err != nil {
		return err
	}
	if err := api.ensureRouterInterface(ctx, router, private, privateSubnet); err != nil {
		return err
	}
	c.log.Info("default networks", "public", public, "public_subnet", publicSubnet, "private", private,
		"private_subnet", privateSubnet, "router", router)
	return nil
}

// ensureRouterInterface attaches the router to subnet unless it has a port on the
// subnet's network already.
func (p *inProcess) ensureRouterInterface(ctx context.Context, router, networkID, subnet string) error {
	q := url.Values{"device_id": {router}, "network_id": {networkID}}
	res, err := p.call(ctx, p.network, http.MethodGet, "/v2.0/ports?"+q.Encode(), nil, http.StatusOK)
	if err != nil {
		return err
	}
	var list struct{ Ports []struct{ ID string } }
	if err := json.Unmarshal(res.body.Bytes(), &list); err != nil {
		return err
	}
	if len(list.Ports) > 0 {
		return nil
	}
	_, err = p.call(ctx, p.network, http.MethodPut, "/v2.0/routers/"+router+"/add_router_interface",
		map[string]any{"subnet_id": subnet}, http.StatusOK)
	return err
}

// projectID looks a project of the default domain up by name.
func (p *inProcess) projectID(ctx context.Context, name string) (string, error) {
	res, err := p.call(ctx, p.identity, http.MethodGet, "/v3/projects?domain_id=default&name="+url.QueryEscape(name), nil, http.StatusOK)
	if err != nil {
		return "", err
	}
	var list struct{ Projects []struct{ ID string } }
	if err := json.Unmarshal(res.body.Bytes(), &list); err != nil {
		return "", err
	}
	if len(list.Projects) != 1 {
		return "", fmt.Errorf("project %q not found", name)
	}
	return list.Projects[0].ID, nil
}

// ensure returns the id of the network resource with attrs' name (and project),
// creating it when there is none.
func (p *inProcess) ensure(ctx context.Context, collection, member string, attrs map[string]any) (string, error) {
	q := url.Values{"name": {fmt.Sprint(attrs["name"])}}
	if project, ok := attrs["project_id"].(string); ok {
		q.Set("project_id", project)
	}
	res, err := p.call(ctx, p.network, http.MethodGet, "/v2.0/"+collection+"?"+q.Encode(), nil, http.StatusOK)
	if err != nil {
		return "", err
	}
	var list map[string][]struct{ ID string }
	if err := json.Unmarshal(res.body.Bytes(), &list); err != nil {
		return "", err
	}
	if found := list[collection]; len(found) > 0 {
		return found[0].ID, nil
	}
	res, err = p.call(ctx, p.network, http.MethodPost, "/v2.0/"+collection, map[string]any{member: attrs}, http.StatusCreated)
	if err != nil {
		return "", err
	}
	var created map[string]struct{ ID string }
	if err := json.Unmarshal(res.body.Bytes(), &created); err != nil {
		return "", err
	}
	return created[member].ID, nil
}
