package compute

import (
	"context"
	"encoding/base64"
	"net/netip"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/compute/metadata"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

var _ metadata.Source = (*Service)(nil)

// Instance is an instance as the metadata API and the config drive show it
// (metadata.Source).
func (s *Service) Instance(ctx context.Context, uuid string) (*metadata.Instance, error) {
	in, err := loadInstance(ctx, s.db, uuid)
	if err != nil {
		if httpapi.IsStatus(err, 404) {
			return nil, metadata.ErrNotFound
		}
		return nil, err
	}
	if in.Deleted {
		return nil, metadata.ErrNotFound
	}
	m := s.metadataOf(in)
	volumes, err := instanceBlockDevices(ctx, s.db, uuid)
	if err != nil {
		return nil, err
	}
	for _, b := range volumes {
		m.Volumes = append(m.Volumes, b.DeviceName)
	}
	return m, nil
}

func (s *Service) metadataOf(in *instance) *metadata.Instance {
	m := &metadata.Instance{UUID: in.UUID, EC2ID: in.ID, Name: in.Name, Hostname: in.Hostname, ProjectID: in.ProjectID,
		ReservationID: in.Request.ReservationID, LaunchIndex: in.Request.LaunchIndex, AvailabilityZone: s.zoneOf(in),
		InstanceType: in.Flavor.Name, ImageID: in.ImageRef, KernelID: in.Request.Image.Properties["kernel_id"],
		RamdiskID: in.Request.Image.Properties["ramdisk_id"], Metadata: in.Metadata, SecurityGroups: in.Request.SecurityGroups,
		Host: in.Host, RootDeviceName: "/dev/vda", Password: in.Request.Password}
	if t, err := time.Parse("2006-01-02T15:04:05Z", in.LaunchedAt); err == nil {
		m.LaunchedAt = t
	}
	for _, d := range in.Request.LocalDisks {
		if d.Swap() {
			m.Swap = d.Device
		} else {
			m.Ephemerals = append(m.Ephemerals, d.Device)
		}
	}
	if in.KeyName != "" {
		m.Keys = []metadata.KeyPair{{Name: in.KeyName, Type: nonEmpty(in.Request.KeyType, "ssh"), PublicKey: in.Request.KeyData}}
	}
	if in.Request.UserData != "" {
		if data, err := base64.StdEncoding.DecodeString(in.Request.UserData); err == nil {
			m.UserData = data
		}
	}
	for _, p := range in.Request.Ports {
		mp := metadata.Port{ID: p.ID, NetworkID: p.NetworkID, MAC: p.MAC, MTU: p.MTU}
		for _, ip := range p.IPs {
			if a, err := netip.ParseAddr(ip); err == nil {
				mp.FixedIPs = append(mp.FixedIPs, metadata.FixedIP{IP: a})
			}
		}
		for _, ip := range p.FloatingIPs {
			if a, err := netip.ParseAddr(ip); err == nil {
				mp.FloatingIPs = append(mp.FloatingIPs, a)
			}
		}
		m.Ports = append(m.Ports, mp)
	}
	return m
}
