package compute

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// maxServerTags is upstream's instance.MAX_TAG_COUNT.
const maxServerTags = 50

// maxTagLength is upstream's tag.MAX_TAG_LENGTH.
const maxTagLength = 60

// serverTagRoutes is the server tags API of microversion 2.26.
func (s *Service) serverTagRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/v2.1/servers/{id}/tags", Handler: s.listServerTags},
		{Method: "PUT", Path: "/v2.1/servers/{id}/tags", Handler: s.replaceServerTags},
		{Method: "DELETE", Path: "/v2.1/servers/{id}/tags", Handler: s.deleteServerTags},
		{Method: "GET", Path: "/v2.1/servers/{id}/tags/{tag}", Handler: s.checkServerTag},
		{Method: "PUT", Path: "/v2.1/servers/{id}/tags/{tag}", Handler: s.addServerTag},
		{Method: "DELETE", Path: "/v2.1/servers/{id}/tags/{tag}", Handler: s.deleteServerTag},
	}
}

// validTag is upstream's parameter_types.tag: 1-60 characters, no '/' or ','
// (they would break the tag URL and the comma-separated list filters).
func validTag(t string) bool {
	return t != "" && len([]rune(t)) <= maxTagLength && !strings.ContainsAny(t, "/,")
}

// tagsField validates a list of tags as the create (2.52) and PUT bodies give it.
func tagsField(raw any) ([]string, error) {
	items, ok := raw.([]any)
	if !ok {
		return nil, badRequest("Invalid input for field/attribute tags. Value: %v. %v is not of type 'array'", raw, raw)
	}
	if len(items) > maxServerTags {
		return nil, badRequest("Invalid input for field/attribute tags. Value: %v. %v is too long", raw, raw)
	}
	out := []string{}
	for _, it := range items {
		t, ok := it.(string)
		if !ok || !validTag(t) {
			return nil, badRequest("Invalid input for field/attribute tags. Value: %v. A tag must be 1-%d characters without '/' and ','", it, maxTagLength)
		}
		if !slices.Contains(out, t) { // a set, as upstream's tags table
			out = append(out, t)
		}
	}
	return out, nil
}

// taggable loads the server for a tag call: the API exists from 2.26, and
// changes need a server that is not building or erroring (upstream's
// _check_instance_in_valid_state), checked again when the change is written.
func (s *Service) taggable(r *http.Request, rule, action string, change bool) (*instance, error) {
	if !since(r, 26) {
		return nil, versionNotFound()
	}
	in, err := s.visibleInstance(r, rule)
	if err != nil {
		return nil, err
	}
	if change {
		if err := taggableState(in, action); err != nil {
			return nil, err
		}
	}
	return in, nil
}

func taggableState(in *instance, action string) error {
	switch in.VMState {
	case vmActive, vmPaused, vmSuspended, vmStopped:
		return nil
	}
	return invalidState(action, in, "vm_state", in.VMState)
}

// saveTags writes the instance's tags as change makes them of the tags it has
// now, in one transaction with the state check, so two concurrent tag calls do
// not lose each other's changes; change returns nil for no change.
func (s *Service) saveTags(r *http.Request, id, action string, change func(tags []string) ([]string, error)) ([]string, error) {
	var out []string
	err := s.changeInstance(r, id, "", func(_ *db.Tx, cur *instance) error {
		if err := taggableState(cur, action); err != nil {
			return err
		}
		tags := nonNilTags(cur.Tags)
		next, err := change(slices.Clone(tags))
		if err != nil || next == nil {
			out = tags
			return err
		}
		out, cur.Tags = next, next
		return nil
	})
	return out, err
}

func (s *Service) listServerTags(r *http.Request) (httpapi.Response, error) {
	in, err := s.taggable(r, "os_compute_api:os-server-tags:index", "", false)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"tags": nonNilTags(in.Tags)}), nil
}

func (s *Service) replaceServerTags(r *http.Request) (httpapi.Response, error) {
	in, err := s.taggable(r, "os_compute_api:os-server-tags:update_all", "update tags", true)
	if err != nil {
		return httpapi.Response{}, err
	}
	var req map[string]any
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return httpapi.Response{}, err
	}
	raw, ok := req["tags"]
	if !ok || len(req) != 1 {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute tags. 'tags' is a required property and the only one allowed")
	}
	tags, err := tagsField(raw)
	if err != nil {
		return httpapi.Response{}, err
	}
	if _, err := s.saveTags(r, in.UUID, "update tags", func([]string) ([]string, error) { return tags, nil }); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"tags": tags}), nil
}

