package metadata

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// configDriveLabel is the volume id cloud-init and cloudbase-init look for.
const configDriveLabel = "config-2"

// driveFile is one file of the config drive.
type driveFile struct {
	path string // relative, with slashes
	data []byte
}

// configDriveFiles are the files of the config drive, as upstream's
// metadata_for_config_drive: ec2/<version>/meta-data.json and user-data for the
// EC2 versions not skipped, then for every OpenStack version (future ones too)
// and latest the files of that version, read through the same lookup the API
// answers with.
func (d *document) configDriveFiles() ([]driveFile, error) {
	var files []driveFile
	for _, v := range listedEC2Versions() {
		if slices.Contains(configDriveSkipVersions, v) {
			continue
		}
		tree, _ := d.ec2Metadata(v)
		if ud, ok := tree.get("user-data"); ok {
			files = append(files, driveFile{"ec2/" + v + "/user-data", ud.([]byte)})
		}
		md, _ := tree.get("meta-data")
		files = append(files, driveFile{"ec2/" + v + "/meta-data.json", pyJSON(md)})
	}
	all := append(slices.Clone(openstackVersions), latest)
	for _, v := range all {
		names := []string{metaDataJSON}
		if d.inst.UserData != nil {
			names = append(names, userData)
		}
		if atLeast(all, v, havana) {
			names = append(names, vendorDataJSON)
		}
		if atLeast(all, v, liberty) {
			names = append(names, networkDataJSON)
		}
		if atLeast(all, v, newtonTwo) {
			names = append(names, vendorData2JSON)
		}
		for _, name := range names {
			p := "openstack/" + v + "/" + name
			res, ok := d.lookup(p)
			if !ok {
				return nil, fmt.Errorf("config drive file %s has no content", p)
			}
			files = append(files, driveFile{p, res.body})
		}
	}
	return files, nil
}

// BuildConfigDrive writes the config drive of inst to path: an ISO 9660 image
// (Joliet and Rock Ridge) labelled config-2 with the files the metadata API
// serves, made with genisoimage and upstream's options. Unlike the API it
// carries AdminPass, and no guest address.
func BuildConfigDrive(ctx context.Context, inst *Instance, opts Options, path string) error {
	log := opts.logger()
	d := &document{inst: inst, domain: opts.DHCPDomain, vendor: parseVendorData(opts.VendorData, log), drive: true, now: opts.now()}
	files, err := d.configDriveFiles()
	if err != nil {
		return fmt.Errorf("config drive of instance %s: %w", inst.UUID, err)
	}
	dir, err := os.MkdirTemp("", "configdrive-")
	if err != nil {
		return fmt.Errorf("config drive of instance %s: %w", inst.UUID, err)
	}
	defer os.RemoveAll(dir)
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("config drive of instance %s: %w", inst.UUID, err)
		}
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			return fmt.Errorf("config drive of instance %s: %w", inst.UUID, err)
		}
	}
	cmd, publisher := opts.MkisofsCmd, opts.Publisher
	if cmd == "" {
		cmd = "genisoimage"
	}
	if publisher == "" {
		publisher = "Nimbus"
	}
	args := []string{"-o", path, "-ldots", "-allow-lowercase", "-allow-multidot", "-l",
		"-publisher", publisher, "-quiet", "-J", "-r", "-V", configDriveLabel, dir}
	c := exec.CommandContext(ctx, cmd, args...)
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Run(); err != nil {
		log.Warn("config drive build failed", "instance", inst.UUID, "cmd", cmd+" "+strings.Join(args, " "), "output", strings.TrimSpace(out.String()))
		return fmt.Errorf("config drive of instance %s: %s: %w: %s", inst.UUID, cmd, err, strings.TrimSpace(out.String()))
	}
	log.Debug("config drive built", "instance", inst.UUID, "path", path, "files", len(files))
	return nil
}
