package imageformat

// region is a part of the stream an inspector keeps: length bytes from offset
// off, or, for an end region, the last length bytes of the stream. Its memory
// is at most length bytes, whatever the stream's size.
type region struct {
	off    int64
	length int
	// min, when set, makes the region complete with at least min bytes once
	// the stream has ended (a header shorter than its nominal size, a text
	// descriptor shorter than its maximum).
	min  int
	end  bool
	data []byte
	done bool // the stream has ended
}

func newRegion(off int64, length int) *region { return &region{off: off, length: length} }

func endRegion(length int) *region { return &region{length: length, end: true} }

// capture takes what the region wants of chunk, which starts at stream offset pos.
func (r *region) capture(chunk []byte, pos int64) {
	if r.end {
		if len(chunk) >= r.length {
			r.data = append(r.data[:0], chunk[len(chunk)-r.length:]...)
			return
		}
		if keep := r.length - len(chunk); len(r.data) > keep {
			r.data = append(r.data[:0], r.data[len(r.data)-keep:]...)
		}
		r.data = append(r.data, chunk...)
		return
	}
	if len(r.data) >= r.length || r.off < 0 {
		return
	}
	// the next byte wanted, and where the wanted part ends; the stream is read
	// in order, so a region whose start has gone by without it never completes
	next := r.off + int64(len(r.data))
	stop := r.off + int64(r.length)
	if stop < r.off { // offset and length overflow: never reached
		return
	}
	chunkEnd := pos + int64(len(chunk))
	if next < pos || next >= chunkEnd {
		return
	}
	r.data = append(r.data, chunk[next-pos:min(stop, chunkEnd)-pos]...)
}

// complete says whether the region holds all it wants: for an end region, the
// last length bytes of a stream that has ended.
func (r *region) complete() bool {
	if r.end {
		return r.done && len(r.data) == r.length
	}
	return len(r.data) == r.length || r.done && r.min > 0 && len(r.data) >= r.min
}
