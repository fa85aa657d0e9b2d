package storage

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// ListingLimit is upstream's CONTAINER_LISTING_LIMIT and ACCOUNT_LISTING_LIMIT.
const ListingLimit = 10000

// listParams are a listing's query parameters.
type listParams struct {
	prefix, delimiter, marker, endMarker string
	limit                                int
	reverse                              bool
	// allowReserved is X-Backend-Allow-Reserved-Names: names in the
	// reserved namespace (a NUL first) listed and asked for
	allowReserved bool
}

// parseListParams reads them as the container and account servers do: a limit
// over the maximum is 412, a delimiter of more than one character 412, names
// that are not UTF-8 400.
func parseListParams(w http.ResponseWriter, r *http.Request) (listParams, bool) {
	q := r.URL.Query()
	p := listParams{prefix: q.Get("prefix"), delimiter: q.Get("delimiter"), marker: q.Get("marker"),
		endMarker: q.Get("end_marker"), limit: ListingLimit}
	p.allowReserved = strings.EqualFold(r.Header.Get("X-Backend-Allow-Reserved-Names"), "true")
	for _, v := range []string{p.prefix, p.delimiter, p.marker, p.endMarker} {
		if !utf8.ValidString(v) || (strings.ContainsRune(v, 0) && !p.allowReserved) {
			swob.Text(w, http.StatusBadRequest, "Invalid UTF8 or contains NULL")
			return p, false
		}
	}
	if v := q.Get("limit"); v != "" && isDigits(v) {
		n, err := strconv.Atoi(v)
		if err != nil || n > ListingLimit {
			swob.Text(w, http.StatusPreconditionFailed, fmt.Sprintf("Maximum limit is %d", ListingLimit))
			return p, false
		}
		p.limit = n
	}
	if p.delimiter != "" && utf8.RuneCountInString(p.delimiter) > 1 {
		swob.Text(w, http.StatusPreconditionFailed, "Bad delimiter")
		return p, false
	}
	switch strings.ToLower(q.Get("reverse")) {
	case "true", "1", "yes", "on", "t", "y":
		p.reverse = true
	}
	return p, true
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// ListingFormat is listingFormat for the proxy's answers of its own.
func ListingFormat(r *http.Request) string { return listingFormat(r) }

// EmptyListing answers an empty listing of kind ("account" or "container")
// in format, as a server with no rows would.
func EmptyListing(w http.ResponseWriter, r *http.Request, format, kind, name string) {
	writeListing(w, r, format, kind, name, nil)
}

// listingFormat picks the listing's content type from ?format= or Accept, as
// upstream's get_listing_content_type; "" means 406.
func listingFormat(r *http.Request) string {
	accept := r.Header.Get("Accept")
	switch strings.ToLower(r.URL.Query().Get("format")) {
	case "json":
		accept = "application/json"
	case "xml":
		accept = "application/xml"
	case "":
	default:
		accept = "text/plain"
	}
	if accept == "" {
		return "text/plain"
	}
	return bestMatch(accept, []string{"text/plain", "application/json", "application/xml", "text/xml"})
}

// bestMatch is swob's Accept.best_match: the offer of highest quality, the
// first offer on ties; "" when none is acceptable.
func bestMatch(accept string, offers []string) string {
	type choice struct {
		offer string
		q     float64
		order int
	}
	var best *choice
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		if q <= 0 {
			continue
		}
		for i, o := range offers {
			if mt == "*/*" || mt == o || (strings.HasSuffix(mt, "/*") && strings.HasPrefix(o, strings.TrimSuffix(mt, "*"))) {
				if best == nil || q > best.q || (q == best.q && i < best.order) {
					best = &choice{o, q, i}
				}
			}
		}
	}
	if best == nil {
		return ""
	}
	return best.offer
}

// listEntry is one row of a listing: an object, a container, or a subdir.
type listEntry struct {
	name   string
	subdir bool
	// objects
	hash, contentType string
	bytes             int64
	lastModified      string
	// containers
	count int64
}

// prefixEnd is the first string after every string starting with prefix,
// "" when there is none (a prefix of 0xff bytes).
func prefixEnd(prefix string) string {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return ""
}

// fetchFunc returns up to limit rows after marker (before it, reversed),
// bounded by endMarker and starting at prefix.
type fetchFunc func(marker, endMarker, prefix string, reverse bool, limit int) ([]listEntry, error)

