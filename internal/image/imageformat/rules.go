package imageformat

import "fmt"

// UploadVerdict is what the image service records of accepted data.
type UploadVerdict struct {
	// Format is the format the content was found to have.
	Format string
	// VirtualSize is the disk's size, 0 when it cannot be told (upstream then
	// leaves virtual_size unset).
	VirtualSize int64
}

// Upload applies upstream Glance's rules to image data declared diskFormat
// (glance/location.py ImageProxy.set_data, with [image_format]
// require_image_format_match, its default): the content's format must be the
// declared one, except that content no inspector recognises may be declared a
// format no inspector knows (ami, aki, ari, ploop), and content declared raw
// may be anything that passes its format's safety checks (its virtual size is
// then its size). An ISO with a partition table in front is an ISO; any other
// mix of formats is refused. The format found must pass its safety checks.
//
// Call it after Finish. An error is a *FormatError (content and disk_format
// disagree, or the content cannot be inspected) or a *SafetyError.
func Upload(diskFormat string, d *Detector) (UploadVerdict, error) {
	return upload(diskFormat, d, true)
}

// UploadRefused tells, before the end of the stream, whether Upload is already
// sure to refuse the data (nil while it may still be accepted): an upload can
// then stop at its first megabytes. Only the checks of the stream's end (a vhd
// or vmdk footer) are left for Upload.
func UploadRefused(diskFormat string, d *Detector) error {
	if !d.Decided() {
		return nil
	}
	_, err := upload(diskFormat, d, false)
	return err
}

func upload(diskFormat string, d *Detector, final bool) (UploadVerdict, error) {
	in, err := d.format()
	if err != nil {
		return UploadVerdict{}, err
	}
	v := UploadVerdict{Format: in.name()}
	switch {
	case in.name() == diskFormat:
		v.VirtualSize = in.virtualSize()
	case in.name() == Raw && !Inspectable(diskFormat):
		// ami, aki, ari, ploop: not inspectable, and nothing else recognised
	case diskFormat == Raw:
		// declared raw, it will be read as raw: its size is its data's
		v.VirtualSize = d.Size()
	default:
		return UploadVerdict{}, &FormatError{fmt.Sprintf("Image disk_format %s does not match stream data %s", diskFormat, in.name())}
	}
	if in.name() == Raw {
		return v, nil
	}
	if err := safety(in, final); err != nil {
		return UploadVerdict{}, err
	}
	return v, nil
}

// amiFormats are the formats Nova lets hold anything safe: their content is
// read as raw.
var amiFormats = map[string]bool{"ami": true, "aki": true, "ari": true}

// Boot applies upstream Nova's rules to an image it is about to use
// (nova/virt/images.py do_image_deep_inspection) and returns the format qemu
// must open it with: the declared format must have an inspector (or be ami,
// aki, ari), the content must pass its format's safety checks, and be the
// declared format, except a partitioned disk (gpt/mbr) declared raw and
// anything declared ami, aki or ari. ISO and the ami formats are read as raw,
// vhd is qemu's vpc.
//
// Call it after Finish. An error is a *FormatError or a *SafetyError.
func Boot(diskFormat string, d *Detector) (string, error) {
	if !amiFormats[diskFormat] && !Inspectable(diskFormat) {
		return "", &FormatError{fmt.Sprintf("Image not in a supported format (%s)", diskFormat)}
	}
	in, err := d.format()
	if err != nil {
		return "", &FormatError{"Image content does not match disk_format: " + err.Error()}
	}
	if err := safety(in, true); in.name() != Raw && err != nil {
		return "", err
	}
	switch {
	case diskFormat == Raw && in.name() == GPT:
		// a whole disk with its partition table, as Nova allows
	case !amiFormats[diskFormat] && in.name() != diskFormat:
		return "", &FormatError{fmt.Sprintf("Image content does not match disk_format: %s declared, %s found", diskFormat, in.name())}
	}
	return QEMUFormat(diskFormat), nil
}

// QEMUFormat is qemu's name for the driver that reads a disk_format.
func QEMUFormat(diskFormat string) string {
	switch {
	case diskFormat == ISO || amiFormats[diskFormat]:
		return Raw
	case diskFormat == VHD:
		return "vpc"
	}
	return diskFormat
}
