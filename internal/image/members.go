package image

import (
	"context"
	"fmt"
	"net/http"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

func (s *Service) memberRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/v2/images/{image_id}/members", Policy: "get_members", Target: s.imageTarget, Handler: s.listMembers,
			Schemas: responses(http.StatusOK, "members")},
		{Method: "POST", Path: "/v2/images/{image_id}/members", Policy: "add_member", Target: s.imageTarget, Handler: s.addMember,
			Schemas: responses(http.StatusOK, "member")},
		{Method: "GET", Path: "/v2/images/{image_id}/members/{member_id}", Policy: "get_member", Target: s.imageTarget, Handler: s.showMember,
			Schemas: responses(http.StatusOK, "member")},
		{Method: "PUT", Path: "/v2/images/{image_id}/members/{member_id}", Policy: "modify_member", Target: s.imageTarget, Handler: s.updateMember,
			Schemas: responses(http.StatusOK, "member")},
		{Method: "DELETE", Path: "/v2/images/{image_id}/members/{member_id}", Policy: "delete_member", Target: s.imageTarget, Handler: s.deleteMember, Schemas: noContent},
	}
}

type memberRow struct{ ImageID, MemberID, Status, CreatedAt, UpdatedAt string }

func memberJSON(m memberRow) map[string]any {
	return map[string]any{"image_id": m.ImageID, "member_id": m.MemberID, "status": m.Status,
		"created_at": m.CreatedAt, "updated_at": m.UpdatedAt, "schema": "/v2/schemas/member"}
}

func (s *Service) getMember(ctx context.Context, imageID, memberID string) (memberRow, error) {
	m := memberRow{ImageID: imageID, MemberID: memberID}
	err := s.db.QueryRowContext(ctx, `SELECT status, created_at, updated_at FROM image_members
		WHERE image_id = ? AND member_id = ?`, imageID, memberID).Scan(&m.Status, &m.CreatedAt, &m.UpdatedAt)
	if db.IsNoRows(err) {
		return m, memberNotFound(memberID, imageID)
	}
	return m, err
}

// visibleMember is the membership of the path as the caller may see it: the
// image's owner and admins see every member, a member only itself (upstream's
// member repository filters so), anything else is 404.
func (s *Service) visibleMember(r *http.Request, im *imageRow) (memberRow, error) {
	c, id := s.caller(r), r.PathValue("member_id")
	if !c.admin && !c.owns(im) && (c.project == "" || id != c.project) {
		return memberRow{}, memberNotFound(id, im.ID)
	}
	return s.getMember(r.Context(), im.ID, id)
}

// sharedImage loads the image and refuses member operations on images that are
// not shared, each route with upstream's answer (glance/api/v2/image_members.py,
// _check_visibility_and_ownership's Forbidden as each method turns it): refuse
// is given the image's id.
func (s *Service) sharedImage(r *http.Request, refuse func(id string) error) (*imageRow, error) {
	im, err := s.loadVisible(r)
	if err != nil {
		return nil, err
	}
	if im.Visibility != "shared" {
		return nil, refuse(im.ID)
	}
	return im, nil
}

const onlyShared = "Only shared images have members."

func memberNotFound(memberID, imageID string) error {
	return httpapi.NotFound("%s not found in the member list of the image %s.", memberID, imageID)
}