// listWithDelimiter is upstream's list_objects_iter: rows are fetched in
// batches; a name holding the delimiter after the prefix rolls up into a
// subdir, and the scan skips past every name under it.
func listWithDelimiter(p listParams, fetch fetchFunc) ([]listEntry, error) {
	var out []listEntry
	marker := p.marker
	for len(out) < p.limit {
		asked := p.limit - len(out)
		rows, err := fetch(marker, p.endMarker, p.prefix, p.reverse, asked)
		if err != nil {
			return nil, err
		}
		if len(rows) == 0 {
			return out, nil
		}
		restart := false
		for _, row := range rows {
			if p.prefix != "" && !strings.HasPrefix(row.name, p.prefix) {
				if !p.reverse {
					return out, nil
				}
				continue
			}
			marker = row.name
			if !p.allowReserved && strings.HasPrefix(row.name, "\x00") {
				continue
			}
			if p.delimiter != "" {
				if i := strings.Index(row.name[len(p.prefix):], p.delimiter); i >= 0 {
					dir := row.name[:len(p.prefix)+i+len(p.delimiter)]
					if dir != p.marker {
						out = append(out, listEntry{name: dir, subdir: true})
					}
					if p.reverse {
						marker = dir
					} else {
						// past every name under dir: dir with its last byte raised
						marker = dir[:len(dir)-1] + string([]byte{dir[len(dir)-1] + 1})
					}
					restart = true
					break
				}
			}
			out = append(out, row)
			if len(out) >= p.limit {
				return out, nil
			}
		}
		if !restart && len(rows) < asked {
			return out, nil
		}
	}
	return out, nil
}

// writeListing answers a listing in format (text/plain, application/json,
// application/xml or text/xml); an empty plain listing is 204, as upstream.
func writeListing(w http.ResponseWriter, r *http.Request, format, kind, name string, entries []listEntry) {
	switch format {
	case "application/json":
		out := make([]map[string]any, 0, len(entries))
		for _, e := range entries {
			switch {
			case e.subdir:
				out = append(out, map[string]any{"subdir": e.name})
			case kind == "container":
				out = append(out, map[string]any{"hash": e.hash, "last_modified": e.lastModified, "bytes": e.bytes,
					"name": e.name, "content_type": e.contentType})
			default:
				out = append(out, map[string]any{"name": e.name, "count": e.count, "bytes": e.bytes,
					"last_modified": e.lastModified})
			}
		}
		data, _ := json.Marshal(out)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		writeBody(w, r, http.StatusOK, string(data))
	case "application/xml", "text/xml":
		var sb strings.Builder
		sb.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
		fmt.Fprintf(&sb, `<%s name="%s">`, kind, xmlEscape(name))
		for _, e := range entries {
			switch {
			case e.subdir:
				fmt.Fprintf(&sb, `<subdir name="%s"><name>%s</name></subdir>`, xmlEscape(e.name), xmlEscape(e.name))
			case kind == "container":
				fmt.Fprintf(&sb, "<object><name>%s</name><hash>%s</hash><bytes>%d</bytes><content_type>%s</content_type><last_modified>%s</last_modified></object>",
					xmlEscape(e.name), e.hash, e.bytes, xmlEscape(e.contentType), e.lastModified)
			default:
				fmt.Fprintf(&sb, "<container><name>%s</name><count>%d</count><bytes>%d</bytes><last_modified>%s</last_modified></container>",
					xmlEscape(e.name), e.count, e.bytes, e.lastModified)
			}
		}
		fmt.Fprintf(&sb, "</%s>", kind)
		w.Header().Set("Content-Type", format+"; charset=utf-8")
		writeBody(w, r, http.StatusOK, sb.String())
	default:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if len(entries) == 0 {
			writeBody(w, r, http.StatusNoContent, "")
			return
		}
		var sb strings.Builder
		for _, e := range entries {
			sb.WriteString(e.name)
			sb.WriteByte('\n')
		}
		writeBody(w, r, http.StatusOK, sb.String())
	}
}

func writeBody(w http.ResponseWriter, r *http.Request, status int, body string) {
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(body))
	}
}

func xmlEscape(s string) string {
	var sb strings.Builder
	_ = xml.EscapeText(&sb, []byte(s))
	return sb.String()
}

// metadataItem is one stored metadata value with the time it was set; an
// empty value is a deletion, kept so an older value cannot return.
type metadataItem struct {
	Value     string         `json:"v"`
	Timestamp swob.Timestamp `json:"t"`
}

// mergeMetadata applies the request's metadata headers of the given prefixes
// (X-Container-Meta-, ...) to stored, the newer value of each key winning.
func mergeMetadata(stored map[string]metadataItem, h http.Header, ts swob.Timestamp, prefixes ...string) bool {
	changed := false
	for k := range h {
		for _, prefix := range prefixes {
			if strings.HasPrefix(k, prefix) {
				if old, ok := stored[k]; !ok || old.Timestamp < ts {
					stored[k] = metadataItem{Value: h.Get(k), Timestamp: ts}
					changed = true
				}
			}
		}
	}
	return changed
}

// setMetadataHeaders writes the stored metadata that is not deleted.
func setMetadataHeaders(h http.Header, stored map[string]metadataItem) {
	keys := make([]string, 0, len(stored))
	for k := range stored {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if v := stored[k].Value; v != "" {
			h.Set(k, v)
		}
	}
}
