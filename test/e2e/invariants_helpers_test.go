package e2e

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
)

// The invariants a cloud must keep however many requests and processes write at
// once (issue 17), read through the APIs as an admin sees them. Each check returns
// what breaks it, so a test reports every broken invariant, named.

// cloudState is what the invariants are checked on: the whole cloud, as the
// admin lists it.
type cloudState struct {
	Ports []struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		NetworkID   string `json:"network_id"`
		ProjectID   string `json:"project_id"`
		DeviceID    string `json:"device_id"`
		DeviceOwner string `json:"device_owner"`
		FixedIPs    []struct {
			SubnetID  string `json:"subnet_id"`
			IPAddress string `json:"ip_address"`
		} `json:"fixed_ips"`
	}
	FloatingIPs []struct {
		ID                string `json:"id"`
		Description       string `json:"description"`
		ProjectID         string `json:"project_id"`
		FloatingIPAddress string `json:"floating_ip_address"`
		FixedIPAddress    string `json:"fixed_ip_address"`
		PortID            string `json:"port_id"`
	}
	Servers     []serverView
	Hypervisors []struct {
		Host         string `json:"hypervisor_hostname"`
		VCPUs        int    `json:"vcpus"`
		VCPUsUsed    int    `json:"vcpus_used"`
		MemoryMB     int    `json:"memory_mb"`
		MemoryMBUsed int    `json:"memory_mb_used"`
		LocalGBUsed  int    `json:"local_gb_used"`
	}
	Flavors map[string]struct{ VCPUs, RAM, Disk int }
	Users   []struct {
		ID, Name string
		DomainID string `json:"domain_id"`
	}
	Projects []struct {
		ID, Name string
		DomainID string `json:"domain_id"`
	}
	SecurityGroups []struct {
		ID, Name  string
		ProjectID string `json:"project_id"`
	}
	Images []imageView
}

// serverView is a server as the admin sees it.
type serverView struct {
	ID, Name, Status string
	TenantID         string `json:"tenant_id"`
	TaskState        string `json:"OS-EXT-STS:task_state"`
	Host             string `json:"OS-EXT-SRV-ATTR:host"`
	Flavor           struct{ ID string }
}

// imageView is an image record.
type imageView struct {
	ID, Name, Status, Owner string
	Checksum                string
	Size                    int64
}

// readCloudState lists the cloud at a with the admin's token.
func readCloudState(t *testing.T, a apis, token string) cloudState {
	t.Helper()
	var st cloudState
	var ports struct{ Ports any }
	ports.Ports = &st.Ports
	must(t, http.StatusOK, &ports, "GET", a.network+"/ports", token, nil)
	var fips struct{ FloatingIPs any }
	fips.FloatingIPs = &st.FloatingIPs
	must(t, http.StatusOK, &fips, "GET", a.network+"/floatingips", token, nil)
	var sgs struct {
		SecurityGroups any `json:"security_groups"`
	}
	sgs.SecurityGroups = &st.SecurityGroups
	must(t, http.StatusOK, &sgs, "GET", a.network+"/security-groups", token, nil)
	var servers struct{ Servers any }
	servers.Servers = &st.Servers
	must(t, http.StatusOK, &servers, "GET", a.compute+"/servers/detail?all_tenants=1&limit=1000", token, nil)
	var hvs struct{ Hypervisors any }
	hvs.Hypervisors = &st.Hypervisors
	must(t, http.StatusOK, &hvs, "GET", a.compute+"/os-hypervisors/detail", token, nil)
	var flavors struct {
		Flavors []struct {
			ID               string
			VCPUs, RAM, Disk int
		}
	}
	must(t, http.StatusOK, &flavors, "GET", a.compute+"/flavors/detail?is_public=None", token, nil)
	st.Flavors = map[string]struct{ VCPUs, RAM, Disk int }{}
	for _, f := range flavors.Flavors {
		st.Flavors[f.ID] = struct{ VCPUs, RAM, Disk int }{f.VCPUs, f.RAM, f.Disk}
	}
	var users struct{ Users any }
	users.Users = &st.Users
	must(t, http.StatusOK, &users, "GET", a.identity+"/users", token, nil)
	var projects struct{ Projects any }
	projects.Projects = &st.Projects
	must(t, http.StatusOK, &projects, "GET", a.identity+"/projects", token, nil)
	for next := a.image + "/images?limit=1000"; next != ""; {
		var page struct {
			Images []imageView
			Next   string
		}
		must(t, http.StatusOK, &page, "GET", next, token, nil)
		st.Images = append(st.Images, page.Images...)
		next = ""
		if page.Next != "" {
			next = strings.TrimSuffix(a.image, "/v2") + page.Next
		}
	}
	return st
}

