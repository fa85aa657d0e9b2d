package metadata

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// nameKey is upstream's marker of an EC2 directory listed by another name than
// its key: meta-data/public-keys/ lists "0=<key name>", not "0/".
const nameKey = "_name"

// ec2Metadata is the EC2 tree of a version, {meta-data: {...}, user-data}, with
// upstream's entries (nova/api/metadata/base.py get_ec2_metadata). ok is false for
// an unknown version. The config drive leaves the _name markers out.
func (d *document) ec2Metadata(version string) (tree object, ok bool) {
	version, ok = resolve(ec2Versions, version)
	if !ok {
		return nil, false
	}
	inst := d.inst
	since := func(v string) bool { return atLeast(ec2Versions, version, v) }
	hostname := d.hostname()
	fixed, floating := d.ec2Addresses()
	var localIPv4 any = fixed
	if fixed == "" {
		localIPv4 = nil
		if d.address != "" {
			localIPv4 = d.address
		}
	}
	groups := inst.SecurityGroups
	if groups == nil {
		groups = []string{}
	}
	md := object{
		{"ami-id", imageID("ami", inst.ImageID)},
		{"ami-launch-index", inst.LaunchIndex},
		{"ami-manifest-path", "FIXME"}, // as upstream
		{"instance-id", d.instanceID()},
		{"hostname", hostname},
		{"local-ipv4", localIPv4},
		{"reservation-id", inst.ReservationID},
		{"security-groups", groups},
	}
	if len(inst.Keys) > 0 {
		k := object{}
		if !d.drive {
			k.add(nameKey, "0="+inst.Keys[0].Name)
		}
		k.add("openssh-key", inst.Keys[0].PublicKey)
		md.add("public-keys", object{{"0", k}})
	}
	if since("2007-01-19") {
		md.add("local-hostname", hostname)
		md.add("public-hostname", hostname)
		md.add("public-ipv4", floating)
	}
	if since("2007-08-29") {
		md.add("instance-type", inst.InstanceType)
	}
	if since("2007-12-15") {
		md.add("block-device-mapping", blockDeviceMapping(inst.RootDeviceName, inst.Volumes, inst.Ephemerals, inst.Swap))
		if inst.KernelID != "" {
			md.add("kernel-id", imageID("aki", inst.KernelID))
		}
		if inst.RamdiskID != "" {
			md.add("ramdisk-id", imageID("ari", inst.RamdiskID))
		}
	}
	if since("2008-02-01") {
		md.add("placement", object{{"availability-zone", inst.AvailabilityZone}})
	}
	if since("2008-09-01") {
		md.add("instance-action", "none")
	}
	tree = object{{"meta-data", md}}
	if inst.UserData != nil {
		tree.add("user-data", inst.UserData)
	}
	return tree, true
}

// ec2Addresses are the first fixed IPv4 and the first floating IP of the
// instance ("" when none), as upstream's get_ec2_ip_info.
func (d *document) ec2Addresses() (fixed, floating string) {
	for _, p := range d.inst.Ports {
		for _, ip := range p.FixedIPs {
			if fixed == "" && ip.IP.Is4() {
				fixed = ip.IP.String()
			}
		}
		for _, f := range p.FloatingIPs {
			if floating == "" {
				floating = f.String()
			}
		}
	}
	return fixed, floating
}

// blockDeviceMapping is upstream's instance_block_mapping for an instance of a
// root disk, its volumes (ebs<n>, by device name) and its local disks (swap,
// ephemeral<n>), in upstream's order, which meta-data.json keeps (the EC2
// listing sorts), or upstream's defaults when the root device is not known.
func blockDeviceMapping(root string, volumes, ephemerals []string, swap string) object {
	if root == "" {
		return object{{"ami", "sda1"}, {"ephemeral0", "sda2"}, {"root", "/dev/sda1"}, {"swap", "sda3"}}
	}
	o := object{{"ami", strings.TrimPrefix(root, "/dev/")}, {"root", root}}
	for i, dev := range slices.Sorted(slices.Values(volumes)) {
		o = append(o, member{fmt.Sprintf("ebs%d", i), dev})
	}
	if swap != "" {
		o = append(o, member{"swap", swap})
	}
	for i, dev := range ephemerals {
		o = append(o, member{fmt.Sprintf("ephemeral%d", i), dev})
	}
	return o
}

// ec2Item resolves /<version>[/meta-data/...|/user-data] (upstream's
// get_ec2_item and find_path_in_tree).
func (d *document) ec2Item(tokens []string) (result, bool) {
	tree, ok := d.ec2Metadata(tokens[0])
	if !ok {
		return result{}, false
	}
	var v any = tree
	for _, t := range tokens[1:] {
		o, isDir := v.(object)
		if !isDir {
			return result{}, false
		}
		if v, ok = o.get(t); !ok {
			return result{}, false
		}
	}
	return text(ec2Print(v)), true
}

// ec2Print renders an EC2 value as upstream's ec2_md_print: a directory lists its
// entries sorted, subdirectories with a trailing slash (or their _name); a list
// is one item a line; a leaf is itself.
func ec2Print(v any) []byte {
	switch v := v.(type) {
	case object:
		keys := make([]string, 0, len(v))
		for _, m := range v {
			if m.key != nameKey {
				keys = append(keys, m.key)
			}
		}
		slices.Sort(keys)
		lines := make([]string, len(keys))
		for i, k := range keys {
			lines[i] = k
			if sub, ok := v.get(k); ok {
				if dir, ok := sub.(object); ok {
					if name, ok := dir.get(nameKey); ok {
						lines[i] = name.(string)
					} else {
						lines[i] = k + "/"
					}
				}
			}
		}
		return []byte(strings.Join(lines, "\n"))
	case []string:
		return []byte(strings.Join(v, "\n"))
	case []byte:
		return v
	case string:
		return []byte(v)
	case int:
		return []byte(strconv.Itoa(v))
	case nil:
		return []byte("None") // Python's str(None), as upstream
	}
	return nil
}
