package guestimage

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"testing"
)

// fakeRunner answers apt-cache from canned output and fails anything else.
type fakeRunner map[string]string

func (f fakeRunner) Run(_ context.Context, _ string, _ []string, name string, args ...string) ([]byte, error) {
	key := name + " " + strings.Join(args, " ")
	if out, ok := f[key]; ok {
		return []byte(out), nil
	}
	return nil, fmt.Errorf("unexpected command %q", key)
}

func aptShow(pkgs ...string) string {
	var b strings.Builder
	for _, p := range pkgs {
		name, version, _ := strings.Cut(p, "=")
		fmt.Fprintf(&b, "Package: %s\nVersion: %s\nDescription: x\n long text: with a colon\n\n", name, version)
	}
	return b.String()
}

func TestResolvePackages(t *testing.T) {
	userspace := "apt-cache show --no-all-versions " + kernelMetaPackage + " " + strings.Join(userspacePackages, " ")
	var versions []string
	for _, p := range userspacePackages {
		versions = append(versions, p+"=1.0-"+p)
	}
	meta := "Package: " + kernelMetaPackage + "\nVersion: 6.1.99-1\nDepends: linux-image-6.1.0-99-cloud-amd64 (= 6.1.99-1), other\n\n" + aptShow(versions...)
	run := fakeRunner{
		userspace: meta,
		"apt-cache show --no-all-versions linux-image-6.1.0-99-cloud-amd64": aptShow("linux-image-6.1.0-99-cloud-amd64=6.1.99-1"),
	}
	set, err := resolvePackages(context.Background(), run)
	if err != nil {
		t.Fatal(err)
	}
	if set.kernel != "linux-image-6.1.0-99-cloud-amd64" || set.kernelRelease != "6.1.0-99-cloud-amd64" {
		t.Fatalf("kernel = %q (%q)", set.kernel, set.kernelRelease)
	}
	if got := set.versions["dropbear-bin"]; got != "1.0-dropbear-bin" {
		t.Fatalf("dropbear-bin version = %q", got)
	}
	if len(set.sorted()) != len(userspacePackages)+1 {
		t.Fatalf("packages = %v", set.sorted())
	}

	// A package apt does not know fails with its name, not with an empty version.
	delete(run, "apt-cache show --no-all-versions linux-image-6.1.0-99-cloud-amd64")
	run["apt-cache show --no-all-versions linux-image-6.1.0-99-cloud-amd64"] = ""
	if _, err := resolvePackages(context.Background(), run); err == nil || !strings.Contains(err.Error(), "linux-image-6.1.0-99-cloud-amd64") {
		t.Fatalf("err = %v", err)
	}
}

func TestBuildKeyFollowsInputs(t *testing.T) {
	a := packageSet{versions: map[string]string{"libc6": "2.36-9", "busybox-static": "1:1.35.0-4"}}
	b := packageSet{versions: map[string]string{"libc6": "2.36-10", "busybox-static": "1:1.35.0-4"}}
	ka, err := buildKey(a)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := buildKey(a)
	kb, _ := buildKey(b)
	if ka != again {
		t.Fatal("the same inputs gave two keys")
	}
	if ka == kb {
		t.Fatal("a new package version kept the old key")
	}
}

