package httpapi

import (
	"net/http"
)

// Response is what a handler returns; the router writes it.
type Response struct {
	Status int
	Body   any // JSON-encoded unless nil or []byte
	Header http.Header
}

// JSON answers status with body encoded as JSON.
func JSON(status int, body any) Response { return Response{Status: status, Body: body} }

// OK answers 200 with body.
func OK(body any) Response { return JSON(http.StatusOK, body) }

// Created answers 201 with body.
func Created(body any) Response { return JSON(http.StatusCreated, body) }

// NoContent answers 204.
func NoContent() Response { return Response{Status: http.StatusNoContent} }

// WithHeader returns r with header k set to v.
func (r Response) WithHeader(k, v string) Response {
	if r.Header == nil {
		r.Header = http.Header{}
	}
	r.Header.Set(k, v)
	return r
}

// Handler is the one handler shape of Nimbus: business logic only; the router does
// JSON, errors, request ids, logging and policy.
type Handler func(r *http.Request) (Response, error)