// invariant is a named check of a cloud's state.
type invariant struct {
	name  string
	check func(st cloudState) []string
}

// checkInvariants reports every broken invariant of st as an error naming it.
func checkInvariants(t *testing.T, st cloudState, invariants ...invariant) {
	t.Helper()
	for _, inv := range invariants {
		broken := inv.check(st)
		for i, b := range broken {
			if i == 5 {
				t.Errorf("invariant %q: ... and %d more", inv.name, len(broken)-5)
				break
			}
			t.Errorf("invariant %q broken: %s", inv.name, b)
		}
	}
}

// noDuplicateAddress: no fixed IP address is held by two ports (or twice by one).
var noDuplicateAddress = invariant{"no duplicate fixed IP address", func(st cloudState) []string {
	holders := map[string][]string{}
	for _, p := range st.Ports {
		for _, ip := range p.FixedIPs {
			k := ip.SubnetID + " " + ip.IPAddress
			holders[k] = append(holders[k], p.ID)
		}
	}
	var out []string
	for k, ports := range holders {
		if len(ports) > 1 {
			out = append(out, fmt.Sprintf("address %s held by ports %v", k, ports))
		}
	}
	sort.Strings(out)
	return out
}}

// oneFloatingIPPerFixedIP: a fixed IP has at most one floating IP, and no floating
// address is allocated twice.
var oneFloatingIPPerFixedIP = invariant{"one floating IP per fixed IP", func(st cloudState) []string {
	byFixed, byAddress := map[string][]string{}, map[string][]string{}
	for _, f := range st.FloatingIPs {
		byAddress[f.FloatingIPAddress] = append(byAddress[f.FloatingIPAddress], f.ID)
		if f.PortID != "" {
			k := f.PortID + " " + f.FixedIPAddress
			byFixed[k] = append(byFixed[k], f.FloatingIPAddress)
		}
	}
	var out []string
	for k, fips := range byFixed {
		if len(fips) > 1 {
			out = append(out, fmt.Sprintf("fixed IP (port, address) %s has floating IPs %v", k, fips))
		}
	}
	for a, ids := range byAddress {
		if len(ids) > 1 {
			out = append(out, fmt.Sprintf("floating address %s allocated %d times", a, len(ids)))
		}
	}
	sort.Strings(out)
	return out
}}

// usageIsLiveInstances: each host's claimed vCPUs, RAM and disk are the sum of
// the flavors of the instances placed on it, no more (a release missed) and no
// less (released twice), and never negative.
var usageIsLiveInstances = invariant{"host usage equals its live instances", func(st cloudState) []string {
	type use struct{ vcpus, ram, disk, vms int }
	want := map[string]use{}
	for _, s := range st.Servers {
		if s.Host == "" {
			continue
		}
		f := st.Flavors[s.Flavor.ID]
		u := want[s.Host]
		u.vcpus, u.ram, u.disk, u.vms = u.vcpus+f.VCPUs, u.ram+f.RAM, u.disk+f.Disk, u.vms+1
		want[s.Host] = u
	}
	var out []string
	for _, h := range st.Hypervisors {
		w := want[h.Host]
		if h.VCPUsUsed != w.vcpus || h.MemoryMBUsed != w.ram || h.LocalGBUsed != w.disk {
			out = append(out, fmt.Sprintf("host %s claims %d vCPUs, %d MB, %d GB; its %d instances use %d, %d, %d",
				h.Host, h.VCPUsUsed, h.MemoryMBUsed, h.LocalGBUsed, w.vms, w.vcpus, w.ram, w.disk))
		}
		// The default allocation ratios: 16 vCPUs and 1.5 MB per one the host has.
		if h.VCPUsUsed < 0 || h.MemoryMBUsed < 0 || h.VCPUsUsed > 16*h.VCPUs || 2*h.MemoryMBUsed > 3*h.MemoryMB {
			out = append(out, fmt.Sprintf("host %s is overcommitted or negative: %d of %d vCPUs, %d of %d MB",
				h.Host, h.VCPUsUsed, h.VCPUs, h.MemoryMBUsed, h.MemoryMB))
		}
	}
	sort.Strings(out)
	return out
}}

