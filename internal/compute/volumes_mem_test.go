package compute

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// memVolumes is the volume service in memory for the API tests, answering as
// Cinder's v3 API does (clients/cindertest is the same over HTTP, for the
// client's own tests): volumes of a project are visible to it (compute's own
// calls, without a project, see all), an attachment reserves an available
// volume, os-complete makes it in-use, the attachment's delete available
// again; Cinder's refusals as *httpapi.Error with its status and message.
type memVolumes struct {
	mu          sync.Mutex
	volumes     map[string]*memVolume
	attachments map[string]*memAttachment
	seq         int
	calls       []string // "create-attachment <volume>", "complete <attachment>", ...
}

type memVolume struct {
	Volume
	project string
}

type memAttachment struct {
	id, volume, instance, status string
	connector                    *VolumeConnector
}

func newMemVolumes() *memVolumes {
	return &memVolumes{volumes: map[string]*memVolume{}, attachments: map[string]*memAttachment{}}
}

func (m *memVolumes) add(project string, v Volume) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v.Status == "" {
		v.Status = "available"
	}
	m.volumes[v.ID] = &memVolume{Volume: v, project: project}
}

func (m *memVolumes) volume(id string) Volume {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v, ok := m.volumes[id]; ok {
		return m.view(v)
	}
	return Volume{}
}

func (m *memVolumes) log() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.calls...)
}

func (m *memVolumes) view(v *memVolume) Volume {
	out := v.Volume
	out.Attachments = nil
	for _, a := range m.attachments {
		if a.volume == v.ID && a.status == "attached" {
			out.Attachments = append(out.Attachments, VolumeAttachmentRef{ServerID: a.instance, AttachmentID: a.id})
		}
	}
	return out
}

func (m *memVolumes) visible(c VolumeCaller, id string) (*memVolume, error) {
	v, ok := m.volumes[id]
	if !ok || c.Token != "" && v.project != c.ProjectID {
		return nil, &httpapi.Error{Status: http.StatusNotFound, Message: "Volume " + id + " could not be found."}
	}
	return v, nil
}

func (m *memVolumes) GetVolume(_ context.Context, c VolumeCaller, id string) (Volume, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, err := m.visible(c, id)
	if err != nil {
		return Volume{}, err
	}
	return m.view(v), nil
}

func (m *memVolumes) CreateVolume(_ context.Context, c VolumeCaller, req VolumeCreate) (Volume, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seq++
	v := &memVolume{Volume: Volume{ID: fmt.Sprintf("c0000000-0000-4000-8000-%012x", m.seq), Name: req.Name, Size: req.Size,
		Status: "creating", Bootable: req.ImageID != ""}, project: c.ProjectID}
	m.volumes[v.ID] = v
	m.calls = append(m.calls, "create-volume "+v.ID)
	return m.view(v), nil
}

func (m *memVolumes) DeleteVolume(_ context.Context, c VolumeCaller, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls = append(m.calls, "delete-volume "+id)
	v, err := m.visible(c, id)
	if err != nil {
		return nil
	}
	if v.Status != "available" && v.Status != "error" {
		return &httpapi.Error{Status: http.StatusBadRequest, Message: "Invalid volume: Volume status must be available or error"}
	}
	delete(m.volumes, id)
	return nil
}

func (m *memVolumes) CreateAttachment(_ context.Context, c VolumeCaller, volumeID, instanceUUID string) (VolumeAttachment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, err := m.visible(c, volumeID)
	if err != nil {
		return VolumeAttachment{}, err
	}
	ok := v.Status == "available" || v.Status == "downloading" || v.Multiattach && v.Status == "in-use"
	if !ok {
		return VolumeAttachment{}, &httpapi.Error{Status: http.StatusBadRequest, Message: fmt.Sprintf(
			"Invalid volume: Volume %s status must be available or downloading to reserve, but the current status is %s.", v.ID, v.Status)}
	}
	m.seq++
	a := &memAttachment{id: fmt.Sprintf("a0000000-0000-4000-8000-%012x", m.seq), volume: v.ID, instance: instanceUUID, status: "reserved"}
	m.attachments[a.id] = a
	if v.Status != "in-use" {
		v.Status = "reserved"
	}
	m.calls = append(m.calls, "create-attachment "+v.ID)
	return VolumeAttachment{ID: a.id, Status: a.status, VolumeID: v.ID, InstanceID: instanceUUID}, nil
}

func (m *memVolumes) attachment(id string) (*memAttachment, error) {
	a, ok := m.attachments[id]
	if !ok {
		return nil, &httpapi.Error{Status: http.StatusNotFound, Message: "Volume attachment could not be found with filter: attachment_id = " + id + "."}
	}
	return a, nil
}

func (m *memVolumes) UpdateAttachment(_ context.Context, _ VolumeCaller, id string, connector VolumeConnector) (VolumeAttachment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, err := m.attachment(id)
	if err != nil {
		return VolumeAttachment{}, err
	}
	a.connector, a.status = &connector, "attaching"
	if v := m.volumes[a.volume]; v.Status != "in-use" {
		v.Status = "attaching"
	}
	m.calls = append(m.calls, "update-attachment "+a.volume+" "+connector.Host+" "+connector.IP)
	return VolumeAttachment{ID: a.id, Status: a.status, VolumeID: a.volume, InstanceID: a.instance,
		ConnectionInfo: VolumeConnection{DriverVolumeType: "nbd", Data: map[string]any{"host": "192.0.2.50", "port": float64(10809),
			"export_name": "volume-" + a.volume, "tls_psk_identity": connector.Host, "tls_psk_key": "00ff"}}}, nil
}

func (m *memVolumes) CompleteAttachment(_ context.Context, _ VolumeCaller, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, err := m.attachment(id)
	if err != nil {
		return err
	}
	a.status = "attached"
	m.volumes[a.volume].Status = "in-use"
	m.calls = append(m.calls, "complete "+a.volume)
	return nil
}

func (m *memVolumes) DeleteAttachment(_ context.Context, _ VolumeCaller, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.attachments[id]
	if !ok {
		return nil
	}
	delete(m.attachments, id)
	if v, ok := m.volumes[a.volume]; ok {
		v.Status = "available"
		for _, other := range m.attachments {
			if other.volume == v.ID {
				v.Status = "in-use"
			}
		}
	}
	m.calls = append(m.calls, "delete-attachment "+a.volume)
	return nil
}
