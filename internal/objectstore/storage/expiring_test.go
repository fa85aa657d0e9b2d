package storage

import "testing"

// TestIfDeleteAt: the expirer's DELETE succeeds only while the object still
// expires when the task says, as upstream's object server answers it.
func TestIfDeleteAt(t *testing.T) {
	n := newNode(t)
	obj := n.object.URL + "/d1/0/AUTH_a/c/o"
	call{method: "PUT", url: obj, body: "x", headers: map[string]string{"X-Timestamp": "1000", "Content-Type": "a/b",
		"X-Delete-At": "2000"}, status: 201}.run(t)
	steps := []call{
		{method: "DELETE", url: obj, headers: map[string]string{"X-Timestamp": "2000", "X-If-Delete-At": "x"}, status: 400,
			wantBody: "Bad X-If-Delete-At header value"},
		{method: "DELETE", url: obj, headers: map[string]string{"X-Timestamp": "2000", "X-If-Delete-At": "1999"}, status: 412,
			wantBody: "X-If-Delete-At and X-Delete-At do not match"},
		{method: "DELETE", url: n.object.URL + "/d1/0/AUTH_a/c/none", headers: map[string]string{"X-Timestamp": "2000",
			"X-If-Delete-At": "2000"}, status: 412},
		{method: "DELETE", url: obj, headers: map[string]string{"X-Timestamp": "2000", "X-If-Delete-At": "2000"}, status: 204},
		{method: "HEAD", url: obj, status: 404, want: map[string]string{"X-Backend-Timestamp": "0000002000.00000"}},
	}
	for _, c := range steps {
		c.run(t)
	}
}
