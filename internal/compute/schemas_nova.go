package compute

import (
	"embed"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

// Nova's request and response schemas, as data: schemas/nova/<module>.json is
// every schema of nova/api/openstack/compute/schemas/<module>.py a controller
// uses (with nova/api/validation/parameter_types.py and response_types.py
// expanded), transcribed as JSON; schemas/nova/methods.json is, per controller
// method of nova/api/openstack/compute/<module>.py ("keypairs.create"), its
// @validation.schema, @validation.response_body_schema and @wsgi.response
// declarations with their microversion ranges. Routes name the method they
// are (novaRouteMethods) and get upstream's schemas per microversion range.
//
//go:embed schemas/nova/*.json
var novaSchemaFiles embed.FS

// novaDecl is one declaration of a controller method.
type novaDecl struct {
	Kind     string `json:"kind"` // request, response, status, version, action
	Module   string `json:"module"`
	Schema   string `json:"schema"`
	Min, Max string
	Status   int    `json:"status"`
	Action   string `json:"action"`
}

var (
	novaOnce    sync.Once
	novaMethods map[string][]novaDecl
	novaModules = map[string]map[string]any{}
	novaErr     error
)

func loadNova() {
	data, err := novaSchemaFiles.ReadFile("schemas/nova/methods.json")
	if err != nil {
		novaErr = err
		return
	}
	var raw map[string][]struct {
		novaDecl
		Min string `json:"min"`
		Max string `json:"max"`
	}
	if novaErr = json.Unmarshal(data, &raw); novaErr != nil {
		return
	}
	novaMethods = map[string][]novaDecl{}
	for k, ds := range raw {
		for _, d := range ds {
			d.novaDecl.Min, d.novaDecl.Max = d.Min, d.Max
			novaMethods[k] = append(novaMethods[k], d.novaDecl)
		}
	}
	entries, err := novaSchemaFiles.ReadDir("schemas/nova")
	if err != nil {
		novaErr = err
		return
	}
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".json")
		if name == "methods" {
			continue
		}
		data, err := novaSchemaFiles.ReadFile(path.Join("schemas/nova", e.Name()))
		if err != nil {
			novaErr = err
			return
		}
		doc, err := jsonschema.Decode(data)
		if err != nil {
			novaErr = fmt.Errorf("%s: %w", e.Name(), err)
			return
		}
		mod, _ := doc.(map[string]any)
		for k, v := range mod {
			mod[k] = draft4(v)
		}
		novaModules[name] = mod
	}
}

// novaSchema is upstream's schema module.name, in the draft 4 the validator
// speaks.
func novaSchema(module, name string) (jsonschema.Schema, error) {
	novaOnce.Do(loadNova)
	if novaErr != nil {
		return nil, novaErr
	}
	s, ok := novaModules[module][name].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("no schema %s.%s", module, name)
	}
	return s, nil
}

// draft4 rewrites what upstream writes in draft 2020-12 (Nova validates with
// Draft202012Validator) into draft 4 with the same meaning: const as a
// one-value enum, prefixItems as a tuple's items, numeric exclusive bounds as
// draft 4's flags, and Python's regular expressions as RE2's (rePython).
func draft4(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			switch k {
			case "properties", "patternProperties", "definitions":
				props, _ := val.(map[string]any)
				conv := make(map[string]any, len(props))
				for pk, pv := range props {
					if k == "patternProperties" {
						pk = rePython(pk)
					}
					conv[pk] = draft4(pv)
				}
				out[k] = conv
			case "const":
				out["enum"] = []any{val}
			case "prefixItems":
				out["items"] = draft4(val)
			case "pattern":
				if s, ok := val.(string); ok {
					out[k] = rePython(s)
				} else {
					out[k] = val
				}
			default:
				out[k] = draft4(val)
			}
		}
		if items, ok := x["items"]; ok && x["prefixItems"] != nil {
			out["additionalItems"] = draft4(items)
		}
		for _, bound := range []struct{ excl, plain string }{{"exclusiveMinimum", "minimum"}, {"exclusiveMaximum", "maximum"}} {
			if n, ok := x[bound.excl].(json.Number); ok {
				out[bound.plain], out[bound.excl] = n, true
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = draft4(val)
		}
		return out
	}
	return v
}

