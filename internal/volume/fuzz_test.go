package volume

import (
	"net/url"
	"testing"
)

// FuzzVolumeCreateBody: any body a client sends to POST /volumes answers a
// 4xx or 202, never a 500 (the schema, then the handler's checks).
func FuzzVolumeCreateBody(f *testing.F) {
	for _, seed := range []string{`{"volume":{"size":1}}`, `{"volume":{"size":"1","name":"x","metadata":{"a":"b"}}}`,
		`{"volume":{"size":1,"volume_type":"__DEFAULT__","availability_zone":"nova"}}`, `{"volume":{"snapshot_id":null,"size":null}}`,
		`{"volume":{"imageRef":"x","size":1}}`, `{"volume":{"multiattach":"yes","size":2}}`, `[]`, `{"volume":[]}`, `{`} {
		f.Add(seed)
	}
	e := newTestEnv(f, nil)
	f.Fuzz(func(t *testing.T, body string) {
		e.t = t
		status, _, raw, _ := e.Do("POST", "/v3/volumes", e.DemoToken, []byte(body), map[string]string{"OpenStack-API-Version": "volume 3.53"})
		if status >= 500 {
			t.Fatalf("%s: %d %s", body, status, raw)
		}
	})
}

// FuzzVolumeListQuery: any list query answers 200 or a 4xx.
func FuzzVolumeListQuery(f *testing.F) {
	for _, seed := range []string{"sort=name:asc&limit=2", "metadata={'a':'b'}", "marker=x", "limit=-1", "sort=size:up",
		"bootable=maybe", "with_count=true&offset=3", "all_tenants=1&project_id=x", "metadata={'a\\'", "sort_key=id&sort=id"} {
		f.Add(seed)
	}
	e := newTestEnv(f, nil)
	f.Fuzz(func(t *testing.T, query string) {
		e.t = t
		values, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		status, _, raw, _ := e.Do("GET", "/v3/volumes/detail?"+values.Encode(), e.DemoToken, nil, map[string]string{"OpenStack-API-Version": "volume 3.65"})
		if status >= 500 {
			t.Fatalf("%s: %d %s", query, status, raw)
		}
	})
}

// FuzzVolumeActionBody: any action body answers a 4xx or success, never a 500.
func FuzzVolumeActionBody(f *testing.F) {
	for _, seed := range []string{`{"os-extend":{"new_size":2}}`, `{"os-extend":{"new_size":"x"}}`, `{"os-reset_status":{"status":"error"}}`,
		`{"os-set_bootable":{"bootable":"true"}}`, `{"os-attach":{"mountpoint":"/dev/vdb","instance_uuid":"x"}}`,
		`{"os-initialize_connection":{"connector":{"host":"h"}}}`, `{"revert":{"snapshot_id":null}}`, `{"os-detach":{}}`,
		`{"os-volume_upload_image":{"image_name":"i"}}`, `{"os-update_readonly_flag":{"readonly":1}}`, `{}`, `null`} {
		f.Add(seed)
	}
	e := newTestEnv(f, nil)
	id := e.createVolume(e.DemoToken, map[string]any{"size": 1})
	f.Fuzz(func(t *testing.T, body string) {
		e.t = t
		status, _, raw, _ := e.Do("POST", "/v3/volumes/"+id+"/action", e.DemoToken, []byte(body),
			map[string]string{"OpenStack-API-Version": "volume 3.70"})
		if status >= 500 {
			t.Fatalf("%s: %d %s", body, status, raw)
		}
	})
}
