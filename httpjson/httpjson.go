// Package httpjson writes and reads the JSON bodies of MGX's HTTP API, with the one
// error shape every handler uses: {"error": {"code": "...", "message": "..."}}.
package httpjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Write sends v as JSON with the status.
func Write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// ErrorBody is the JSON error shape.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail names the error for programs (code) and people (message).
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error sends the one error shape.
func Error(w http.ResponseWriter, status int, code, message string) {
	Write(w, status, ErrorBody{ErrorDetail{Code: code, Message: message}})
}

// Decode reads a JSON body of at most maxBytes into v, rejecting unknown fields and
// trailing data. On failure it has already answered 400 or 413 and returns the error.
func Decode(w http.ResponseWriter, r *http.Request, v any, maxBytes int64) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		err := fmt.Errorf("content type %q: want application/json", ct)
		Error(w, http.StatusUnsupportedMediaType, "unsupported_media_type", err.Error())
		return err
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			Error(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("request body over %d bytes", maxBytes))
		case errors.Is(err, io.EOF):
			Error(w, http.StatusBadRequest, "bad_request", "request body is empty: want a JSON object")
		default:
			Error(w, http.StatusBadRequest, "bad_request", "invalid JSON body: "+err.Error())
		}
		return err
	}
	if dec.More() {
		err := errors.New("trailing data after the JSON object")
		Error(w, http.StatusBadRequest, "bad_request", err.Error())
		return err
	}
	return nil
}