// pythonOnly are upstream's patterns that need look-around, as RE2 writes the
// same language.
var pythonOnly = map[string]string{
	// A name of these characters that neither starts nor ends with a space.
	`^(?! )[a-zA-Z0-9. _-]+(?<! )$`: `^[a-zA-Z0-9._-](?:[a-zA-Z0-9. _-]*[a-zA-Z0-9._-])?$`,
}

var pythonSpaceEscape = regexp.MustCompile(`\\ `)

// rePython is a Python regular expression as RE2 reads it: re.escape's
// escaped space is a plain one; look-around comes from pythonOnly.
func rePython(expr string) string {
	if re, ok := pythonOnly[expr]; ok {
		return re
	}
	return pythonSpaceEscape.ReplaceAllString(expr, `\x20`)
}

// parseVersion reads "2.53" ("" is def).
func parseVersion(s string, def httpapi.Version) httpapi.Version {
	if s == "" {
		return def
	}
	major, minor, _ := strings.Cut(s, ".")
	ma, _ := strconv.Atoi(major)
	mi, _ := strconv.Atoi(minor)
	return httpapi.Version{Major: ma, Minor: mi}
}

// servedAt reports whether the method exists at v (its @wsgi.api_version).
func servedAt(decls []novaDecl, v httpapi.Version) bool {
	for _, d := range decls {
		if d.Kind == "version" && !d.covers(v) {
			return false
		}
	}
	return true
}

func (d novaDecl) covers(v httpapi.Version) bool {
	lo := parseVersion(d.Min, httpapi.Version{Major: 2, Minor: 0})
	hi := parseVersion(d.Max, httpapi.Version{Major: 99, Minor: 999})
	return !v.Less(lo) && !hi.Less(v)
}

// novaRouteSchemas are the route's schemas per microversion range from the
// upstream method's declarations (kinds: "request", "response" or both): one
// httpapi.Schema per range in which neither changes, its responses under the
// status the method answers there (200 unless @wsgi.response says otherwise).
func novaRouteSchemas(method string, kinds ...string) ([]httpapi.Schema, error) {
	novaOnce.Do(loadNova)
	if novaErr != nil {
		return nil, novaErr
	}
	decls, ok := novaMethods[method]
	if !ok {
		return nil, fmt.Errorf("no upstream method %s", method)
	}
	want := func(kind string) bool {
		for _, k := range kinds {
			if k == kind {
				return true
			}
		}
		return false
	}
	// The ranges' bounds: each declaration's first version and the one after
	// its last, within Nimbus's.
	bounds := map[httpapi.Version]bool{microversions.Min: true}
	for _, d := range decls {
		for _, b := range d.bounds() {
			bounds[b] = true
		}
	}
	starts := make([]httpapi.Version, 0, len(bounds))
	for b := range bounds {
		starts = append(starts, b)
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i].Less(starts[j]) })
	var out []httpapi.Schema
	for i, from := range starts {
		sc := httpapi.Schema{Min: from}
		if i+1 < len(starts) {
			sc.Max = httpapi.Version{Major: starts[i+1].Major, Minor: starts[i+1].Minor - 1}
		}
		status, declared := 200, false
		var response jsonschema.Schema
		if !servedAt(decls, from) {
			continue // the dispatcher's 404 comes first, as upstream's
		}
		for _, d := range decls {
			if !d.covers(from) {
				continue
			}
			switch {
			case d.Kind == "status":
				status = d.Status
			case d.Kind == "request" && want("request"):
				s, err := novaSchema(d.Module, d.Schema)
				if err != nil {
					return nil, err
				}
				sc.Request, declared = s, true
			case d.Kind == "response" && want("response"):
				s, err := novaSchema(d.Module, d.Schema)
				if err != nil {
					return nil, err
				}
				response, declared = s, true
			}
		}
		if response != nil {
			sc.Responses = map[int]jsonschema.Schema{status: response}
		}
		if declared {
			out = append(out, sc)
		}
	}
	return out, nil
}
