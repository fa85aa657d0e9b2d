package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// DecodeJSON reads the request body into dst. Oversized bodies answer 413, malformed
// JSON or wrong types 400, with a message naming what was wrong.
func DecodeJSON(r *http.Request, dst any) error {
	if r.Body == nil {
		return BadRequest("The request body is empty; a JSON object was expected.")
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return TooLarge("Request is too large.")
		}
		return BadRequest("Could not read the request body: %v", err)
	}
	return DecodeJSONBytes(data, dst)
}

// DecodeJSONBytes decodes data into dst with DecodeJSON's error mapping.
func DecodeJSONBytes(data []byte, dst any) error {
	if len(strings.TrimSpace(string(data))) == 0 {
		return BadRequest("The request body is empty; a JSON object was expected.")
	}
	if err := json.Unmarshal(data, dst); err != nil {
		var typeErr *json.UnmarshalTypeError
		var syntaxErr *json.SyntaxError
		switch {
		case errors.As(err, &typeErr):
			field := typeErr.Field
			if field == "" {
				field = "body"
			}
			return BadRequest("Invalid input for field '%s': expected %s, got %s.", field, typeName(typeErr.Type.String()), typeErr.Value)
		case errors.As(err, &syntaxErr):
			return BadRequest("Malformed JSON in request body at offset %d.", syntaxErr.Offset)
		default:
			return BadRequest("Malformed request body: %v", err)
		}
	}
	return nil
}

func typeName(goType string) string {
	switch {
	case strings.HasPrefix(goType, "map["), strings.HasPrefix(goType, "struct"), strings.Contains(goType, "."):
		return "object"
	case strings.HasPrefix(goType, "[]"):
		return "array"
	case goType == "*string", goType == "string":
		return "string"
	case goType == "*bool", goType == "bool":
		return "boolean"
	case strings.Contains(goType, "int"), strings.Contains(goType, "float"):
		return "number"
	}
	return fmt.Sprint(goType)
}
