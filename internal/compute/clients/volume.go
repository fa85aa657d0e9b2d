package clients

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"

	"github.com/nimbus-cloud/nimbus/internal/compute"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// volumeMicroversion is the block-storage microversion compute speaks:
// upstream Nova's minimum for the attachments API with os-complete (3.44).
const volumeMicroversion = "volume 3.44"

// catalogRetry is how long a catalog without a block-storage endpoint is
// believed before compute authenticates again to look (a volume service that
// joins the cloud later is found without a restart).
const catalogRetry = 30 * time.Second

// Volumes is the volume API (Cinder v3), found in the service catalog of
// compute's own token (type block-storage, or its old names volumev3 and
// volume), as upstream's [cinder] catalog_info.
type Volumes struct {
	creds Credentials
	fixed string // a base URL given (tests), else the catalog's

	mu       sync.Mutex
	e        *endpoint
	base     string // .../v3/, no project
	lookedAt time.Time
}

var _ compute.VolumeAPI = (*Volumes)(nil)

// NewVolumes reaches the volume API at baseURL (…/v3, without a project) or,
// when it is "", at the block-storage endpoint of the catalog.
func NewVolumes(creds Credentials, baseURL string) *Volumes {
	return &Volumes{creds: creds, fixed: baseURL}
}

// blockStorageTypes are the service types Cinder's v3 API is listed under.
var blockStorageTypes = []string{"block-storage", "volumev3", "volume"}

// endpoint is the volume API's, or compute.ErrNoVolumeService.
func (v *Volumes) endpoint(ctx context.Context) (*endpoint, string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.e != nil {
		return v.e, v.base, nil
	}
	if v.fixed != "" {
		v.base = strings.TrimSuffix(v.fixed, "/") + "/"
		v.e = newEndpoint(v.creds, v.base)
		return v.e, v.base, nil
	}
	if time.Since(v.lookedAt) < catalogRetry {
		return nil, "", compute.ErrNoVolumeService
	}
	v.lookedAt = time.Now()
	// The endpoint authenticates once: its url only names the API in
	// requests, which carry full URLs.
	probe := newEndpoint(v.creds, v.creds.IdentityURL)
	own, err := probe.own(ctx)
	if err != nil {
		v.lookedAt = time.Time{}
		return nil, "", err
	}
	result, ok := own.ProviderClient.GetAuthResult().(tokens.CreateResult)
	if !ok {
		return nil, "", compute.ErrNoVolumeService
	}
	catalog, err := result.ExtractServiceCatalog()
	if err != nil {
		return nil, "", err
	}
	for _, kind := range blockStorageTypes {
		for _, entry := range catalog.Entries {
			if entry.Type != kind {
				continue
			}
			for _, ep := range entry.Endpoints {
				if ep.Interface == "public" {
					v.base = versionBase(ep.URL)
					probe.url = v.base
					v.e = probe
					return v.e, v.base, nil
				}
			}
		}
	}
	return nil, "", compute.ErrNoVolumeService
}

// versionBase is the catalog URL up to and with its /v3/, without the project
// id the catalog's URL usually ends with (…/v3/%(project_id)s resolved).
func versionBase(u string) string {
	u = strings.TrimSuffix(u, "/")
	if i := strings.LastIndex(u, "/v3"); i >= 0 {
		return u[:i] + "/v3/"
	}
	return u + "/"
}

// volumePath is the URL of a collection path for the caller: in the caller's
// project, or without a project for compute's own calls (Cinder refuses a
// project in the URL that is not the token's).
func volumePath(base string, c compute.VolumeCaller, rest string) string {
	if c.Token != "" && c.ProjectID != "" {
		return base + url.PathEscape(c.ProjectID) + "/" + rest
	}
	return base + rest
}

// call sends one request with the microversion header and decodes the answer.
func (v *Volumes) call(ctx context.Context, c compute.VolumeCaller, method, rest string, body, out any, ok ...int) error {
	e, base, err := v.endpoint(ctx)
	if err != nil {
		return err
	}
	sc, err := e.as(ctx, c.Token)
	if err != nil {
		return err
	}
	opts := &gophercloud.RequestOpts{OkCodes: ok, MoreHeaders: map[string]string{"OpenStack-API-Version": volumeMicroversion},
		JSONBody: body, JSONResponse: out}
	_, err = sc.Request(ctx, method, volumePath(base, c, rest), opts)
	return apiError(err)
}

// volumeBody is Cinder's volume view, the fields compute reads.
type volumeBody struct {
	ID               string `json:"id"`
	Name             string `json:"name"`
	Status           string `json:"status"`
	Size             int    `json:"size"`
	AvailabilityZone string `json:"availability_zone"`
	Multiattach      bool   `json:"multiattach"`
	// Bootable is the string "true" or "false", as upstream answers.
	Bootable    string `json:"bootable"`
	Attachments []struct {
		ServerID     string `json:"server_id"`
		AttachmentID string `json:"attachment_id"`
	} `json:"attachments"`
}