func (s *Service) deleteServerTags(r *http.Request) (httpapi.Response, error) {
	in, err := s.taggable(r, "os_compute_api:os-server-tags:delete_all", "delete tags", true)
	if err != nil {
		return httpapi.Response{}, err
	}
	if _, err := s.saveTags(r, in.UUID, "delete tags", func([]string) ([]string, error) { return []string{}, nil }); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}

func (s *Service) checkServerTag(r *http.Request) (httpapi.Response, error) {
	in, err := s.taggable(r, "os_compute_api:os-server-tags:show", "", false)
	if err != nil {
		return httpapi.Response{}, err
	}
	tag := r.PathValue("tag")
	if !slices.Contains(in.Tags, tag) {
		return httpapi.Response{}, notFound("Server %s has no tag '%s'", in.UUID, tag)
	}
	return httpapi.NoContent(), nil
}

// addServerTag is 201 with the tag's URL when it is new, 204 when the server
// has it already; as upstream, a server at the limit refuses even a tag it has.
func (s *Service) addServerTag(r *http.Request) (httpapi.Response, error) {
	in, err := s.taggable(r, "os_compute_api:os-server-tags:update", "update tag", true)
	if err != nil {
		return httpapi.Response{}, err
	}
	tag := r.PathValue("tag")
	if !validTag(tag) {
		return httpapi.Response{}, badRequest("Tag '%s' is invalid. It must be a non empty string without characters '/' and ','.", tag)
	}
	added := false
	_, err = s.saveTags(r, in.UUID, "update tag", func(tags []string) ([]string, error) {
		added = false
		if len(tags) >= maxServerTags {
			return nil, badRequest("The number of tags exceeded the per-server limit %d", maxServerTags)
		}
		if slices.Contains(tags, tag) {
			return nil, nil
		}
		added = true
		return append(tags, tag), nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	if !added {
		return httpapi.NoContent(), nil
	}
	return httpapi.Response{Status: http.StatusCreated}.WithHeader("Location",
		s.base()+"/v2.1/servers/"+in.UUID+"/tags/"+url.PathEscape(tag)), nil
}

func (s *Service) deleteServerTag(r *http.Request) (httpapi.Response, error) {
	in, err := s.taggable(r, "os_compute_api:os-server-tags:delete", "delete tag", true)
	if err != nil {
		return httpapi.Response{}, err
	}
	tag := r.PathValue("tag")
	_, err = s.saveTags(r, in.UUID, "delete tag", func(tags []string) ([]string, error) {
		i := slices.Index(tags, tag)
		if i < 0 {
			return nil, notFound("Server %s has no tag '%s'", in.UUID, tag)
		}
		return slices.Delete(slices.Clone(tags), i, i+1), nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}

func nonNilTags(t []string) []string {
	if t == nil {
		return []string{}
	}
	return t
}

// tagFilter is the list filters of 2.26: tags (all of), tags-any, not-tags
// (not all of), not-tags-any (none of), each a comma-separated list.
type tagFilter struct{ all, anyOf, notAll, notAny []string }

func parseTagFilter(q url.Values) tagFilter {
	split := func(k string) []string {
		if v := q.Get(k); v != "" {
			return strings.Split(v, ",")
		}
		return nil
	}
	return tagFilter{split("tags"), split("tags-any"), split("not-tags"), split("not-tags-any")}
}

func (f tagFilter) match(tags []string) bool {
	has := func(t string) bool { return slices.Contains(tags, t) }
	if len(f.all) > 0 && !allOf(f.all, has) {
		return false
	}
	if len(f.anyOf) > 0 && !slices.ContainsFunc(f.anyOf, has) {
		return false
	}
	if len(f.notAll) > 0 && allOf(f.notAll, has) {
		return false
	}
	if len(f.notAny) > 0 && slices.ContainsFunc(f.notAny, has) {
		return false
	}
	return true
}

func allOf(ts []string, has func(string) bool) bool {
	for _, t := range ts {
		if !has(t) {
			return false
		}
	}
	return true
}
