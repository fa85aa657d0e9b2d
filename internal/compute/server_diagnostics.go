package compute

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// os-server-diagnostics (admin): the guest's figures, asked of its host's agent.
// Before 2.48 a flat map in upstream's libvirt names; from 2.48 the standard
// form every driver answers alike.
func (s *Service) serverDiagnosticsRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/v2.1/servers/{id}/diagnostics", Handler: s.serverDiagnostics},
	}
}

func (s *Service) serverDiagnostics(r *http.Request) (httpapi.Response, error) {
	in, err := s.visibleInstance(r, "os_compute_api:os-server-diagnostics")
	if err != nil {
		return httpapi.Response{}, err
	}
	if !slices.Contains([]string{vmActive, vmPaused}, in.VMState) {
		return httpapi.Response{}, invalidState("get_diagnostics", in, "vm_state", in.VMState)
	}
	if in.Host == "" || s.hosts == nil {
		return httpapi.Response{}, conflict("Instance %s is not ready", in.UUID)
	}
	d, err := s.hosts.Diagnostics(r.Context(), in.Host, in.UUID)
	if err != nil {
		if httpapi.IsStatus(err, http.StatusNotFound) {
			return httpapi.Response{}, conflict("Instance %s is not ready", in.UUID)
		}
		return httpapi.Response{}, err
	}
	if since(r, 48) {
		return httpapi.OK(standardDiagnostics(d)), nil
	}
	return httpapi.OK(legacyDiagnostics(d)), nil
}

// standardDiagnostics is 2.48's form (memory in MB, rates unknown: null).
func standardDiagnostics(d virt.Diagnostics) map[string]any {
	cpus := []map[string]any{}
	for _, c := range d.CPUs {
		cpus = append(cpus, map[string]any{"id": c.ID, "time": c.TimeNS, "utilisation": nil})
	}
	disks := []map[string]any{}
	for _, k := range d.Disks {
		disks = append(disks, map[string]any{"read_bytes": k.ReadBytes, "read_requests": k.ReadRequests,
			"write_bytes": k.WriteBytes, "write_requests": k.WriteRequests, "errors_count": k.Errors})
	}
	nics := []map[string]any{}
	for _, n := range d.NICs {
		nics = append(nics, map[string]any{"mac_address": n.MAC,
			"rx_octets": n.RxOctets, "rx_packets": n.RxPackets, "rx_errors": n.RxErrors, "rx_drop": n.RxDrop, "rx_rate": nil,
			"tx_octets": n.TxOctets, "tx_packets": n.TxPackets, "tx_errors": n.TxErrors, "tx_drop": n.TxDrop, "tx_rate": nil})
	}
	// Upstream names the virt driver, one of its own (schemas/server_diagnostics.py):
	// Nimbus's QEMU driver is what libvirt's is there.
	driver := d.Driver
	if driver == "qemu" {
		driver = "libvirt"
	}
	return map[string]any{
		"state": d.State.String(), "driver": driver, "hypervisor": d.Hypervisor, "hypervisor_os": d.HypervisorOS,
		"uptime": d.UptimeSeconds, "config_drive": d.ConfigDrive,
		"num_cpus": len(cpus), "num_disks": len(disks), "num_nics": len(nics),
		"cpu_details": cpus, "disk_details": disks, "nic_details": nics,
		"memory_details": map[string]any{"maximum": d.MemoryMB, "used": d.MemoryUsedMB},
	}
}

// legacyDiagnostics is the pre-2.48 map, as upstream's libvirt driver names it:
// memory in KiB, per-vCPU times, per-disk and per-tap counters.
func legacyDiagnostics(d virt.Diagnostics) map[string]any {
	out := map[string]any{"memory": d.MemoryMB * 1024, "memory-actual": d.MemoryMB * 1024,
		"memory-rss": d.MemoryUsedMB * 1024}
	for _, c := range d.CPUs {
		out[fmt.Sprintf("cpu%d_time", c.ID)] = c.TimeNS
	}
	for _, k := range d.Disks {
		out[k.Name+"_read"], out[k.Name+"_read_req"] = k.ReadBytes, k.ReadRequests
		out[k.Name+"_write"], out[k.Name+"_write_req"] = k.WriteBytes, k.WriteRequests
		out[k.Name+"_errors"] = k.Errors
	}
	for _, n := range d.NICs {
		out[n.Name+"_rx"], out[n.Name+"_rx_packets"] = n.RxOctets, n.RxPackets
		out[n.Name+"_rx_errors"], out[n.Name+"_rx_drop"] = n.RxErrors, n.RxDrop
		out[n.Name+"_tx"], out[n.Name+"_tx_packets"] = n.TxOctets, n.TxPackets
		out[n.Name+"_tx_errors"], out[n.Name+"_tx_drop"] = n.TxErrors, n.TxDrop
	}
	return out
}
