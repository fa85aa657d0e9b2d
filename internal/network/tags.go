package network

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// maxTagLength and maxTagsCount are upstream's MAX_TAG_LEN and MAX_TAGS_COUNT
// (neutron/extensions/tagging.py).
const (
	maxTagLength = 255
	maxTagsCount = 50
)

// taggable is a resource of the standard-attr-tag extension: where it is stored, and
// who may see it (visible: 404 otherwise, and the target of upstream's
// get_<what>:tags, update_<what>:tags and delete_<what>:tags rules).
type taggable struct {
	collection, table, what string
	visible                 func(ctx context.Context, c caller, q db.Querier, id string) (map[string]any, error)
}

func (s *Service) taggables() []taggable {
	return []taggable{
		{"networks", "networks", "network", func(ctx context.Context, c caller, q db.Querier, id string) (map[string]any, error) {
			n, err := s.visibleNetwork(ctx, c, q, id)
			if err != nil {
				return nil, err
			}
			return n.target(), nil
		}},
		{"subnets", "subnets", "subnet", func(ctx context.Context, c caller, q db.Querier, id string) (map[string]any, error) {
			sb, n, err := s.visibleSubnet(ctx, c, q, id)
			if err != nil {
				return nil, err
			}
			return subnetTarget(sb, n), nil
		}},
		{"ports", "ports", "port", func(ctx context.Context, c caller, q db.Querier, id string) (map[string]any, error) {
			p, n, err := s.visiblePort(ctx, c, q, id)
			if err != nil {
				return nil, err
			}
			return portTarget(p, n), nil
		}},
		{"routers", "routers", "router", func(ctx context.Context, c caller, q db.Querier, id string) (map[string]any, error) {
			rt, err := s.visibleRouter(ctx, c, q, id)
			if err != nil {
				return nil, err
			}
			return rt.target(), nil
		}},
		{"security-groups", "security_groups", "security_group", func(ctx context.Context, c caller, q db.Querier, id string) (map[string]any, error) {
			sg, err := s.visibleSecurityGroup(ctx, c, q, id)
			if err != nil {
				return nil, err
			}
			return sg.target(), nil
		}},
		{"floatingips", "floatingips", "floatingip", func(ctx context.Context, c caller, q db.Querier, id string) (map[string]any, error) {
			f, err := s.visibleFloatingIP(ctx, c, q, id)
			if err != nil {
				return nil, err
			}
			return f.target(), nil
		}},
		{"subnetpools", "subnetpools", "subnetpool", func(ctx context.Context, c caller, q db.Querier, id string) (map[string]any, error) {
			sp, err := s.visibleSubnetPool(ctx, c, q, id)
			if err != nil {
				return nil, err
			}
			return sp.target(), nil
		}},
		{"trunks", "trunks", "trunk", func(ctx context.Context, c caller, q db.Querier, id string) (map[string]any, error) {
			t, err := s.visibleTrunk(ctx, c, q, id)
			if err != nil {
				return nil, err
			}
			return t.target(), nil
		}},
	}
}

// tagRoutes are upstream's tag API on each taggable collection.
func (s *Service) tagRoutes() []httpapi.Route {
	var out []httpapi.Route
	for _, t := range s.taggables() {
		base := "/v2.0/" + t.collection + "/{id}/tags"
		out = append(out,
			httpapi.Route{Method: "GET", Path: base, Handler: func(r *http.Request) (httpapi.Response, error) { return s.listTags(r, t) }},
			httpapi.Route{Method: "PUT", Path: base, Handler: func(r *http.Request) (httpapi.Response, error) { return s.replaceTags(r, t) }},
			httpapi.Route{Method: "DELETE", Path: base, Handler: func(r *http.Request) (httpapi.Response, error) { return s.deleteTags(r, t) }},
			httpapi.Route{Method: "GET", Path: base + "/{tag}", Handler: func(r *http.Request) (httpapi.Response, error) { return s.checkTag(r, t) }},
			httpapi.Route{Method: "PUT", Path: base + "/{tag}", Handler: func(r *http.Request) (httpapi.Response, error) { return s.addTag(r, t) }},
			httpapi.Route{Method: "DELETE", Path: base + "/{tag}", Handler: func(r *http.Request) (httpapi.Response, error) { return s.removeTag(r, t) }},
		)
	}
	return out
}

// storedTags reads the tags of a resource's stored body.
func storedTags(ctx context.Context, q db.Querier, t taggable, id string) ([]string, map[string]any, error) {
	var raw string
	if err := q.QueryRowContext(ctx, `SELECT body FROM `+t.table+` WHERE id = ?`, id).Scan(&raw); err != nil {
		return nil, nil, err
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(raw)))
	dec.UseNumber() // the rest of the body is written back as it was
	var body map[string]any
	if err := dec.Decode(&body); err != nil {
		return nil, nil, err
	}
	tags := []string{}
	list, _ := body["tags"].([]any)
	for _, v := range list {
		if s, ok := v.(string); ok {
			tags = append(tags, s)
		}
	}
	return tags, body, nil
}

func (s *Service) listTags(r *http.Request, t taggable) (httpapi.Response, error) {
	c := s.caller(r)
	id := r.PathValue("id")
	if err := s.readTags(c, t, r, id); err != nil {
		return httpapi.Response{}, err
	}
	tags, _, err := storedTags(r.Context(), s.db, t, id)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"tags": tags}), nil
}

