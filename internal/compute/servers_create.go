package compute

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"net/http"
	"net/netip"
	"regexp"
	"strings"

	"github.com/google/uuid"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

type createServerRequest struct {
	Server         *createServerFields `json:"server"`
	SchedulerHints map[string]any      `json:"os:scheduler_hints"`
	// LegacyHints is the old extension's name for the same hints.
	LegacyHints map[string]any `json:"OS-SCH-HNT:scheduler_hints"`
}

// createServerFields is the body's server. The fields later microversions
// added are raw, so that absent, null and a value can be told apart.
type createServerFields struct {
	Name           *string `json:"name"`
	ImageRef       *string `json:"imageRef"`
	FlavorRef      any     `json:"flavorRef"`
	Networks       any     `json:"networks"`
	SecurityGroups []struct {
		Name string `json:"name"`
	} `json:"security_groups"`
	KeyName              *string        `json:"key_name"`
	UserData             *string        `json:"user_data"`
	Metadata             map[string]any `json:"metadata"`
	AvailabilityZone     *string        `json:"availability_zone"`
	MinCount             any            `json:"min_count"`
	MaxCount             any            `json:"max_count"`
	ConfigDrive          any            `json:"config_drive"`
	AccessIPv4           *string        `json:"accessIPv4"`
	AccessIPv6           *string        `json:"accessIPv6"`
	AdminPass            *string        `json:"adminPass"`
	ReturnReservationID  any            `json:"return_reservation_id"`
	BlockDeviceMappingV2 []any          `json:"block_device_mapping_v2"`
	DiskConfig           *string        `json:"OS-DCF:diskConfig"`

	Description              json.RawMessage `json:"description"`                // 2.19
	Tags                     json.RawMessage `json:"tags"`                       // 2.52
	Personality              json.RawMessage `json:"personality"`                // gone in 2.57
	TrustedImageCertificates json.RawMessage `json:"trusted_image_certificates"` // 2.63
	Host                     json.RawMessage `json:"host"`                       // 2.74
	HypervisorHostname       json.RawMessage `json:"hypervisor_hostname"`        // 2.74
	Hostname                 json.RawMessage `json:"hostname"`                   // 2.90
}

// bootImage is the image a server boots (or is rebuilt or rescued) from: it
// must exist, be active and fit the flavor, and the kernel and ramdisk it names
// must be images the caller may see (kernelAndRamdisk).
func (s *Service) bootImage(ctx context.Context, token, imageID string, flavor Flavor) (Image, error) {
	image, err := s.opts.Images.Get(ctx, token, imageID)
	if err != nil {
		if httpapi.IsStatus(err, http.StatusNotFound) {
			return Image{}, badRequest("Image %s could not be found.", imageID)
		}
		return Image{}, fmt.Errorf("look up image %s: %w", imageID, err)
	}
	if image.Status != "active" {
		return Image{}, badRequest("Image %s is not active.", imageID)
	}
	if image.MinRAM > flavor.RAM {
		return Image{}, badRequest("Flavor's memory is too small for requested image.")
	}
	if flavor.Disk > 0 {
		if image.MinDisk > flavor.Disk {
			return Image{}, badRequest("Flavor's disk is too small for requested image. Flavor disk is %d bytes, minimum requested disk is %d bytes.",
				int64(flavor.Disk)<<30, int64(image.MinDisk)<<30)
		}
		if size := max(image.VirtualSize, image.Size); size > int64(flavor.Disk)<<30 {
			return Image{}, badRequest("Flavor's disk is too small for requested image. Flavor disk is %d bytes, image is %d bytes.",
				int64(flavor.Disk)<<30, size)
		}
	}
	if err := s.kernelAndRamdisk(ctx, token, &image); err != nil {
		return Image{}, err
	}
	return image, nil
}

// checkZeroDisk is upstream's servers:create:zero_disk_flavor: a flavor of no
// root disk sets no bound on the disk an image makes on the host, so only
// those the rule allows (admins) boot images on one (servers booted from
// volumes, which Nimbus has not, are exempt upstream).
func (s *Service) checkZeroDisk(r *http.Request, flavor Flavor) error {
	if flavor.Disk != 0 {
		return nil
	}
	creds := auth.FromContext(r.Context())
	target := map[string]any{"target.project_id": creds.ProjectID, "target.user_id": creds.UserID}
	if s.policy.Allowed("os_compute_api:servers:create:zero_disk_flavor", target, creds.PolicyCredentials()) {
		return nil
	}
	return forbidden("Only volume-backed servers are allowed for flavors with zero disk.")
}

