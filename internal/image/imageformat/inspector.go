// Package imageformat recognises disk image formats as the data streams past and
// tells whether an image is safe to open, as upstream's
// oslo_utils.imageutils.format_inspector does for Glance and Nova (after
// OSSA-2023-002 / CVE-2022-47951 and CVE-2024-32498): a format's header can
// make whoever opens the image (qemu-img, a hypervisor) read other files of
// the host: a qcow2 backing or data file, a vmdk extent, a differencing
// vhd/vhdx parent.
//
// A Detector is an io.Writer: it is given every byte of an image once, in
// order, and keeps only the regions its inspectors need (a few headers, a
// vmdk descriptor of at most 1 MiB, a vhd or vmdk footer at the end), so
// memory stays bounded whatever the image's size, and nothing is read twice.
// Every format's inspector sees the stream; the formats whose signature
// matches are the content's. Upload and Boot then apply upstream Glance's and
// Nova's rules: the content must be what its disk_format says, and pass its
// format's safety checks.
//
// The package is pure: no I/O of its own, no service state. The image service
// and the compute agent share it.
package imageformat

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Format names, as upstream's inspectors name them (vhd is qemu's vpc).
const (
	Raw   = "raw"
	QCOW2 = "qcow2"
	VMDK  = "vmdk"
	VDI   = "vdi"
	VHD   = "vhd"
	VHDX  = "vhdx"
	ISO   = "iso"
	GPT   = "gpt"
	QED   = "qed"
	LUKS  = "luks"
)

// inspectable are the formats an inspector knows (upstream's ALL_FORMATS).
var inspectable = []string{Raw, QCOW2, VHD, VHDX, VMDK, VDI, QED, ISO, GPT, LUKS}

// Inspectable reports whether a disk_format has an inspector of its own.
func Inspectable(format string) bool {
	for _, f := range inspectable {
		if f == format {
			return true
		}
	}
	return false
}

// inspector is one format's view of the stream.
type inspector interface {
	name() string
	// regions is where the base keeps its regions.
	regions() *regions
	// post runs after every chunk and at the end: it parses the regions that
	// have completed and may add new ones. An error means the content cannot be
	// this format.
	post() error
	// match says whether the content is this format, once the head regions
	// are complete (or the stream has ended).
	match() bool
	// virtualSize is the size of the disk the image holds, 0 when unknown.
	virtualSize() int64
	// checks are the format's safety checks; each returns nil when the image
	// passes, and may use only complete regions.
	checks() []check
}

// check is a named safety check. tail checks need the end of the stream and
// are skipped when an early verdict is asked for.
type check struct {
	name string
	tail bool
	run  func() error
}

// regions holds an inspector's captured regions, by name.
type regions struct {
	byName map[string]*region
	done   bool
}

func (rs *regions) add(name string, r *region) {
	if rs.byName == nil {
		rs.byName = map[string]*region{}
	}
	r.done = rs.done
	rs.byName[name] = r
}

func (rs *regions) get(name string) *region { return rs.byName[name] }

func (rs *regions) has(name string) bool { return rs.byName[name] != nil }

func (rs *regions) drop(name string) { delete(rs.byName, name) }

// complete reports whether a region exists and holds all it wants.
func (rs *regions) complete(name string) bool {
	r := rs.byName[name]
	return r != nil && r.complete()
}

// headComplete reports whether every region but the end regions is complete:
// the format can then be told, and every check but the tail ones run.
func (rs *regions) headComplete() bool {
	for _, r := range rs.byName {
		if !r.end && !r.complete() {
			return false
		}
	}
	return true
}

// allComplete reports whether every region, the end ones included, is complete.
func (rs *regions) allComplete() bool {
	for _, r := range rs.byName {
		if !r.complete() {
			return false
		}
	}
	return true
}

// idle reports whether no region wants more of the stream.
func (rs *regions) idle() bool {
	for _, r := range rs.byName {
		if r.end || !r.complete() {
			return false
		}
	}
	return true
}

// maxRounds bounds how many times post may add regions for one chunk (a region
// that completes may make the next one known: vhdx header, metadata table,
// virtual disk size).
const maxRounds = 8

// feed gives an inspector one chunk starting at stream offset pos.
func feed(in inspector, chunk []byte, pos int64) error {
	rs := in.regions()
	var seen [8]*region // an inspector has a handful of regions
	fed := seen[:0]
	for _, r := range rs.byName {
		r.capture(chunk, pos)
		fed = append(fed, r)
	}
	for range maxRounds {
		if err := in.post(); err != nil {
			return err
		}
		added := false
		for _, r := range rs.byName {
			if !slices.Contains(fed, r) {
				r.capture(chunk, pos)
				fed = append(fed, r)
				added = true
			}
		}
		if !added {
			return nil
		}
	}
	return nil
}

// finish tells an inspector the stream has ended.
func finish(in inspector) error {
	rs := in.regions()
	rs.done = true
	for range maxRounds {
		for _, r := range rs.byName {
			r.done = true
		}
		n := len(rs.byName)
		if err := in.post(); err != nil {
			return err
		}
		if len(rs.byName) == n {
			return nil
		}
	}
	return nil
}

// FormatError says the content is not what it was expected to be, or cannot
// be inspected (upstream's ImageFormatError).
type FormatError struct{ Reason string }

func (e *FormatError) Error() string { return e.Reason }

// SafetyError lists the safety checks an image failed (upstream's
// SafetyCheckFailed): opening it could make qemu read files of the host, or
// its headers are not well formed.
type SafetyError struct {
	Format   string
	Failures map[string]string // check name → why
}

func (e *SafetyError) Error() string {
	names := make([]string, 0, len(e.Failures))
	for n := range e.Failures {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + ": " + e.Failures[n]
	}
	return fmt.Sprintf("%s safety checks failed: %s", e.Format, strings.Join(parts, "; "))
}

// safety runs an inspector's checks; final runs the tail checks too, and asks
// for every region to be complete, as upstream's safety_check.
func safety(in inspector, final bool) error {
	rs := in.regions()
	if final && !rs.allComplete() || !final && !rs.headComplete() {
		return &FormatError{fmt.Sprintf("Incomplete %s file cannot be safety checked", in.name())}
	}
	if !in.match() {
		return &FormatError{fmt.Sprintf("Unable to safety check format %s because content does not match", in.name())}
	}
	failures := map[string]string{}
	for _, c := range in.checks() {
		if c.tail && !final {
			continue
		}
		if err := c.run(); err != nil {
			failures[c.name] = err.Error()
		}
	}
	if len(failures) > 0 {
		return &SafetyError{Format: in.name(), Failures: failures}
	}
	return nil
}

// violation is a failed check's reason.
type violation string

func (v violation) Error() string { return string(v) }