func (s *Service) listMembers(r *http.Request) (httpapi.Response, error) {
	im, err := s.sharedImage(r, func(id string) error {
		return httpapi.Forbidden("Not allowed to list members for image %s: %s", id, onlyShared)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	c := s.caller(r)
	q := `SELECT member_id, status, created_at, updated_at FROM image_members WHERE image_id = ?`
	args := []any{im.ID}
	if !c.admin && !c.owns(im) {
		// a member sees only its own membership
		q += ` AND member_id = ?`
		args = append(args, c.project)
	}
	members, err := db.QueryAll(r.Context(), s.db, func(row db.Scanner) (memberRow, error) {
		m := memberRow{ImageID: im.ID}
		err := row.Scan(&m.MemberID, &m.Status, &m.CreatedAt, &m.UpdatedAt)
		return m, err
	}, q+` ORDER BY created_at, member_id`, args...)
	if err != nil {
		return httpapi.Response{}, err
	}
	out := make([]map[string]any, 0, len(members))
	for _, m := range members {
		out = append(out, memberJSON(m))
	}
	return httpapi.OK(map[string]any{"members": out, "schema": "/v2/schemas/members"}), nil
}

// addMember shares the image with a project. The image's visibility is read in
// the transaction that inserts, and the primary key makes a project a member once.
func (s *Service) addMember(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	member, err := memberBodyField(r, "member", "Member to be added not specified", `Expected a member in the form: {"member": "image_id"}`)
	if err != nil {
		return httpapi.Response{}, err
	}
	if member == "" {
		return httpapi.Response{}, httpapi.BadRequest("Member can't be empty")
	}
	if len(member) > 255 {
		return httpapi.Response{}, httpapi.BadRequest(`Expected a member in the form: {"member": "image_id"}`)
	}
	now := stamp(s.now())
	m := memberRow{ImageID: r.PathValue("image_id"), MemberID: member, Status: "pending", CreatedAt: now, UpdatedAt: now}
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		im, err := s.getImage(ctx, tx, m.ImageID)
		if err != nil {
			return err
		}
		if im.Visibility != "shared" {
			return httpapi.Forbidden("Not allowed to create members for image %s.", im.ID)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO image_members (image_id, member_id, status, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?)`, m.ImageID, m.MemberID, m.Status, m.CreatedAt, m.UpdatedAt)
		return err
	})
	if db.IsUniqueViolation(err) {
		return httpapi.Response{}, httpapi.Conflict("Member %s is duplicated for image %s", m.MemberID, m.ImageID)
	}
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(memberJSON(m)), nil
}

func (s *Service) showMember(r *http.Request) (httpapi.Response, error) {
	im, err := s.sharedImage(r, func(string) error { return httpapi.NotFound(onlyShared) })
	if err != nil {
		return httpapi.Response{}, err
	}
	m, err := s.visibleMember(r, im)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(memberJSON(m)), nil
}

// updateMember is the member's answer: only the member project (or admin) changes it.
func (s *Service) updateMember(r *http.Request) (httpapi.Response, error) {
	im, err := s.sharedImage(r, func(id string) error { return httpapi.Forbidden("Not allowed to update members for image %s.", id) })
	if err != nil {
		return httpapi.Response{}, err
	}
	status, err := memberBodyField(r, "status", "Status not specified", `Expected a status in the form: {"status": "status"}`)
	if err != nil {
		return httpapi.Response{}, err
	}
	body := struct{ Status string }{status}
	if !contains([]string{"pending", "accepted", "rejected"}, body.Status) {
		// upstream's domain model (glance/domain ImageMember.status)
		return httpapi.Response{}, httpapi.BadRequest(`Incorrect request: Status must be "pending", "accepted" or "rejected".`)
	}
	m, err := s.visibleMember(r, im)
	if err != nil {
		return httpapi.Response{}, err
	}
	m.Status, m.UpdatedAt = body.Status, stamp(s.now())
	res, err := s.db.ExecContext(r.Context(), `UPDATE image_members SET status = ?, updated_at = ?
		WHERE image_id = ? AND member_id = ?`, m.Status, m.UpdatedAt, m.ImageID, m.MemberID)
	if err != nil {
		return httpapi.Response{}, fmt.Errorf("update image member: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 { // removed meanwhile
		return httpapi.Response{}, memberNotFound(m.MemberID, m.ImageID)
	}
	return httpapi.OK(memberJSON(m)), nil
}

func (s *Service) deleteMember(r *http.Request) (httpapi.Response, error) {
	im, err := s.sharedImage(r, func(id string) error { return httpapi.Forbidden("Not allowed to delete members for image %s.", id) })
	if err != nil {
		return httpapi.Response{}, err
	}
	m, err := s.visibleMember(r, im)
	if err != nil {
		return httpapi.Response{}, err
	}
	res, err := s.db.ExecContext(r.Context(), `DELETE FROM image_members WHERE image_id = ? AND member_id = ?`,
		m.ImageID, m.MemberID)
	if err != nil {
		return httpapi.Response{}, fmt.Errorf("delete image member: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 { // removed meanwhile
		return httpapi.Response{}, memberNotFound(m.MemberID, m.ImageID)
	}
	return httpapi.NoContent(), nil
}

// memberBodyField reads the one field of a member body as upstream's
// deserializer does (glance/api/v2/image_members.py): a body that is not an
// object is the form message, a missing field the missing one; a value that is
// false, null or empty is "" (upstream's "can't be empty").
func memberBodyField(r *http.Request, key, missing, form string) (string, error) {
	doc, err := decodeDocument(r)
	if err != nil {
		return "", err
	}
	body, ok := doc.(map[string]any)
	if !ok {
		return "", httpapi.BadRequest("%s", form)
	}
	v, ok := body[key]
	if !ok {
		return "", httpapi.BadRequest("%s", missing)
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case nil:
		return "", nil
	case bool:
		if !x {
			return "", nil
		}
	}
	return "", httpapi.BadRequest("%s", form)
}