// hiddenImage is an image the caller may not see that a boot image names as its
// kernel or ramdisk; each action words the refusal as upstream does (create:
// "Can not find requested image", rebuild: "Cannot find image for rebuild").
type hiddenImage struct{ id string }

func (h *hiddenImage) Error() string { return fmt.Sprintf("image %s could not be found", h.id) }

// kernelAndRamdisk is upstream's _handle_kernel_and_ramdisk: the kernel_id and
// ramdisk_id an image names are looked up as the caller, so that image
// visibility applies to them as to the image itself; the host's agent fetches
// them with the cloud's own credentials and must never be handed one the
// caller could not read. The image's copy is left naming the ids as the image
// service knows them, or neither for kernel_id "nokernel".
func (s *Service) kernelAndRamdisk(ctx context.Context, token string, image *Image) error {
	kernel, ramdisk := image.Properties["kernel_id"], image.Properties["ramdisk_id"]
	if kernel == "" && ramdisk == "" {
		return nil
	}
	props := maps.Clone(image.Properties)
	delete(props, "kernel_id")
	delete(props, "ramdisk_id")
	if kernel == "nokernel" {
		image.Properties = props
		return nil
	}
	for _, ref := range []struct{ key, id string }{{"kernel_id", kernel}, {"ramdisk_id", ramdisk}} {
		if ref.id == "" {
			continue
		}
		found, err := s.opts.Images.Get(ctx, token, ref.id)
		if err != nil {
			if httpapi.IsStatus(err, http.StatusNotFound) || httpapi.IsStatus(err, http.StatusForbidden) {
				return &hiddenImage{id: ref.id}
			}
			return fmt.Errorf("look up the %s of image %s: %w", ref.key, image.ID, err)
		}
		props[ref.key] = found.ID
	}
	image.Properties = props
	return nil
}

