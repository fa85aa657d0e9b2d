package imageformat

import (
	"fmt"
	"slices"
	"strings"
)

// Detector runs every format's inspector over a stream (upstream's
// InspectWrapper). Write it every byte of the image in order, then Finish.
type Detector struct {
	inspectors []inspector
	failed     map[string]error // inspectors whose format the content cannot be
	total      int64
	finished   bool
}

// NewDetector returns a Detector with an inspector for each known format.
func NewDetector() *Detector {
	return &Detector{
		inspectors: []inspector{newQCOW2(), newVHD(), newVHDX(), newVMDK(), newVDI(), newQED(), newISO(), newGPT(), newLUKS()},
		failed:     map[string]error{},
	}
}

// Write inspects p, the next bytes of the stream. It never fails: content that
// is no format in particular is raw.
func (d *Detector) Write(p []byte) (int, error) {
	if d.finished {
		return 0, fmt.Errorf("imageformat: write after Finish")
	}
	for _, in := range d.inspectors {
		if d.failed[in.name()] != nil || in.regions().idle() {
			continue
		}
		if err := feed(in, p, d.total); err != nil {
			d.failed[in.name()] = err
		}
	}
	d.total += int64(len(p))
	return len(p), nil
}

// Finish says the stream has ended; the verdicts need it.
func (d *Detector) Finish() {
	if d.finished {
		return
	}
	d.finished = true
	for _, in := range d.inspectors {
		if d.failed[in.name()] != nil {
			continue
		}
		if err := finish(in); err != nil {
			d.failed[in.name()] = err
		}
	}
}

// Size is how many bytes the stream had so far.
func (d *Detector) Size() int64 { return d.total }

// Decided reports whether the content's format is known: every inspector has
// what it needs to tell (or the stream has ended). Only the checks of an end
// of the stream (a footer) may then still be to run.
func (d *Detector) Decided() bool {
	if d.finished {
		return true
	}
	for _, in := range d.inspectors {
		if d.failed[in.name()] == nil && !in.regions().headComplete() {
			return false
		}
	}
	return true
}

// matches are the inspectors whose format the content has, raw when none; nil
// while undecided.
func (d *Detector) matches() []inspector {
	if !d.Decided() {
		return nil
	}
	var out []inspector
	for _, in := range d.inspectors {
		if d.failed[in.name()] == nil && in.match() {
			out = append(out, in)
		}
	}
	if len(out) == 0 {
		return []inspector{&raw{d: d}}
	}
	return out
}

// Formats are the names of the formats the content matches ("raw" when it
// matches none); nil while undecided. More than one is suspicious (a header
// hidden in another), except an ISO with a partition table in front, which
// bootable ISOs have.
func (d *Detector) Formats() []string {
	var out []string
	for _, in := range d.matches() {
		out = append(out, in.name())
	}
	return out
}

// format is the one inspector the content matches, as upstream's callers pick
// it (an ISO with a GPT/MBR in front is an ISO); an error when several match.
func (d *Detector) format() (inspector, error) {
	ms := d.matches()
	if ms == nil {
		return nil, &FormatError{"Image format is not known yet: the stream is too short or was not finished"}
	}
	if len(ms) == 2 && slices.ContainsFunc(ms, named(ISO)) && slices.ContainsFunc(ms, named(GPT)) {
		return ms[slices.IndexFunc(ms, named(ISO))], nil
	}
	if len(ms) > 1 {
		names := make([]string, len(ms))
		for i, in := range ms {
			names[i] = in.name()
		}
		return nil, &FormatError{"Multiple formats detected: " + strings.Join(names, ",")}
	}
	return ms[0], nil
}

func named(name string) func(inspector) bool {
	return func(in inspector) bool { return in.name() == name }
}

// Format is the content's format ("raw" when no other matches), or an error when
// several formats match (other than ISO with a partition table, which is ISO).
func (d *Detector) Format() (string, error) {
	in, err := d.format()
	if err != nil {
		return "", err
	}
	return in.name(), nil
}

// raw is the format of content no inspector recognises; it is always safe.
type raw struct {
	d  *Detector
	rs regions
}

func (r *raw) name() string       { return Raw }
func (r *raw) regions() *regions  { return &r.rs }
func (r *raw) post() error        { return nil }
func (r *raw) match() bool        { return true }
func (r *raw) virtualSize() int64 { return r.d.total }
func (r *raw) checks() []check    { return nil }
