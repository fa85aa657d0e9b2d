// Package imageformattest makes disk images for tests, real ones with qemu-img
// and hostile ones by hand: a vmdk descriptor whose extent is a host file, a
// qcow2 with a backing file or an external data file.
package imageformattest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// RequireQEMUImg skips the test when qemu-img is missing, or fails it when
// NIMBUS_TEST_REQUIRE_QEMU is set (make test sets it).
func RequireQEMUImg(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("qemu-img"); err != nil {
		if os.Getenv("NIMBUS_TEST_REQUIRE_QEMU") != "" {
			t.Fatalf("no qemu-img, and NIMBUS_TEST_REQUIRE_QEMU is set: %v", err)
		}
		t.Skip("no qemu-img")
	}
}

// QEMUImg runs qemu-img, failing the test when it fails.
func QEMUImg(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command("qemu-img", args...).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img %v: %v: %s", args, err, out)
	}
}

// Read returns a file's bytes, failing the test when it cannot.
func Read(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Create makes an image of qemu's format fmt and size in dir with
// qemu-img create (opts are -o options) and returns its path.
func Create(t testing.TB, dir, name, format, size string, opts ...string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	args := []string{"create", "-q", "-f", format}
	for _, o := range opts {
		args = append(args, "-o", o)
	}
	QEMUImg(t, append(args, path, size)...)
	return path
}

// Convert makes a copy of a raw image in qemu's format fmt (opts are -o
// options) and returns its path.
func Convert(t testing.TB, src, dir, name, format string, opts ...string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	args := []string{"convert", "-q", "-f", "raw", "-O", format}
	for _, o := range opts {
		args = append(args, "-o", o)
	}
	QEMUImg(t, append(args, src, path)...)
	return path
}

// FlatVMDK is a monolithicFlat descriptor whose extent is hostFile: qemu-img
// convert -f vmdk copies that file into the image it makes (OSSA-2023-002).
func FlatVMDK(hostFile string, sectors int) []byte {
	return []byte(fmt.Sprintf(`# Disk DescriptorFile
version=1
CID=fffffffe
parentCID=ffffffff
createType="monolithicFlat"

# Extent description
RW %d FLAT "%s" 0

# The Disk Data Base
#DDB

ddb.virtualHWVersion = "4"
ddb.geometry.cylinders = "2"
ddb.geometry.heads = "16"
ddb.geometry.sectors = "63"
ddb.adapterType = "ide"
`, sectors, hostFile))
}

// BackedQCOW2 is a qcow2 image whose backing file is the raw file backing
// (made with qemu-img create -b): opening it reads that file.
func BackedQCOW2(t testing.TB, dir, backing string) []byte {
	t.Helper()
	return Read(t, Create(t, dir, "backed.qcow2", "qcow2", "1M", "backing_file="+backing, "backing_fmt=raw"))
}

// DataFileQCOW2 is a qcow2 image whose data is the external raw file dataFile
// (qemu-img create -o data_file,data_file_raw): opening it reads that file.
// qemu-img makes the file, empty: write what it should hold afterwards.
func DataFileQCOW2(t testing.TB, dir, dataFile string) []byte {
	t.Helper()
	return Read(t, Create(t, dir, "datafile.qcow2", "qcow2", "1M", "data_file="+dataFile, "data_file_raw=on"))
}
