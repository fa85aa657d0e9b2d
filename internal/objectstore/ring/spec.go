package ring

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
)

// deviceSpec is swift-ring-builder's add syntax: r<region>z<zone>-<ip>:<port>/<device>[_<meta>].
var deviceSpec = regexp.MustCompile(`^r(\d+)z(\d+)-(\[[0-9a-fA-F:.]+\]|[^:/\[\]]+):(\d+)/([^_/\s]+)(?:_(.*))?$`)

// ParseDevice reads a device in swift-ring-builder's add syntax with its weight.
func ParseDevice(spec string, weight float64) (Device, error) {
	m := deviceSpec.FindStringSubmatch(spec)
	if m == nil {
		return Device{}, fmt.Errorf("invalid device %q: want r<region>z<zone>-<ip>:<port>/<device>[_<meta>]", spec)
	}
	region, err1 := strconv.Atoi(m[1])
	zone, err2 := strconv.Atoi(m[2])
	port, err3 := strconv.Atoi(m[4])
	if err1 != nil || err2 != nil || err3 != nil || port < 1 || port > 65535 {
		return Device{}, fmt.Errorf("invalid device %q: region, zone or port out of range", spec)
	}
	ip := m[3]
	if len(ip) > 1 && ip[0] == '[' {
		ip = ip[1 : len(ip)-1]
	}
	if net.ParseIP(ip) == nil {
		return Device{}, fmt.Errorf("invalid device %q: %q is not an IP address", spec, ip)
	}
	return Device{Region: region, Zone: zone, IP: ip, Port: port, Name: m[5], Meta: m[6], Weight: weight}, nil
}