// namesUniquePerDomain: no two users, and no two projects, of a domain share a
// name; no project has two "default" security groups.
var namesUniquePerDomain = invariant{"names unique (users and projects per domain, default security group per project)", func(st cloudState) []string {
	seen := map[string]int{}
	for _, u := range st.Users {
		seen["user "+u.DomainID+"/"+u.Name]++
	}
	for _, p := range st.Projects {
		seen["project "+p.DomainID+"/"+p.Name]++
	}
	for _, g := range st.SecurityGroups {
		if g.Name == "default" {
			seen["security group "+g.ProjectID+"/default"]++
		}
	}
	var out []string
	for k, n := range seen {
		if n > 1 {
			out = append(out, fmt.Sprintf("%s exists %d times", k, n))
		}
	}
	sort.Strings(out)
	return out
}}

// noLeakedPorts: every port a server had goes with it; a compute port's device is
// a live server.
var noLeakedPorts = invariant{"a deleted server leaves no port", func(st cloudState) []string {
	live := map[string]bool{}
	for _, s := range st.Servers {
		live[s.ID] = true
	}
	var out []string
	for _, p := range st.Ports {
		if strings.HasPrefix(p.DeviceOwner, "compute:") && !live[p.DeviceID] {
			out = append(out, fmt.Sprintf("port %s (%s) of server %s, which is gone", p.ID, p.DeviceOwner, p.DeviceID))
		}
	}
	return out
}}

// nothingInFlight: once the cloud has settled, no server is building or being
// deleted and no image is being written.
var nothingInFlight = invariant{"nothing left in flight", func(st cloudState) []string {
	var out []string
	for _, s := range st.Servers {
		if s.Status == "BUILD" || s.TaskState != "" {
			out = append(out, fmt.Sprintf("server %s (%s) is %s, task %q", s.ID, s.Name, s.Status, s.TaskState))
		}
	}
	for _, im := range st.Images {
		if im.Status == "saving" || im.Status == "importing" {
			out = append(out, fmt.Sprintf("image %s (%s) is %s", im.ID, im.Name, im.Status))
		}
	}
	return out
}}

// settled says whether nothing is in flight (the wait before the checks).
func settled(st cloudState) bool { return len(nothingInFlight.check(st)) == 0 }

// quotaHolds: what project holds of a resource never exceeds limit.
func quotaHolds(what, project string, limit int, count func(st cloudState) int) invariant {
	return invariant{fmt.Sprintf("%s quota (%d) of project %s never exceeded", what, limit, project), func(st cloudState) []string {
		if n := count(st); n > limit {
			return []string{fmt.Sprintf("project %s holds %d %s", project, n, what)}
		}
		return nil
	}}
}

func portsOf(project string) func(cloudState) int {
	return func(st cloudState) int {
		n := 0
		for _, p := range st.Ports {
			if p.ProjectID == project {
				n++
			}
		}
		return n
	}
}

func serversOf(project string) func(cloudState) int {
	return func(st cloudState) int {
		n := 0
		for _, s := range st.Servers {
			if s.TenantID == project {
				n++
			}
		}
		return n
	}
}

func imagesOf(project string) func(cloudState) int {
	return func(st cloudState) int {
		n := 0
		for _, im := range st.Images {
			if im.Owner == project {
				n++
			}
		}
		return n
	}
}
