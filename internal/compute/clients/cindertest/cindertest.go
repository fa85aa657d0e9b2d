// Package cindertest is a fake of the volume service's REST API (Cinder v3)
// for compute's tests: the subset compute calls (volumes show, create and
// delete; the attachments API of 3.44: create, update with a connector,
// os-complete, delete), with upstream's paths, bodies, statuses and error
// messages, keeping its volumes and attachments in memory.
package cindertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// Volume is one volume of the fake.
type Volume struct {
	ID          string
	ProjectID   string
	Name        string
	Status      string
	Size        int
	ImageID     string
	Multiattach bool
	AZ          string
}

// Attachment is one attachment of the fake.
type Attachment struct {
	ID         string
	VolumeID   string
	InstanceID string
	Status     string // reserved, attaching, attached
	Connector  map[string]any
}

// Request is one request the fake served, for tests to check shapes.
type Request struct {
	Method, Path, Microversion, Token, ServiceToken string
	Body                                            map[string]any
}

// Cinder is the fake; serve it with httptest.NewServer(c).
type Cinder struct {
	mu          sync.Mutex
	volumes     map[string]*Volume
	attachments map[string]*Attachment
	requests    []Request
	seq         int
	// Connection is the connection_info data an updated attachment gets
	// (host, port, export_name...); its export_name has the volume id added.
	Connection map[string]any
}

// New is an empty fake.
func New() *Cinder {
	return &Cinder{volumes: map[string]*Volume{}, attachments: map[string]*Attachment{},
		Connection: map[string]any{"host": "127.0.0.1", "port": 10809}}
}

// AddVolume puts an available volume in the fake.
func (c *Cinder) AddVolume(v Volume) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v.Status == "" {
		v.Status = "available"
	}
	c.volumes[v.ID] = &v
}

// Volume is the fake's volume (false: none).
func (c *Cinder) Volume(id string) (Volume, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.volumes[id]
	if !ok {
		return Volume{}, false
	}
	return *v, true
}

// SetStatus sets a volume's status (a creation that finished, or failed).
func (c *Cinder) SetStatus(id, status string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.volumes[id]; ok {
		v.Status = status
	}
}

// Attachments are the fake's attachments of the volume.
func (c *Cinder) Attachments(volumeID string) []Attachment {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Attachment
	for _, a := range c.attachments {
		if a.VolumeID == volumeID {
			out = append(out, *a)
		}
	}
	return out
}

// Requests are the requests served so far.
func (c *Cinder) Requests() []Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Request(nil), c.requests...)
}

func (c *Cinder) nextID(prefix string) string {
	c.seq++
	return fmt.Sprintf("%s%04x-0000-4000-8000-%012x", prefix, c.seq, c.seq)
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if body != nil {
		json.NewEncoder(w).Encode(body)
	}
}

// fault is Cinder's error body: {"<kind>": {"code", "message"}}.
func fault(w http.ResponseWriter, status int, format string, args ...any) {
	kind := map[int]string{400: "badRequest", 404: "itemNotFound", 409: "conflict"}[status]
	writeJSON(w, status, map[string]any{kind: map[string]any{"code": status, "message": fmt.Sprintf(format, args...)}})
}

// ServeHTTP answers /v3/[{project_id}/]volumes... and attachments...; a
// project in the URL is the caller's (the fake trusts it: identity is not
// what it tests).
func (c *Cinder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) < 2 || parts[0] != "v3" {
		fault(w, 404, "The resource could not be found.")
		return
	}
	parts = parts[1:]
	project := ""
	if parts[0] != "volumes" && parts[0] != "attachments" {
		project, parts = parts[0], parts[1:]
	}
	var body map[string]any
	if r.ContentLength != 0 && r.Body != nil {
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			fault(w, 400, "Malformed request body")
			return
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests = append(c.requests, Request{Method: r.Method, Path: r.URL.Path, Token: r.Header.Get("X-Auth-Token"),
		ServiceToken: r.Header.Get("X-Service-Token"), Microversion: r.Header.Get("OpenStack-API-Version"), Body: body})
	if len(parts) == 0 {
		fault(w, 404, "The resource could not be found.")
		return
	}
	switch {
	case parts[0] == "volumes" && len(parts) == 1 && r.Method == http.MethodPost:
		c.createVolume(w, project, body)
	case parts[0] == "volumes" && len(parts) == 2 && r.Method == http.MethodGet:
		v, ok := c.visible(project, parts[1])
		if !ok {
			fault(w, 404, "Volume %s could not be found.", parts[1])
			return
		}
		writeJSON(w, 200, map[string]any{"volume": c.volumeView(v)})
	case parts[0] == "volumes" && len(parts) == 2 && r.Method == http.MethodDelete:
		v, ok := c.visible(project, parts[1])
		if !ok {
			fault(w, 404, "Volume %s could not be found.", parts[1])
			return
		}
		if v.Status == "in-use" || v.Status == "reserved" || v.Status == "attaching" {
			fault(w, 400, "Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer.")
			return
		}
		delete(c.volumes, v.ID)
		w.WriteHeader(http.StatusAccepted)
	case parts[0] == "attachments" && len(parts) == 1 && r.Method == http.MethodPost:
		c.createAttachment(w, project, body)
	case parts[0] == "attachments" && len(parts) == 2 && r.Method == http.MethodPut:
		c.updateAttachment(w, parts[1], body)
	case parts[0] == "attachments" && len(parts) == 3 && parts[2] == "action" && r.Method == http.MethodPost:
		a, ok := c.attachments[parts[1]]
		if !ok {
			fault(w, 404, "Volume attachment could not be found with filter: attachment_id = %s.", parts[1])
			return
		}
		if _, complete := body["os-complete"]; !complete {
			fault(w, 400, "There is no such action: %v", body)
			return
		}
		a.Status = "attached"
		c.volumes[a.VolumeID].Status = "in-use"
		w.WriteHeader(http.StatusNoContent)
	case parts[0] == "attachments" && len(parts) == 2 && r.Method == http.MethodDelete:
		a, ok := c.attachments[parts[1]]
		if !ok {
			fault(w, 404, "Volume attachment could not be found with filter: attachment_id = %s.", parts[1])
			return
		}
		delete(c.attachments, a.ID)
		if v, ok := c.volumes[a.VolumeID]; ok {
			v.Status = "available"
			for _, other := range c.attachments {
				if other.VolumeID == v.ID {
					v.Status = "in-use"
				}
			}
		}
		writeJSON(w, 200, map[string]any{"attachments": []any{}})
	default:
		fault(w, 404, "The resource could not be found.")
	}
}

