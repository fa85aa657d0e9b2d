package agent

import (
	"context"
	"crypto/md5"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"os/exec"
	"slices"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/compute"
	"github.com/nimbus-cloud/nimbus/internal/image/imageformat"
)

// contentDigest hashes an image's data as it downloads, to check it against the
// hash the image service recorded at upload: the cache file is named by that
// hash, so its bytes must be those.
type contentDigest struct {
	hash.Hash
	algo, want string
}

// newContentDigest picks the image's strongest recorded hash: os_hash_value
// (sha512, what Nimbus records), else the md5 checksum.
func newContentDigest(img compute.Image) (*contentDigest, error) {
	switch {
	case img.HashAlgo == "sha512" && img.HashValue != "":
		return &contentDigest{Hash: sha512.New(), algo: "sha512", want: strings.ToLower(img.HashValue)}, nil
	case img.Checksum != "":
		return &contentDigest{Hash: md5.New(), algo: "md5", want: strings.ToLower(img.Checksum)}, nil
	}
	return nil, fmt.Errorf("image %s has no checksum: it has no data to boot", img.ID)
}

// name is the digest as a cache file name part: the recorded hash, which is
// hex (anything else is refused by verify, and never names a file).
func (d *contentDigest) name() string {
	if strings.Trim(d.want, "0123456789abcdef") != "" {
		return "invalid"
	}
	return d.algo + "-" + d.want
}

func (d *contentDigest) verify(imageID string) error {
	if got := hex.EncodeToString(d.Sum(nil)); got != d.want {
		return fmt.Errorf("image %s: the data's %s is %s, the image's is %s", imageID, d.algo, got, d.want)
	}
	return nil
}

// unacceptableError is an image the host refuses to use (upstream Nova's
// ImageUnacceptable): the instance fails with its message.
type unacceptableError struct {
	imageID, reason string
}

func (e *unacceptableError) Error() string {
	return fmt.Sprintf("Image %s is unacceptable: %s", e.imageID, e.reason)
}

func unacceptable(imageID, format string, args ...any) error {
	return &unacceptableError{imageID: imageID, reason: fmt.Sprintf(format, args...)}
}

// vmdkAllowedTypes are the create types a vmdk may have (upstream Nova's
// [compute] vmdk_allowed_types default): single files with the data inside.
var vmdkAllowedTypes = []string{"streamOptimized", "monolithicSparse"}

// toRaw converts the downloaded disk image part to the raw file raw, after
// deciding it is safe to open: the inspection of its bytes (detector, fed as
// it downloaded) by upstream Nova's rules, then qemu-img's own opinion of the
// file, which must agree (as upstream's fetch_to_raw asks it): same format, no
// backing file, no data file, an allowed vmdk type. qemu-img then opens it with
// an explicit format, through the file protocol only, and a qcow2 without its
// backing file, whatever its header says.
func toRaw(ctx context.Context, img compute.Image, detector *imageformat.Detector, part, raw string) error {
	format, err := imageformat.Boot(nonEmpty(img.DiskFormat, "raw"), detector)
	if err != nil {
		var safety *imageformat.SafetyError
		if errors.As(err, &safety) {
			return unacceptable(img.ID, "Image does not pass safety check (%v)", err)
		}
		return unacceptable(img.ID, "%v", err)
	}
	info, err := qemuImgInfo(ctx, part)
	if err != nil {
		return unacceptable(img.ID, "qemu-img info failed: %v", err)
	}
	switch {
	case info.Format != format:
		return unacceptable(img.ID, "Image content does not match disk_format: qemu-img finds %s, %s expected", info.Format, format)
	case info.BackingFilename != "":
		return unacceptable(img.ID, "fmt=%s backed by: %s", info.Format, info.BackingFilename)
	case info.FormatSpecific.Data.DataFile != "":
		return unacceptable(img.ID, "fmt=%s has data-file: %s", info.Format, info.FormatSpecific.Data.DataFile)
	case info.Format == "vmdk" && !slices.Contains(vmdkAllowedTypes, info.FormatSpecific.Data.CreateType):
		return unacceptable(img.ID, "Invalid VMDK create-type specified (%q)", info.FormatSpecific.Data.CreateType)
	}
	out, err := exec.CommandContext(ctx, "qemu-img", "convert", "-O", "raw", openSpec(format, part), raw).CombinedOutput()
	if err != nil {
		return unacceptable(img.ID, "Unable to convert image to raw: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// qemuInfo is what toRaw reads of qemu-img info.
type qemuInfo struct {
	Format          string `json:"format"`
	BackingFilename string `json:"backing-filename"`
	FormatSpecific  struct {
		Data struct {
			DataFile   string `json:"data-file"`
			CreateType string `json:"create-type"`
		} `json:"data"`
	} `json:"format-specific"`
}

// qemuImgInfo asks qemu-img what the file is, letting it probe the format (its
// opinion is what is wanted; nothing is opened with it). qemu-img info opens
// no backing file and reads no data.
func qemuImgInfo(ctx context.Context, path string) (qemuInfo, error) {
	var info qemuInfo
	out, err := exec.CommandContext(ctx, "qemu-img", "info", "--output=json", path).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return info, fmt.Errorf("%v: %s", err, strings.TrimSpace(string(ee.Stderr)))
		}
		return info, err
	}
	if err := json.Unmarshal(out, &info); err != nil {
		return info, fmt.Errorf("qemu-img info output: %w", err)
	}
	return info, nil
}

// openSpec is how qemu-img opens path as format: a json: description naming
// the driver and the file protocol (no protocol guessed from the name), and
// for qcow2 no backing file, even one its header would name.
func openSpec(format, path string) string {
	spec := map[string]any{"driver": format, "file": map[string]any{"driver": "file", "filename": path}}
	if format == "qcow2" {
		spec["backing"] = nil
	}
	data, _ := json.Marshal(spec)
	return "json:" + string(data)
}
