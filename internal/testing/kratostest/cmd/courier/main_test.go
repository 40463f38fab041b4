package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The mailbox prints a message's recipient, template and code, and
// refuses what is not a message.
func TestHandler(t *testing.T) {
	var out strings.Builder
	h := handler(&out)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/messages", strings.NewReader(
		`{"recipient":"ada@example.com","subject":"Recover access","template_type":"recovery_code_valid","template_data":{"recovery_code":"123456"}}`)))
	if rec.Code != http.StatusNoContent {
		t.Fatalf("status %d", rec.Code)
	}
	for _, want := range []string{"to=ada@example.com", "template=recovery_code_valid", "code=123456"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("printed %q, want %q in it", out.String(), want)
		}
	}
	for _, req := range []*http.Request{
		httptest.NewRequest(http.MethodPost, "/messages", strings.NewReader("not json")),
		httptest.NewRequest(http.MethodGet, "/messages", nil),
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code < 400 {
			t.Errorf("%s %s: %d", req.Method, req.URL, rec.Code)
		}
	}
}