func (b volumeBody) volume() compute.Volume {
	v := compute.Volume{ID: b.ID, Name: b.Name, Status: b.Status, Size: b.Size, AvailabilityZone: b.AvailabilityZone,
		Multiattach: b.Multiattach, Bootable: b.Bootable == "true"}
	for _, a := range b.Attachments {
		v.Attachments = append(v.Attachments, compute.VolumeAttachmentRef{ServerID: a.ServerID, AttachmentID: a.AttachmentID})
	}
	return v
}

func (v *Volumes) GetVolume(ctx context.Context, c compute.VolumeCaller, id string) (compute.Volume, error) {
	var out struct {
		Volume volumeBody `json:"volume"`
	}
	if err := v.call(ctx, c, http.MethodGet, "volumes/"+url.PathEscape(id), nil, &out, http.StatusOK); err != nil {
		return compute.Volume{}, err
	}
	return out.Volume.volume(), nil
}

func (v *Volumes) CreateVolume(ctx context.Context, c compute.VolumeCaller, req compute.VolumeCreate) (compute.Volume, error) {
	body := map[string]any{"size": req.Size}
	if req.Name != "" {
		body["name"] = req.Name
	}
	if req.ImageID != "" {
		body["imageRef"] = req.ImageID
	}
	if req.SnapshotID != "" {
		body["snapshot_id"] = req.SnapshotID
	}
	if req.VolumeType != "" {
		body["volume_type"] = req.VolumeType
	}
	if req.AvailabilityZone != "" {
		body["availability_zone"] = req.AvailabilityZone
	}
	var out struct {
		Volume volumeBody `json:"volume"`
	}
	if err := v.call(ctx, c, http.MethodPost, "volumes", map[string]any{"volume": body}, &out, http.StatusAccepted); err != nil {
		return compute.Volume{}, err
	}
	return out.Volume.volume(), nil
}

func (v *Volumes) DeleteVolume(ctx context.Context, c compute.VolumeCaller, id string) error {
	err := v.call(ctx, c, http.MethodDelete, "volumes/"+url.PathEscape(id), nil, nil, http.StatusAccepted)
	if httpapi.IsStatus(err, http.StatusNotFound) {
		return nil
	}
	return err
}

// attachmentBody is Cinder's attachment detail view.
type attachmentBody struct {
	ID             string                   `json:"id"`
	Status         string                   `json:"status"`
	VolumeID       string                   `json:"volume_id"`
	Instance       string                   `json:"instance"`
	ConnectionInfo compute.VolumeConnection `json:"connection_info"`
}

func (b attachmentBody) attachment() compute.VolumeAttachment {
	return compute.VolumeAttachment{ID: b.ID, Status: b.Status, VolumeID: b.VolumeID, InstanceID: b.Instance,
		ConnectionInfo: b.ConnectionInfo}
}

func (v *Volumes) CreateAttachment(ctx context.Context, c compute.VolumeCaller, volumeID, instanceUUID string) (compute.VolumeAttachment, error) {
	var out struct {
		Attachment attachmentBody `json:"attachment"`
	}
	body := map[string]any{"attachment": map[string]any{"volume_uuid": volumeID, "instance_uuid": instanceUUID}}
	if err := v.call(ctx, c, http.MethodPost, "attachments", body, &out, http.StatusOK); err != nil {
		return compute.VolumeAttachment{}, err
	}
	return out.Attachment.attachment(), nil
}

func (v *Volumes) UpdateAttachment(ctx context.Context, c compute.VolumeCaller, attachmentID string, connector compute.VolumeConnector) (compute.VolumeAttachment, error) {
	var out struct {
		Attachment attachmentBody `json:"attachment"`
	}
	body := map[string]any{"attachment": map[string]any{"connector": connector}}
	if err := v.call(ctx, c, http.MethodPut, "attachments/"+url.PathEscape(attachmentID), body, &out, http.StatusOK); err != nil {
		return compute.VolumeAttachment{}, err
	}
	return out.Attachment.attachment(), nil
}

func (v *Volumes) CompleteAttachment(ctx context.Context, c compute.VolumeCaller, attachmentID string) error {
	return v.call(ctx, c, http.MethodPost, "attachments/"+url.PathEscape(attachmentID)+"/action",
		map[string]any{"os-complete": nil}, nil, http.StatusNoContent)
}

func (v *Volumes) DeleteAttachment(ctx context.Context, c compute.VolumeCaller, attachmentID string) error {
	err := v.call(ctx, c, http.MethodDelete, "attachments/"+url.PathEscape(attachmentID), nil, nil, http.StatusOK)
	if httpapi.IsStatus(err, http.StatusNotFound) {
		return nil
	}
	return err
}