func TestModuleName(t *testing.T) {
	for in, want := range map[string]string{
		"virtio-rng.ko": "virtio_rng", "virtio_net.ko": "virtio_net", "nls_cp437": "nls_cp437", "ata_piix": "ata_piix",
	} {
		if got := moduleName(in); got != want {
			t.Errorf("moduleName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCommandLine(t *testing.T) {
	if got := commandLine(); !strings.Contains(got, "console=ttyS0") {
		t.Fatalf("the bootloader's command line %q does not put the console on the serial port", got)
	}
}

func TestCHS(t *testing.T) {
	for _, tc := range []struct {
		lba  int64
		want []byte
	}{
		{0, []byte{0, 1, 0}},
		{62, []byte{0, 63, 0}},
		{63, []byte{1, 1, 0}},
		{2048, []byte{32, 33, 0}},             // the usual first partition: C0 H32 S33
		{255 * 63 * 300, []byte{0, 0x41, 44}}, // cylinder 300: high bits in the sector byte
		{255 * 63 * 1024, []byte{0xfe, 0xff, 0xff}},
	} {
		if got := chs(tc.lba); !bytes.Equal(got, tc.want) {
			t.Errorf("chs(%d) = %x, want %x", tc.lba, got, tc.want)
		}
	}
}

func TestMasterBootRecord(t *testing.T) {
	code := bytes.Repeat([]byte{0x90}, 500) // longer than the code area: cut at 440
	mbr, err := masterBootRecord(code, 2048, 65536)
	if err != nil {
		t.Fatal(err)
	}
	if len(mbr) != 512 || mbr[510] != 0x55 || mbr[511] != 0xaa {
		t.Fatal("no boot signature")
	}
	if mbr[439] != 0x90 || mbr[440] == 0x90 {
		t.Fatal("boot code not cut at 440 bytes")
	}
	entry := mbr[446:462]
	if entry[0] != 0x80 || entry[4] != fat16LBA {
		t.Fatalf("partition entry status/type = %#x/%#x", entry[0], entry[4])
	}
	if start, n := binary.LittleEndian.Uint32(entry[8:]), binary.LittleEndian.Uint32(entry[12:]); start != 2048 || n != 65536 {
		t.Fatalf("partition = start %d, %d sectors", start, n)
	}
	if !bytes.Equal(mbr[462:510], make([]byte, 48)) {
		t.Fatal("other partition entries are not empty")
	}
	if _, err := masterBootRecord(nil, 2048, 1<<32); err == nil {
		t.Fatal("a partition past 2 TiB was accepted")
	}
}

// TestCPIORoundTrip writes a tree and reads the archive back as the kernel would.
func TestCPIORoundTrip(t *testing.T) {
	tr := tree{}
	tr.file("etc/rc.boot", []byte("#!/bin/sh\necho hi\n"), 0o755)
	tr.file("etc/odd", []byte("12345"), 0o600) // a size that needs padding
	tr.symlink("sbin/init", "/bin/busybox")
	tr.charDevice("dev/console", 5, 1, 0o600)
	tr.dir("tmp")
	tr["tmp"].mode = fs.ModeDir | fs.ModeSticky | 0o777

	var buf bytes.Buffer
	if err := writeCPIO(&buf, tr); err != nil {
		t.Fatal(err)
	}
	got := readCPIO(t, &buf)
	want := []string{
		"dev 040755", "dev/console 020600 5:1", "etc 040755", "etc/odd 100600 12345", "etc/rc.boot 100755 #!/bin/sh\necho hi\n",
		"sbin 040755", "sbin/init 120777 /bin/busybox", "tmp 041777", "TRAILER!!! 000000",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("archive =\n%q\nwant\n%q", got, want)
	}
}

// readCPIO parses a newc archive into "name mode [body|major:minor]" lines.
func readCPIO(t *testing.T, r io.Reader) []string {
	t.Helper()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for off := 0; off < len(data); {
		h := data[off : off+110]
		if string(h[:6]) != "070701" {
			t.Fatalf("bad magic at %d: %q", off, h[:6])
		}
		field := func(i int) int {
			v, err := strconv.ParseUint(string(h[6+8*i:14+8*i]), 16, 32)
			if err != nil {
				t.Fatal(err)
			}
			return int(v)
		}
		mode, size, major, minor, namesize := field(1), field(6), field(9), field(10), field(11)
		name := string(data[off+110 : off+110+namesize-1])
		off += (110 + namesize + 3) / 4 * 4
		body := string(data[off : off+size])
		off += (size + 3) / 4 * 4
		line := fmt.Sprintf("%s %06o", name, mode)
		switch {
		case mode&0o170000 == cpioChar:
			line += fmt.Sprintf(" %d:%d", major, minor)
		case size > 0:
			line += " " + body
		}
		out = append(out, line)
		if name == "TRAILER!!!" {
			break
		}
	}
	return out
}