// createServer is POST /servers: it validates the request against the other
// services as the caller, checks the quota, records the instances in BUILD and
// leaves scheduling and spawning to the conductor and the agents.
func (s *Service) createServer(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	creds := auth.FromContext(ctx)
	token := r.Header.Get("X-Auth-Token")
	var req createServerRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return httpapi.Response{}, err
	}
	in := req.Server
	if in == nil {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute server. Value: None. 'server' is a required property")
	}
	if in.Name == nil {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute server. 'name' is a required property")
	}
	name := *in.Name
	if strings.TrimSpace(name) == "" || len(name) > 255 {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute name. Value: %s. It must be 1-255 characters and not only spaces", name)
	}
	imageSpecified := in.ImageRef != nil && *in.ImageRef != ""
	var bdms []blockDeviceRequest
	if len(in.BlockDeviceMappingV2) > 0 {
		var err error
		if bdms, err = parseBlockDevices(in.BlockDeviceMappingV2, imageSpecified); err != nil {
			return httpapi.Response{}, err
		}
	} else if !imageSpecified {
		return httpapi.Response{}, badRequest("Missing imageRef attribute")
	}
	flavorID := refID(in.FlavorRef)
	if flavorID == "" {
		return httpapi.Response{}, badRequest("Missing flavorRef attribute")
	}
	minCount, err := countField("min_count", in.MinCount)
	if err != nil {
		return httpapi.Response{}, err
	}
	maxCount, err := countField("max_count", in.MaxCount)
	if err != nil {
		return httpapi.Response{}, err
	}
	if in.MaxCount == nil {
		maxCount = minCount
	}
	if minCount > maxCount {
		return httpapi.Response{}, badRequest("min_count must be <= max_count")
	}
	metadata, err := metadataField(in.Metadata)
	if err != nil {
		return httpapi.Response{}, err
	}
	extras, err := s.createExtrasOf(r, in, name, maxCount)
	if err != nil {
		return httpapi.Response{}, err
	}
	b := buildRequest{ReservationID: reservationID(), RequestID: httpapi.RequestID(ctx), Description: extras.description,
		RequestedHost: extras.host, RequestedNode: extras.node}
	if d := in.DiskConfig; d != nil {
		if err := checkDiskConfig(*d); err != nil {
			return httpapi.Response{}, err
		}
		b.DiskConfig = *d
	}
	if b.SchedulerHints = req.SchedulerHints; b.SchedulerHints == nil {
		b.SchedulerHints = req.LegacyHints
	}
	if in.UserData != nil && *in.UserData != "" {
		if _, err := base64.StdEncoding.DecodeString(*in.UserData); err != nil {
			return httpapi.Response{}, badRequest("User data needs to be valid base 64.")
		}
		if len(*in.UserData) > 65535 {
			return httpapi.Response{}, badRequest("User data too large. User data must be no larger than 65535 bytes once base64 encoded.")
		}
		b.UserData = *in.UserData
	}
	if b.ConfigDrive, err = boolField("config_drive", in.ConfigDrive); err != nil {
		return httpapi.Response{}, err
	}
	for _, ip := range []struct {
		v     *string
		field string
		dst   *string
		is4   bool
	}{{in.AccessIPv4, "accessIPv4", &b.AccessIPv4, true}, {in.AccessIPv6, "accessIPv6", &b.AccessIPv6, false}} {
		if ip.v == nil || *ip.v == "" {
			continue
		}
		a, err := netip.ParseAddr(*ip.v)
		if err != nil || a.Is4() != ip.is4 {
			return httpapi.Response{}, badRequest("Invalid input for field/attribute %s. Value: %s. '%s' is not a '%s'", ip.field, *ip.v, *ip.v, map[bool]string{true: "ipv4", false: "ipv6"}[ip.is4])
		}
		*ip.dst = a.String()
	}

	flavor, err := s.flavor(ctx, creds, flavorID)
	if err != nil {
		return httpapi.Response{}, badRequest("Flavor %s could not be found.", flavorID)
	}
	var image Image
	imageRef := ""
	if volumeBacked(bdms) {
		// Booted from a volume: the flavor's disk bounds nothing (upstream
		// exempts volume-backed servers from the zero-disk rule).
		if image, err = s.volumeBootImage(ctx, token, rootBlockDevice(bdms)); err != nil {
			return httpapi.Response{}, err
		}
	} else {
		if !imageSpecified {
			return httpapi.Response{}, badRequest("Missing imageRef attribute")
		}
		image, err = s.bootImage(ctx, token, refID(*in.ImageRef), flavor)
		if hidden := (*hiddenImage)(nil); errors.As(err, &hidden) {
			return httpapi.Response{}, badRequest("Can not find requested image")
		} else if err != nil {
			return httpapi.Response{}, err
		}
		if err := s.checkZeroDisk(r, flavor); err != nil {
			return httpapi.Response{}, err
		}
		imageRef = image.ID
	}
	if len(bdms) > 0 {
		if err := s.checkBlockDevices(r, bdms, imageRef, maxCount); err != nil {
			return httpapi.Response{}, err
		}
	}
	if b.LocalDisks, err = localDisks(bdms, flavor); err != nil {
		return httpapi.Response{}, err
	}
	b.Image = image

	// The first server's id is chosen now, for the refusal of a port to name it.
	firstID := uuid.NewString()
	if b.Networks, err = s.createNetworks(r, token, in.Networks, maxCount, firstID); err != nil {
		return httpapi.Response{}, err
	}
	if len(b.Networks) > 0 {
		if err := s.enforce(r, "os_compute_api:servers:create:attach_network", map[string]any{
			"target.project_id": creds.ProjectID, "target.user_id": creds.UserID}); err != nil {
			return httpapi.Response{}, err
		}
	}
	groups := []string{"default"}
	if len(in.SecurityGroups) > 0 {
		groups = groups[:0]
		for _, g := range in.SecurityGroups {
			if g.Name == "" {
				return httpapi.Response{}, badRequest("Invalid input for field/attribute security_groups. 'name' is a required property")
			}
			groups = append(groups, g.Name)
		}
	}
	b.SecurityGroups = groups
	if len(b.Networks) > 0 {
		if b.SecurityGroupIDs, err = s.opts.Network.SecurityGroupIDs(ctx, token, creds.ProjectID, groups); err != nil {
			if httpapi.IsStatus(err, http.StatusNotFound) || httpapi.IsStatus(err, http.StatusBadRequest) {
				return httpapi.Response{}, badRequest("%s", errMessage(err))
			}
			return httpapi.Response{}, fmt.Errorf("security groups: %w", err)
		}
	}
	keyName := ""
	if in.KeyName != nil && *in.KeyName != "" {
		k, err := s.keypair(r, creds.UserID, *in.KeyName)
		if err != nil {
			return httpapi.Response{}, badRequest("Invalid key_name provided.")
		}
		keyName, b.KeyData, b.KeyType = k.Name, k.PublicKey, k.Type
	}
	az := ""
	if in.AvailabilityZone != nil && *in.AvailabilityZone != "" {
		zone, host, forced := strings.Cut(*in.AvailabilityZone, ":")
		if forced {
			if err := s.enforce(r, "os_compute_api:servers:create:forced_host", map[string]any{"target.project_id": creds.ProjectID}); err != nil {
				return httpapi.Response{}, err
			}
			b.ForcedHost = host
		}
		if zone != "" {
			zones, err := s.availabilityZones(ctx)
			if err != nil {
				return httpapi.Response{}, err
			}
			if !zones[zone] {
				return httpapi.Response{}, badRequest("The requested availability zone is not available")
			}
			az = zone
			b.PinnedAZ = zone
		}
	}
	if err := s.requestedDestination(r, extras, b.ForcedHost != ""); err != nil {
		return httpapi.Response{}, err
	}
	if g, ok := req.SchedulerHints["group"]; ok {
		id, _ := g.(string)
		if !isUUID(id) {
			return httpapi.Response{}, badRequest("Invalid input for field/attribute group. Value: %v. '%v' is not a 'uuid'", g, g)
		}
		if _, err := hintedServerGroup(ctx, s.db, creds.ProjectID, isAdmin(creds), id); err != nil {
			return httpapi.Response{}, err
		}
		b.ServerGroup = id
	}

	adminPass := ""
	if in.AdminPass != nil {
		adminPass = *in.AdminPass
	} else {
		adminPass = randomPassword()
	}
	// How many servers the quota admits decides how many ports to make; the
	// ports are made before the servers are recorded, so that the conductor
	// never sees a server without them, and the count is held again when the
	// servers are recorded.
	count, err := s.quotaRoom(ctx, s.db, creds.ProjectID, creds.UserID, flavor, minCount, maxCount)
	if err != nil {
		return httpapi.Response{}, err
	}
	ids := make([]string, count)
	for i := range ids {
		ids[i] = uuid.NewString()
	}
	ids[0] = firstID
	networks, err := s.makePorts(ctx, token, creds.ProjectID, b.Networks, b.SecurityGroupIDs, ids)
	if err != nil {
		return httpapi.Response{}, err
	}
	devices, undoDevices := make([][]blockDevice, len(ids)), func() {}
	if len(bdms) > 0 {
		if devices, undoDevices, err = s.prepareBlockDevices(r, bdms, ids, len(b.LocalDisks)); err != nil {
			s.deleteMadePorts(ctx, networks)
			return httpapi.Response{}, err
		}
	}
	// The instances' integer ids are drawn before the transaction: a retried
	// transaction keeps them, and an id a failed create drew is never used.
	next, err := nextIDs(ctx, s.db, seqInstances, count)
	if err != nil {
		s.deleteMadePorts(ctx, networks)
		undoDevices()
		return httpapi.Response{}, err
	}
	var created []*instance
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		created = make([]*instance, 0, count)
		// The quota again, in the transaction that records the servers: what
		// concurrent creates recorded meanwhile counts.
		if _, err := s.quotaRoom(ctx, tx, creds.ProjectID, creds.UserID, flavor, count, count); err != nil {
			return err
		}
		now := stamp(s.now())
		for i := range count {
			display := name
			if count > 1 {
				display = fmt.Sprintf("%s-%d", name, i+1)
			}
			req := b
			req.LaunchIndex = i
			req.Networks = networks[i]
			hostname := extras.hostname
			if hostname == "" {
				hostname = sanitizeHostname(display, fmt.Sprintf("server-%d", next+int64(i)))
			}
			tags := extras.tags
			if tags == nil {
				tags = []string{}
			}
			inst := &instance{UUID: ids[i], ID: next + int64(i), ProjectID: creds.ProjectID, UserID: creds.UserID,
				Name: display, Hostname: hostname, AZ: az,
				VMState: vmBuilding, TaskState: taskScheduling, Flavor: flavor, ImageRef: imageRef, KeyName: keyName,
				Metadata: metadata, Tags: tags, Request: req, CreatedAt: now, UpdatedAt: now}
			if _, err := tx.ExecContext(ctx, `INSERT INTO instances (`+instanceColumns+`) VALUES
				(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				inst.UUID, inst.ID, inst.ProjectID, inst.UserID, inst.Name, inst.Hostname, nil, nullable(az), inst.VMState,
				inst.TaskState, powerNoState, mustJSON(flavor), inst.ImageRef, nullable(keyName), mustJSON(metadata), mustJSON(tags),
				false, nil, nil, mustJSON(req), nil, now, now, nil, nil, false); err != nil {
				return err
			}
			if err := s.startAction(ctx, tx, r, inst, "create"); err != nil {
				return err
			}
			for _, d := range devices[i] {
				if err := insertBlockDevice(ctx, tx, d); err != nil {
					return err
				}
			}
			created = append(created, inst)
		}
		if b.ServerGroup != "" {
			uuids := make([]string, len(created))
			for i, inst := range created {
				uuids[i] = inst.UUID
			}
			return s.joinServerGroup(ctx, tx, creds.ProjectID, isAdmin(creds), b.ServerGroup, uuids)
		}
		return nil
	})
	if err != nil {
		s.deleteMadePorts(ctx, networks)
		undoDevices()
		return httpapi.Response{}, err
	}
	s.wake() // the new instances have no host yet: no agent needs to look
	first := created[0]
	if on, _ := boolField("return_reservation_id", req.Server.ReturnReservationID); on {
		return httpapi.JSON(http.StatusAccepted, map[string]any{"reservation_id": b.ReservationID}), nil
	}
	sgs := []map[string]string{}
	for _, g := range groups {
		sgs = append(sgs, map[string]string{"name": g})
	}
	return httpapi.JSON(http.StatusAccepted, map[string]any{"server": map[string]any{
		"id": first.UUID, "links": s.serverLinks(first.UUID), "OS-DCF:diskConfig": diskConfigOf(first),
		"security_groups": sgs, "adminPass": adminPass,
	}}).WithHeader("Location", s.base()+"/v2.1/servers/"+first.UUID), nil
}

// requestedNetworks checks the request's networks as the caller: each network
// and port must be visible (400 otherwise), a port the project's own (400) and
// free (409), an external network the admin's (403); none named means the one
// network the project may use, or none. serverID names the first server in the
// refusal of a port.
func (s *Service) requestedNetworks(ctx context.Context, token string, raw any, count int, serverID string) ([]requestedNetwork, error) {
	var out []requestedNetwork
	switch v := raw.(type) {
	case nil:
		nets, err := s.opts.Network.Networks(ctx, token)
		if err != nil {
			return nil, fmt.Errorf("list networks: %w", err)
		}
		switch len(nets) {
		case 0:
			return nil, nil
		case 1:
			return []requestedNetwork{{NetworkID: nets[0].ID}}, nil
		}
		return nil, conflict("Multiple possible networks found, use a Network ID to be more specific.")
	case string:
		return nil, badRequest("Invalid input for field/attribute networks. Value: %s. '%s' is not of type 'array' (networks auto/none need microversion 2.37)", v, v)
	case []any:
		for _, item := range v {
			m, ok := item.(map[string]any)
			if !ok {
				return nil, badRequest("Bad networks format")
			}
			var n requestedNetwork
			n.NetworkID, _ = m["uuid"].(string)
			n.PortID, _ = m["port"].(string)
			n.FixedIP, _ = m["fixed_ip"].(string)
			if n.FixedIP != "" {
				if _, err := netip.ParseAddr(n.FixedIP); err != nil {
					return nil, badRequest("Invalid fixed IP address (%s)", n.FixedIP)
				}
			}
			switch {
			case n.PortID != "":
				p, err := s.opts.Network.GetPort(ctx, token, n.PortID)
				if err != nil {
					if httpapi.IsStatus(err, http.StatusNotFound) {
						return nil, badRequest("Port %s could not be found.", n.PortID)
					}
					return nil, fmt.Errorf("look up port %s: %w", n.PortID, err)
				}
				if err := portUsable(ctx, p, serverID); err != nil {
					return nil, err
				}
				if count > 1 {
					return nil, badRequest("Unable to launch multiple instances with a single configured port ID. Please launch your instance one by one with different ports.")
				}
				n.NetworkID = p.NetworkID
				// The port's network, as compute sees it: the user may not see
				// the external network a port of theirs is on.
				net, err := s.opts.Network.GetNetwork(ctx, "", p.NetworkID)
				if err != nil {
					return nil, fmt.Errorf("look up network %s of port %s: %w", p.NetworkID, n.PortID, err)
				}
				if err := s.checkExternalAttach(ctx, net); err != nil {
					return nil, err
				}
			case n.NetworkID != "":
				net, err := s.opts.Network.GetNetwork(ctx, token, n.NetworkID)
				if err != nil {
					if httpapi.IsStatus(err, http.StatusNotFound) {
						return nil, badRequest("Network %s could not be found.", n.NetworkID)
					}
					return nil, fmt.Errorf("look up network %s: %w", n.NetworkID, err)
				}
				if err := s.checkExternalAttach(ctx, net); err != nil {
					return nil, err
				}
				if n.FixedIP != "" && count > 1 {
					return nil, badRequest("max_count cannot be greater than 1 if an fixed_ip is specified.")
				}
			default:
				return nil, badRequest("Bad networks format: network uuid is not in proper format ()")
			}
			out = append(out, n)
		}
		return out, nil
	}
	return nil, badRequest("Invalid input for field/attribute networks. It is not of type 'array'")
}

// quotaRoom is how many of [min, max] instances the project's quota, and the
// user's where the user has limits of its own, admit (instances, cores, ram),
// or upstream's 403.
func (s *Service) quotaRoom(ctx context.Context, tx querier, project, user string, f Flavor, minCount, maxCount int) (int, error) {
	count, err := s.quotaRoomOf(ctx, tx, project, "", f, minCount, maxCount)
	if err != nil || user == "" {
		return count, err
	}
	return s.quotaRoomOf(ctx, tx, project, user, f, minCount, count)
}

// quotaRoomOf is quotaRoom for the project (user "") or for one user of it.
func (s *Service) quotaRoomOf(ctx context.Context, tx querier, project, user string, f Flavor, minCount, maxCount int) (int, error) {
	limits, err := s.quotaLimits(ctx, tx, project)
	if user != "" {
		var own bool
		limits, own, err = s.userQuotaLimits(ctx, tx, project, user)
		if err == nil && !own {
			return maxCount, nil // the project's check covers it
		}
	}
	if err != nil {
		return 0, err
	}
	if limits["instances"] < 0 && limits["cores"] < 0 && limits["ram"] < 0 {
		// Unlimited: no need to count the project's instances (inside the
		// write transaction, that count would hold up every other writer).
		return maxCount, nil
	}
	used, err := s.usageOf(ctx, tx, project, user)
	if err != nil {
		return 0, err
	}
	per := map[string]int{"instances": 1, "cores": f.VCPUs, "ram": f.RAM}
	count := maxCount
	for _, res := range []string{"instances", "cores", "ram"} {
		limit := limits[res]
		if limit < 0 || per[res] == 0 {
			continue
		}
		room := (limit - used[res]) / per[res]
		if room < minCount {
			return 0, forbidden("Quota exceeded for %s: Requested %d, but already used %d of %d %s", res, per[res]*minCount, used[res], limit, res)
		}
		count = min(count, room)
	}
	return count, nil
}

// usage counts a project's instances, cores and RAM (every instance not deleted).
func (s *Service) usage(ctx context.Context, q querier, project string) (map[string]int, error) {
	return s.usageOf(ctx, q, project, "")
}

// usageOf is usage of one user's instances in the project (all when user is "").
func (s *Service) usageOf(ctx context.Context, q querier, project, user string) (map[string]int, error) {
	query, args := `SELECT flavor FROM instances WHERE project_id = ? AND deleted = ?`, []any{project, false}
	if user != "" {
		query, args = query+` AND user_id = ?`, append(args, user)
	}
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	used := map[string]int{}
	for rows.Next() {
		var raw string
		if err := rows.Scan(&raw); err != nil {
			return nil, err
		}
		var f struct { // only what the quota counts: cheaper than a whole Flavor
			VCPUs int `json:"vcpus"`
			RAM   int `json:"ram"`
		}
		if err := jsonUnmarshal(raw, &f); err != nil {
			return nil, err
		}
		used["instances"]++
		used["cores"] += f.VCPUs
		used["ram"] += f.RAM
	}
	return used, rows.Err()
}

func refID(v any) string {
	s, ok := v.(string)
	if !ok {
		if f, isNum := v.(float64); isNum {
			return fmt.Sprintf("%d", int64(f))
		}
		return ""
	}
	// A reference may be a URL (.../flavors/1): its last segment is the id.
	if i := strings.LastIndex(s, "/"); i >= 0 {
		s = s[i+1:]
	}
	return strings.TrimSpace(s)
}

func countField(name string, v any) (int, error) {
	switch x := v.(type) {
	case nil:
		return 1, nil
	case float64:
		if x >= 1 && x == float64(int(x)) {
			return int(x), nil
		}
	case string:
		var n int
		if _, err := fmt.Sscanf(x, "%d", &n); err == nil && n >= 1 && fmt.Sprint(n) == x {
			return n, nil
		}
	}
	return 0, badRequest("Invalid input for field/attribute %s. Value: %v. %v is less than the minimum of 1", name, v, v)
}

func boolField(name string, v any) (bool, error) {
	switch x := v.(type) {
	case nil:
		return false, nil
	case bool:
		return x, nil
	case string:
		switch strings.ToLower(x) {
		case "true", "t", "yes", "y", "on", "1":
			return true, nil
		case "false", "f", "no", "n", "off", "0", "":
			return false, nil
		}
	}
	return false, badRequest("Invalid input for field/attribute %s. Value: %v. %v is not of type 'boolean'", name, v, v)
}

// metadataField validates server metadata: string keys 1-255 and string values
// up to 255 characters.
func metadataField(m map[string]any) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range m {
		str, ok := v.(string)
		if !ok {
			return nil, badRequest("Invalid input for field/attribute metadata. Value: %v. %v is not of type 'string'", v, v)
		}
		if k == "" || len(k) > 255 || len(str) > 255 {
			return nil, badRequest("Invalid input for field/attribute metadata. Keys and values must be 1-255 characters")
		}
		out[k] = str
	}
	if len(out) > 128 {
		return nil, forbidden("Quota exceeded for metadata_items: Requested %d, but already used 0 of 128 metadata_items", len(out))
	}
	return out, nil
}

var notHostname = regexp.MustCompile(`[^a-z0-9-]+`)

// sanitizeHostname is upstream's: lower case, runs of other characters become a
// dash, trimmed of dashes and dots, at most 63 characters; empty → fallback.
func sanitizeHostname(name, fallback string) string {
	h := notHostname.ReplaceAllString(strings.ToLower(strings.ReplaceAll(name, "_", "-")), "-")
	h = strings.Trim(h, "-.")
	if len(h) > 63 {
		h = strings.Trim(h[:63], "-")
	}
	if h == "" {
		return fallback
	}
	return h
}

func reservationID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 8)
	for i := range b {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		b[i] = alphabet[n.Int64()]
	}
	return "r-" + string(b)
}

func randomPassword() string {
	const alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
	b := make([]byte, 12)
	for i := range b {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		b[i] = alphabet[n.Int64()]
	}
	return string(b)
}

func errMessage(err error) string {
	var he *httpapi.Error
	if errors.As(err, &he) {
		return he.Message
	}
	return err.Error()
}