func (s *Service) checkTag(r *http.Request, t taggable) (httpapi.Response, error) {
	c := s.caller(r)
	id, tag := r.PathValue("id"), r.PathValue("tag")
	if err := validTag(tag); err != nil {
		return httpapi.Response{}, err
	}
	if err := s.readTags(c, t, r, id); err != nil {
		return httpapi.Response{}, err
	}
	tags, _, err := storedTags(r.Context(), s.db, t, id)
	if err != nil {
		return httpapi.Response{}, err
	}
	if !slices.Contains(tags, tag) {
		return httpapi.Response{}, tagNotFound(t, id, tag)
	}
	return httpapi.NoContent(), nil
}

// readTags checks the caller may see the resource and read its tags.
func (s *Service) readTags(c caller, t taggable, r *http.Request, id string) error {
	target, err := t.visible(r.Context(), c, s.db, id)
	if err != nil {
		return err
	}
	return s.enforce(c, "get_"+t.what+":tags", target)
}

func tagNotFound(t taggable, id, tag string) error {
	return neutronError(http.StatusNotFound, "TagNotFound", "Tag %s could not be found for %s %s.", tag, t.what, id)
}

// tagsLimit is validate_tags_limit: a resource holds at most MAX_TAGS_COUNT
// tags, named by its collection ("Bad networks request: ...").
func tagsLimit(t taggable, tags []string) error {
	if len(tags) > maxTagsCount {
		return neutronError(http.StatusBadRequest, "BadRequest", "Bad %s request: The number of tags exceed the per-resource limit of %d.",
			t.table, maxTagsCount)
	}
	return nil
}

// validTag is validate_tag: a string of at most MAX_TAG_LEN characters.
func validTag(tag string) error {
	if msg := validString(maxTagLength)(tag); msg != "" {
		return invalidInput("%s", msg)
	}
	return nil
}

// changeTags runs edit on the resource's tags in a transaction, after checking the
// caller may change them (upstream's <action>_<what>:tags: update for PUT, delete
// for DELETE), and stores the result with a new revision.
func (s *Service) changeTags(r *http.Request, t taggable, action string, edit func([]string) ([]string, error)) ([]string, error) {
	c := s.caller(r)
	id := r.PathValue("id")
	var tags []string
	err := s.inTx(r.Context(), func(tx *db.Tx) error {
		target, err := t.visible(r.Context(), c, tx, id)
		if err != nil {
			return err
		}
		if err := s.enforce(c, action+"_"+t.what+":tags", target); err != nil {
			return err
		}
		old, body, err := storedTags(r.Context(), tx, t, id)
		if err != nil {
			return err
		}
		if tags, err = edit(slices.Clone(old)); err != nil {
			return err
		}
		if slices.Equal(old, tags) {
			return nil // idempotent: no new revision
		}
		body["tags"] = tags
		body["updated_at"] = stamp(s.now())
		rev, _ := strconv.Atoi(string(asNumber(body["revision_number"])))
		body["revision_number"] = rev + 1
		return saveBody(r.Context(), tx, t.table, id, body)
	})
	return tags, err
}

func asNumber(v any) json.Number {
	if n, ok := v.(json.Number); ok {
		return n
	}
	return "0"
}

func (s *Service) replaceTags(r *http.Request, t taggable) (httpapi.Response, error) {
	var body map[string]any
	if err := httpapi.DecodeJSON(r, &body); err != nil {
		return httpapi.Response{}, badRequest("%s", err.Error())
	}
	// validate_tags (neutron/extensions/tagging.py): a body with tags, a
	// list of unique strings of at most MAX_TAG_LEN; then at most
	// MAX_TAGS_COUNT of them.
	if _, ok := body["tags"]; !ok {
		return httpapi.Response{}, invalidInput("Invalid tags body")
	}
	if msg := validListOfUniqueStrings(maxTagLength)(body["tags"]); msg != "" {
		return httpapi.Response{}, invalidInput("%s", msg)
	}
	unique := stringList(body["tags"])
	if err := tagsLimit(t, unique); err != nil {
		return httpapi.Response{}, err
	}
	tags, err := s.changeTags(r, t, "update", func([]string) ([]string, error) { return unique, nil })
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"tags": tags}), nil
}

func (s *Service) deleteTags(r *http.Request, t taggable) (httpapi.Response, error) {
	if _, err := s.changeTags(r, t, "delete", func([]string) ([]string, error) { return []string{}, nil }); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}

// addTag is PUT .../tags/{tag}: 201, also when the tag is there already.
func (s *Service) addTag(r *http.Request, t taggable) (httpapi.Response, error) {
	tag := r.PathValue("tag")
	if err := validTag(tag); err != nil {
		return httpapi.Response{}, err
	}
	_, err := s.changeTags(r, t, "update", func(tags []string) ([]string, error) {
		if !slices.Contains(tags, tag) {
			tags = append(tags, tag)
		}
		return tags, tagsLimit(t, tags)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Response{Status: http.StatusCreated}, nil
}

func (s *Service) removeTag(r *http.Request, t taggable) (httpapi.Response, error) {
	tag := r.PathValue("tag")
	if err := validTag(tag); err != nil {
		return httpapi.Response{}, err
	}
	_, err := s.changeTags(r, t, "delete", func(tags []string) ([]string, error) {
		if !slices.Contains(tags, tag) {
			return nil, tagNotFound(t, r.PathValue("id"), tag)
		}
		return slices.DeleteFunc(tags, func(x string) bool { return x == tag }), nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}
