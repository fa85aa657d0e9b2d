package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/dataplanetest"
)

// TestVolumeHostRole: a storage host apart from the API. `nimbus serve --role
// volume` runs on its own host (a namespace, 192.0.2.2) with a file backend
// and the cloud's PostgreSQL database; `openstack volume service list` shows
// it up; a volume of a type pinned to its backend is created there (its file
// in that host's pool); an attachment made through the API gets that host's
// export, which QEMU's NBD client on the compute host (the cloud's namespace,
// 192.0.2.1) writes and reads with the attachment's TLS-PSK key; a volume
// from an image is made there too (the image read with the API's service
// token, handed over the bus). While the
// volume host is down, an attachment update answers upstream's 500; after a
// kill -9 of the volume process and of its export daemon, the restarted
// process serves the export again with the same connection_info and data.
func TestVolumeHostRole(t *testing.T) {
	dataplanetest.RequireHost(t, "ip", "qemu-storage-daemon", "qemu-io", "qemu-img")
	t.Parallel()
	dbURL := postgresSchemaURL(t)
	c, err := StartCloudEnv(filepath.Join(t.TempDir(), "cloud"), []string{"NIMBUS_IMAGE_GUEST_IMAGE=false", processConnections}, "--db", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stop nimbus up: %v", err)
		}
		if t.Failed() {
			t.Logf("nimbus up log (tail):\n%s", failureLog(c.Log(), 60))
		}
	})
	bed := dataplanetest.NewBed(t, "vh")
	computeNS, storageNS := bed.Host, bed.Netns("st")
	underlay(bed, storageNS)
	storage := bed.Prefix + "-st"

	// the storage host's configuration: the cloud's bus (join.toml), its own
	// name and its backend, exported on its own address and namespace
	dir := t.TempDir()
	join, err := os.ReadFile(filepath.Join(c.Dir, "join.toml"))
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "volume-host.toml")
	if err := os.WriteFile(conf, fmt.Appendf(join, `
[volume]
host = %q
report_interval = "1s"

[[volume.backends]]
name = "remote"
driver = "file"
export_host = "192.0.2.2"
export_namespace = %q
`, storage, storageNS), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	logFile := filepath.Join(dir, "volume-host.log")
	start := func() *process {
		t.Helper()
		p, line, err := startProcess([]string{"serve", "--role", "volume", "--config", conf, "--db", dbURL, "--data-dir", data},
			[]string{processConnections}, logFile, "nimbus volume host ready")
		if err != nil {
			t.Fatalf("%v\n%s", err, tail(readText(logFile), 40))
		}
		if want := "host=" + storage + " backends=remote"; !strings.Contains(line, want) {
			t.Fatalf("ready line %q, want %s", line, want)
		}
		return p
	}
	// the export daemons outlive the volume process by design: they go last
	t.Cleanup(func() { killProcessesUnder(data, "qemu-storage-daemon") })
	p := start()
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("stop the volume host: %v", err)
		}
		if t.Failed() {
			t.Logf("volume host log (tail):\n%s", tail(readText(logFile), 80))
		}
	})

	eventually(t, "the storage host's cinder-volume up", func() bool {
		var services []row
		OSJSON(t, c, adminCloud, &services, "volume", "service", "list", "--service", "cinder-volume")
		r, ok := findRow(services, "Host", storage+"@remote")
		return ok && str(r, "State") == "up" && str(r, "Status") == "enabled"
	})
	OS(t, c, adminCloud, "volume", "type", "create", "--public", "--property", "volume_backend_name=remote", "vh-remote")
	var v row
	OSJSON(t, c, demoCloud, &v, "volume", "create", "--size", "1", "--type", "vh-remote", "vh-vol")
	id := str(v, "id")
	waitVolume(t, c, demoCloud, id, "available")
	OSJSON(t, c, adminCloud, &v, "volume", "show", id)
	wantField(t, "volume host", v, "os-vol-host-attr:host", storage+"@remote#remote")
	file := filepath.Join(data, "volumes", "remote", "volume-"+id)
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("the volume's file on the storage host: %v", err)
	}

	// a volume from an image: the storage host reads it with the API's
	// service token, fetched over the bus
	img := filepath.Join(dir, "image.raw")
	if err := os.WriteFile(img, bytes.Repeat([]byte("nimbus-volume-host"), 1<<16), 0o600); err != nil {
		t.Fatal(err)
	}
	var image row
	OSJSON(t, c, demoCloud, &image, "image", "create", "--disk-format", "raw", "--container-format", "bare", "--file", img, "vh-image")
	var fromImage row
	OSJSON(t, c, demoCloud, &fromImage, "volume", "create", "--size", "1", "--type", "vh-remote", "--image", str(image, "id"), "vh-from-image")
	waitVolume(t, c, demoCloud, str(fromImage, "id"), "available")
	if _, err := os.Stat(filepath.Join(data, "volumes", "remote", "volume-"+str(fromImage, "id"))); err != nil {
		t.Fatalf("the volume from an image on the storage host: %v", err)
	}
	OS(t, c, demoCloud, "volume", "delete", str(fromImage, "id"))

	// attach through the API: the export is the storage host's
	token := strings.TrimSpace(OS(t, c, demoCloud, "token", "issue", "-f", "value", "-c", "id"))
	volumeAPI := c.Endpoints["volume"] + "/v3"
	version := []string{"OpenStack-API-Version", "volume 3.54"}
	connector := map[string]any{"host": bed.Prefix, "ip": "192.0.2.1"}
	var created struct {
		Attachment struct {
			ID             string `json:"id"`
			ConnectionInfo struct {
				DriverVolumeType string         `json:"driver_volume_type"`
				Data             map[string]any `json:"data"`
			} `json:"connection_info"`
		} `json:"attachment"`
	}
	must(t, http.StatusOK, &created, "POST", volumeAPI+"/attachments", token, map[string]any{"attachment": map[string]any{
		"volume_uuid": id, "instance_uuid": uuid.NewString(), "connector": connector}}, version...)
	att, info := created.Attachment.ID, created.Attachment.ConnectionInfo
	if info.DriverVolumeType != "nbd" || info.Data["host"] != "192.0.2.2" {
		t.Fatalf("connection_info %+v: want nbd on the storage host's 192.0.2.2", info)
	}
	nbd := nbdClient(t, info.Data)
	if out, err := nbd.io(computeNS, "write -P 0x5a 0 64k"); err != nil {
		t.Fatalf("write from the compute host: %v\n%s", err, out)
	}
	if out, err := nbd.io(computeNS, "read -P 0x5a 0 64k"); err != nil {
		t.Fatalf("read from the compute host: %v\n%s", err, out)
	}

	// the volume host down: the API's call finds no manager
	p.Kill()
	killProcessesUnder(data, "qemu-storage-daemon")
	if _, err := nbd.io(computeNS, "read -P 0x5a 0 64k"); err == nil {
		t.Fatal("the export still answers with its daemon killed")
	}
	o := send("PUT", volumeAPI+"/attachments/"+att, token, map[string]any{"attachment": map[string]any{"connector": connector}}, version...)
	if o.err != nil || o.Status != http.StatusInternalServerError || !strings.Contains(string(o.Body), "Unable to update the attachment.") {
		t.Fatalf("attachment update with the volume host down: %v", o)
	}

	// restarted, it converges its exports to the attachments: the same
	// connection_info leads to the same data
	p = start()
	eventually(t, "the export back with the same port and key", func() bool {
		_, err := nbd.io(computeNS, "read -P 0x5a 0 64k")
		return err == nil
	})

	// detach and delete: the export and the file go from the storage host
	must(t, http.StatusOK, nil, "DELETE", volumeAPI+"/attachments/"+att, token, nil, version...)
	if _, err := nbd.io(computeNS, "read -P 0x5a 0 64k"); err == nil {
		t.Fatal("the export still answers after the attachment's delete")
	}
	OS(t, c, demoCloud, "volume", "delete", id)
	eventually(t, "the volume's file gone from the storage host", func() bool {
		_, err := os.Stat(file)
		return os.IsNotExist(err)
	})
}

