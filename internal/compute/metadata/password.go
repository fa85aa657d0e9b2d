package metadata

import (
	"io"
	"net/http"
)

// maxPasswordSize is what upstream keeps of a posted password: four system
// metadata items of 255 characters.
const maxPasswordSize = 4 * 255

// password answers /openstack/<version>/password as upstream's handle_password:
// GET returns the stored password (empty when none); POST stores one, once
// (409 after), of at most 1020 bytes. Both answer text/html, webob's default,
// since upstream sets no type.
func (h *handler) password(w http.ResponseWriter, r *http.Request, inst *Instance) {
	switch r.Method {
	case http.MethodGet:
		writeResult(w, result{body: []byte(inst.Password), contentType: contentHTML})
	case http.MethodPost:
		if inst.Password != "" {
			writeError(w, &apiError{status: http.StatusConflict})
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxPasswordSize+1))
		if err != nil {
			writeError(w, &apiError{status: http.StatusBadRequest, explanation: "The request body could not be read."})
			return
		}
		if r.ContentLength > maxPasswordSize || len(body) > maxPasswordSize {
			writeError(w, &apiError{status: http.StatusBadRequest, explanation: msgTooLarge})
			return
		}
		if err := h.setPassword(r.Context(), inst.UUID, string(body)); err != nil {
			h.log.Warn("storing the password an instance posted", "instance", inst.UUID, "error", err)
			writeError(w, err)
			return
		}
		writeResult(w, result{contentType: contentHTML})
	default:
		writeError(w, &apiError{status: http.StatusBadRequest, explanation: msgGetPostOnly})
	}
}