// visible is the volume if the caller's project (none: compute's own, an
// admin) may see it.
func (c *Cinder) visible(project, id string) (*Volume, bool) {
	v, ok := c.volumes[id]
	if !ok || project != "" && v.ProjectID != project {
		return nil, false
	}
	return v, true
}

func (c *Cinder) volumeView(v *Volume) map[string]any {
	attachments := []any{}
	for _, a := range c.attachments {
		if a.VolumeID == v.ID && a.Status == "attached" {
			attachments = append(attachments, map[string]any{"server_id": a.InstanceID, "attachment_id": a.ID,
				"volume_id": v.ID, "id": v.ID})
		}
	}
	bootable := "false"
	if v.ImageID != "" {
		bootable = "true"
	}
	return map[string]any{"id": v.ID, "name": v.Name, "status": v.Status, "size": v.Size, "multiattach": v.Multiattach,
		"availability_zone": v.AZ, "bootable": bootable, "attachments": attachments}
}

func (c *Cinder) createVolume(w http.ResponseWriter, project string, body map[string]any) {
	spec, _ := body["volume"].(map[string]any)
	size, _ := spec["size"].(float64)
	if size < 1 {
		fault(w, 400, "Invalid input received: size must be an integer and greater than 0")
		return
	}
	v := &Volume{ID: c.nextID("c0"), ProjectID: project, Status: "creating", Size: int(size), AZ: "nova"}
	v.Name, _ = spec["name"].(string)
	v.ImageID, _ = spec["imageRef"].(string)
	if az, ok := spec["availability_zone"].(string); ok {
		v.AZ = az
	}
	c.volumes[v.ID] = v
	writeJSON(w, http.StatusAccepted, map[string]any{"volume": c.volumeView(v)})
}

func (c *Cinder) attachmentView(a *Attachment) map[string]any {
	view := map[string]any{"id": a.ID, "status": a.Status, "instance": a.InstanceID, "volume_id": a.VolumeID,
		"attach_mode": "rw", "attached_at": "", "detached_at": "", "connection_info": nil}
	if a.Connector != nil {
		data := map[string]any{"export_name": "volume-" + a.VolumeID}
		for k, v := range c.Connection {
			data[k] = v
		}
		view["connection_info"] = map[string]any{"driver_volume_type": "nbd", "data": data}
	}
	return map[string]any{"attachment": view}
}

func (c *Cinder) createAttachment(w http.ResponseWriter, project string, body map[string]any) {
	spec, _ := body["attachment"].(map[string]any)
	volumeID, _ := spec["volume_uuid"].(string)
	instance, _ := spec["instance_uuid"].(string)
	v, ok := c.visible(project, volumeID)
	if !ok {
		fault(w, 404, "Volume %s could not be found.", volumeID)
		return
	}
	expected := "available or downloading"
	ok = v.Status == "available" || v.Status == "downloading"
	if v.Multiattach {
		expected, ok = "available or in-use or downloading", ok || v.Status == "in-use"
	}
	if !ok {
		fault(w, 400, "Invalid volume: Volume %s status must be %s to reserve, but the current status is %s.", v.ID, expected, v.Status)
		return
	}
	a := &Attachment{ID: c.nextID("a0"), VolumeID: v.ID, InstanceID: instance, Status: "reserved"}
	c.attachments[a.ID] = a
	if v.Status != "in-use" {
		v.Status = "reserved"
	}
	writeJSON(w, 200, c.attachmentView(a))
}

func (c *Cinder) updateAttachment(w http.ResponseWriter, id string, body map[string]any) {
	a, ok := c.attachments[id]
	if !ok {
		fault(w, 404, "Volume attachment could not be found with filter: attachment_id = %s.", id)
		return
	}
	spec, _ := body["attachment"].(map[string]any)
	connector, ok := spec["connector"].(map[string]any)
	if !ok {
		fault(w, 400, "Invalid input for field/attribute connector.")
		return
	}
	a.Connector, a.Status = connector, "attaching"
	if v := c.volumes[a.VolumeID]; v.Status != "in-use" {
		v.Status = "attaching"
	}
	writeJSON(w, 200, c.attachmentView(a))
}