// nbdTLSClient is QEMU's NBD client (qemu-io) with an attachment's
// connection_info and TLS-PSK key, as a hypervisor attaches the volume.
type nbdTLSClient struct {
	data   map[string]any
	keyDir string
}

func nbdClient(t *testing.T, data map[string]any) nbdTLSClient {
	t.Helper()
	dir := t.TempDir()
	key := fmt.Sprintf("%s:%s\n", data["tls_psk_identity"], data["tls_psk_key"])
	if err := os.WriteFile(filepath.Join(dir, "keys.psk"), []byte(key), 0o600); err != nil {
		t.Fatal(err)
	}
	return nbdTLSClient{data: data, keyDir: dir}
}

// io runs qemu-io commands on the export from namespace ns; a failed
// pattern check is an error.
func (c nbdTLSClient) io(ns string, cmds ...string) (string, error) {
	args := []string{"netns", "exec", ns, "qemu-io",
		"--object", fmt.Sprintf("tls-creds-psk,id=tls0,endpoint=client,dir=%s,username=%s", c.keyDir, c.data["tls_psk_identity"]),
		"--image-opts"}
	for _, cmd := range cmds {
		args = append(args, "-c", cmd)
	}
	args = append(args, fmt.Sprintf("driver=nbd,host=%s,port=%v,export=%s,tls-creds=tls0",
		c.data["host"], c.data["port"], c.data["export_name"]))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	raw, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	out := string(raw)
	if err == nil && (strings.Contains(out, "Pattern verification failed") || strings.Contains(out, "failed:")) {
		err = fmt.Errorf("qemu-io: %s", out)
	}
	return out, err
}
