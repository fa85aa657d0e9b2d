package metadata

import (
	"crypto/rand"
	"encoding/base64"
)

// randomSeedBytes is the size of meta_data.json's random_seed, as upstream.
const randomSeedBytes = 512

// metaData is meta_data.json of an OpenStack version, with upstream's members in
// upstream's order (nova/api/metadata/base.py _metadata_as_json).
func (d *document) metaData(version string) object {
	inst := d.inst
	md := object{{"uuid", inst.UUID}}
	if len(inst.Metadata) > 0 {
		md.add("meta", inst.Metadata)
	}
	if d.drive && inst.AdminPass != "" {
		md.add("admin_pass", inst.AdminPass)
	}
	if len(inst.Keys) > 0 {
		// Upstream exposes the instance's one key pair (its key_name).
		k := inst.Keys[0]
		md.add("public_keys", object{{k.Name, k.PublicKey}})
		md.add("keys", []any{object{{"name", k.Name}, {"type", keyType(k)}, {"data", k.PublicKey}}})
	}
	md.add("hostname", d.hostname())
	md.add("name", inst.Name)
	md.add("launch_index", inst.LaunchIndex)
	md.add("availability_zone", inst.AvailabilityZone)
	if atLeast(openstackVersions, version, grizzly) {
		md.add("random_seed", randomSeed())
	}
	if atLeast(openstackVersions, version, liberty) {
		md.add("project_id", inst.ProjectID)
	}
	if atLeast(openstackVersions, version, newtonOne) {
		// No tagged devices: Nimbus takes no device tags on create.
		md.add("devices", []any{})
	}
	if atLeast(openstackVersions, version, victoria) {
		// No CPU pinning (hw:cpu_policy=dedicated) in Nimbus.
		md.add("dedicated_cpus", []any{})
	}
	return md
}

func keyType(k KeyPair) string {
	if k.Type == "" {
		return "ssh" // upstream's default key pair type
	}
	return k.Type
}

// randomSeed is fresh entropy for the guest's pool, new on every read as upstream.
func randomSeed() string {
	b := make([]byte, randomSeedBytes)
	rand.Read(b) // never fails (crypto/rand panics rather than return an error)
	return base64.StdEncoding.EncodeToString(b)
}
