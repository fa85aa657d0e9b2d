package compute

import (
	"context"
	"errors"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
)

// stubHostCalls answers the API's calls to agents with fixed figures.
type stubHostCalls struct {
	diag   virt.Diagnostics
	uptime string
	err    error
}

func (h stubHostCalls) ConsoleOutput(context.Context, string, string, int) (string, error) {
	return "", errors.New("no console")
}
func (h stubHostCalls) VNCSocket(context.Context, string, string) (string, error) {
	return "", errors.New("no vnc")
}
func (h stubHostCalls) Diagnostics(context.Context, string, string) (virt.Diagnostics, error) {
	return h.diag, h.err
}
func (h stubHostCalls) HostUptime(context.Context, string) (string, error) { return h.uptime, h.err }

var testDiagnostics = virt.Diagnostics{State: virt.Running, Driver: "qemu", Hypervisor: "qemu", HypervisorOS: "linux",
	UptimeSeconds: 42, MemoryMB: 512, MemoryUsedMB: 100,
	CPUs:  []virt.CPUStats{{ID: 0, TimeNS: 17300000000}},
	Disks: []virt.DiskStats{{Name: "vda", ReadBytes: 262144, ReadRequests: 112, WriteBytes: 5778432, WriteRequests: 488}},
	NICs:  []virt.NICStats{{Name: "tap1", MAC: "fa:16:3e:00:00:01", RxOctets: 2070139, RxPackets: 26701, TxOctets: 140208, TxPackets: 662}}}

// TestServerDiagnostics: admin only; the libvirt-named map before 2.48 (with
// "memory" in KiB), the standard form from 2.48; 409 for a stopped server.
func TestServerDiagnostics(t *testing.T) {
	e := newMVEnv(t)
	e.Compute.SetHostCalls(stubHostCalls{diag: testDiagnostics})
	id := e.activeServer("2.1", nil)
	path := "/v2.1/servers/" + id + "/diagnostics"

	status, out, raw, _ := e.send("2.1", "GET", path, e.DemoToken, nil)
	checkFault(t, status, out, raw, 403, "os-server-diagnostics")

	old := e.mustAt(200, "2.47", "GET", path, e.AdminToken, nil)
	for k, want := range map[string]float64{"memory": 512 * 1024, "cpu0_time": 17300000000, "vda_read": 262144,
		"vda_write_req": 488, "tap1_rx": 2070139, "tap1_tx_packets": 662} {
		if old[k] != want {
			t.Errorf("2.47 %s = %v, want %v (%v)", k, old[k], want, old)
		}
	}
	std := e.mustAt(200, "2.48", "GET", path, e.AdminToken, nil)
	if std["state"] != "running" || std["num_cpus"] != float64(1) || std["num_nics"] != float64(1) || std["uptime"] != float64(42) ||
		std["memory_details"].(map[string]any)["maximum"] != float64(512) {
		t.Errorf("2.48 = %v", std)
	}
	nic := std["nic_details"].([]any)[0].(map[string]any)
	if nic["mac_address"] != "fa:16:3e:00:00:01" || nic["rx_octets"] != float64(2070139) || nic["rx_rate"] != nil {
		t.Errorf("2.48 nic = %v", nic)
	}

	e.Must(202, "POST", "/v2.1/servers/"+id+"/action", e.DemoToken, map[string]any{"os-stop": nil})
	e.agent()
	status, out, raw, _ = e.send("2.48", "GET", path, e.AdminToken, nil)
	checkFault(t, status, out, raw, 409, "Cannot 'get_diagnostics' instance "+id+" while it is in vm_state stopped")
	status, out, raw, _ = e.send("2.48", "GET", "/v2.1/servers/00000000-0000-0000-0000-000000000000/diagnostics", e.AdminToken, nil)
	checkFault(t, status, out, raw, 404, "could not be found")
}

// TestHypervisorUptime: asked of the host's agent up to 2.87 (404 from 2.88,
// where show carries it); a host whose service is down is 400.
func TestHypervisorUptime(t *testing.T) {
	e := newMVEnv(t)
	line := " 08:32:11 up 93 days, 18:25,  load average: 0.20, 0.12, 0.14"
	e.Compute.SetHostCalls(stubHostCalls{uptime: line})
	hv := e.mustAt(200, "2.1", "GET", "/v2.1/os-hypervisors/1/uptime", e.AdminToken, nil)["hypervisor"].(map[string]any)
	if hv["uptime"] != line || hv["id"] != float64(1) || hv["hypervisor_hostname"] != "h1" || hv["state"] != "up" {
		t.Errorf("2.1 uptime = %v", hv)
	}
	status, out, raw, _ := e.send("2.1", "GET", "/v2.1/os-hypervisors/1/uptime", e.DemoToken, nil)
	checkFault(t, status, out, raw, 403, "os-hypervisors:uptime")
	e.mustAt(404, "2.1", "GET", "/v2.1/os-hypervisors/9/uptime", e.AdminToken, nil)
	uuid := e.mustAt(200, "2.88", "GET", "/v2.1/os-hypervisors", e.AdminToken, nil)["hypervisors"].([]any)[0].(map[string]any)["id"].(string)
	e.mustAt(404, "2.88", "GET", "/v2.1/os-hypervisors/"+uuid+"/uptime", e.AdminToken, nil)
	if shown := e.mustAt(200, "2.88", "GET", "/v2.1/os-hypervisors/"+uuid, e.AdminToken, nil)["hypervisor"].(map[string]any); shown["uptime"] != line {
		t.Errorf("2.88 show = %v", shown)
	}

	e.mustAt(200, "2.11", "PUT", "/v2.1/os-services/force-down", e.AdminToken,
		map[string]any{"host": "h1", "binary": "nova-compute", "forced_down": true})
	status, out, raw, _ = e.send("2.1", "GET", "/v2.1/os-hypervisors/1/uptime", e.AdminToken, nil)
	checkFault(t, status, out, raw, 400, "Compute service of h1 is unavailable at this time.")
}
