package compute

import (
	"cmp"
	"fmt"
	"regexp"
	"strings"
)

// Local ephemeral and swap disks: block_device_mapping_v2 entries of source
// blank and destination local, and the flavor's ephemeral_gb and swap when the
// request names none, as upstream's compute API's _get_flavor_defined_bdms,
// _validate_bdm and _volume_size. The host makes them in the instance's
// directory as upstream's libvirt driver does (_create_ephemeral: a raw file
// formatted with the label ephemeral<n>; _create_swap: mkswap), names them
// disk.eph<n> and disk.swap, and the guest sees them after its root disk,
// ephemerals first, then swap, then volumes (blockinfo.get_disk_mapping).

// maxLocalBlockDevices is upstream's max_local_block_devices (default 3): the
// local disks a server may have, its image root disk included.
const maxLocalBlockDevices = 3

// guestFormatSwap is the guest_format of a swap disk.
const guestFormatSwap = "swap"

// LocalDisk is a blank local disk of an instance (upstream's
// BlockDeviceMapping of source blank, destination local).
type LocalDisk struct {
	// Name is the file in the instance's directory: disk.eph<n> or disk.swap.
	Name string `json:"name"`
	// Device is the guest's device name (/dev/vdb...), for the metadata's
	// block-device-mapping.
	Device string `json:"device"`
	// SizeMB is the disk's size: an ephemeral's GB, or a swap's MB, as MB.
	SizeMB int `json:"size_mb"`
	// GuestFormat is what the host formats it with: swap, a file system the
	// request named, or "" for the host's default_ephemeral_format.
	GuestFormat string `json:"guest_format,omitempty"`
	// Label is the file system's label (ephemeral<n>), "" for swap.
	Label string `json:"label,omitempty"`
	Tag   string `json:"tag,omitempty"`
}

// Swap says whether the disk is the swap disk.
func (d LocalDisk) Swap() bool { return d.GuestFormat == guestFormatSwap }

// localDiskName is what a LocalDisk's Name may be: the agent makes files of
// these names only, in the instance's directory.
var localDiskName = regexp.MustCompile(`^disk\.(eph[0-9]{1,3}|swap)$`)

// ValidLocalDiskName says whether name is a local disk's file name.
func ValidLocalDiskName(name string) bool { return localDiskName.MatchString(name) }

// isEphemeral and isSwap are upstream's new_format_is_ephemeral and
// new_format_is_swap.
func (b blockDeviceRequest) isEphemeral() bool {
	return b.SourceType == bdmSourceBlank && b.DestinationType == bdmDestLocal && b.GuestFormat != guestFormatSwap
}

func (b blockDeviceRequest) isSwap() bool {
	return b.SourceType == bdmSourceBlank && b.DestinationType == bdmDestLocal && b.GuestFormat == guestFormatSwap
}

// localDisks validates the request's local disks against the flavor, as
// upstream's _validate_bdm (after _get_flavor_defined_bdms added the flavor's
// ephemeral and swap disks the request did not name), and returns the disks
// to make, device names from /dev/vdb (the image's root disk is vda; a
// volume-backed server's root volume too).
func localDisks(bdms []blockDeviceRequest, flavor Flavor) ([]LocalDisk, error) {
	var ephemerals, swaps []blockDeviceRequest
	locals := 0
	for _, b := range bdms {
		switch {
		case b.isEphemeral():
			ephemerals = append(ephemerals, b)
		case b.isSwap():
			swaps = append(swaps, b)
		}
		if b.DestinationType == bdmDestLocal {
			locals++
		}
	}
	if len(bdms) == 0 {
		locals++ // the image's root disk, which a request without mappings does not list
	}
	if flavor.Ephemeral > 0 && len(ephemerals) == 0 {
		ephemerals = append(ephemerals, blockDeviceRequest{SourceType: bdmSourceBlank, DestinationType: bdmDestLocal,
			VolumeSize: flavor.Ephemeral})
		locals++
	}
	if flavor.Swap > 0 && len(swaps) == 0 {
		swaps = append(swaps, blockDeviceRequest{SourceType: bdmSourceBlank, DestinationType: bdmDestLocal,
			GuestFormat: guestFormatSwap, VolumeSize: flavor.Swap})
		locals++
	}
	total := 0
	for _, b := range ephemerals {
		total += cmp.Or(b.VolumeSize, flavor.Ephemeral)
	}
	if total > flavor.Ephemeral {
		return nil, badRequest("Ephemeral disks requested are larger than the instance type allows. If no size is given in one block device mapping, flavor ephemeral size will be used.")
	}
	if len(swaps) > 1 {
		return nil, invalidBDM("More than one swap drive requested.")
	}
	if len(swaps) == 1 && swaps[0].VolumeSize > flavor.Swap {
		return nil, badRequest("Swap drive requested is larger than instance type allows.")
	}
	if locals > maxLocalBlockDevices {
		return nil, badRequest("Block Device Mapping is Invalid: You specified more local devices than the limit allows")
	}
	var out []LocalDisk
	device := 0
	next := func() string {
		device++
		return "/dev/vd" + diskLetters(device)
	}
	for i, b := range ephemerals {
		// Upstream's _volume_size: an entry without a size has the flavor's.
		size := cmp.Or(b.VolumeSize, flavor.Ephemeral)
		if size == 0 {
			continue // nothing to make (upstream would make an empty file)
		}
		out = append(out, LocalDisk{Name: fmt.Sprintf("disk.eph%d", i), Device: next(), SizeMB: size * 1024,
			GuestFormat: strings.TrimSpace(b.GuestFormat), Label: fmt.Sprintf("ephemeral%d", i), Tag: b.Tag})
	}
	for _, b := range swaps {
		// Upstream's swap_is_usable: a swap entry without a size has the
		// flavor's swap, and none when the flavor has none.
		size := cmp.Or(b.VolumeSize, flavor.Swap)
		if size == 0 {
			continue
		}
		out = append(out, LocalDisk{Name: "disk.swap", Device: next(), SizeMB: size, GuestFormat: guestFormatSwap, Tag: b.Tag})
	}
	return out, nil
}

// ephemeralGB is the size of the instance's ephemeral disks, or its flavor's
// ephemeral_gb when it has none (upstream's eph_size of a resize).
func (in *instance) ephemeralGB() int {
	total := 0
	for _, d := range in.Request.LocalDisks {
		if !d.Swap() {
			total += d.SizeMB / 1024
		}
	}
	return cmp.Or(total, in.Flavor.Ephemeral)
}

// localDeviceRows are the instance's local disks as mappings, so the names
// a volume attach picks skip the devices they take.
func (in *instance) localDeviceRows() []blockDevice {
	var out []blockDevice
	for _, d := range in.Request.LocalDisks {
		out = append(out, blockDevice{DeviceName: d.Device})
	}
	return out
}
