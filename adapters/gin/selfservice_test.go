package kratosgin_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/kratosauth/kratosauth"
	kratosgin "github.com/kratosauth/kratosauth/adapters/gin"
	"github.com/kratosauth/kratosauth/selfservice"
)

func TestRegisterSelfService(t *testing.T) {
	gin.SetMode(gin.TestMode)
	// A Kratos that knows no flow: pages redirect to fresh flows, logout
	// goes home.
	kratos := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/self-service/logout/browser" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"code":401,"id":"session_inactive"}}`))
			return
		}
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":{"code":404}}`))
	}))
	defer kratos.Close()
	auth, err := kratosauth.New(kratos.URL, kratosauth.WithAppURL("https://app.example.com"))
	if err != nil {
		t.Fatal(err)
	}
	defer auth.Close()

	for _, tc := range []struct {
		name, basePath, group string
	}{
		{"engine", "", ""},
		{"group", "/auth", "/auth"},
		{"engine with base path", "/auth", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ui, err := selfservice.New(auth, selfservice.WithBasePath(tc.basePath))
			if err != nil {
				t.Fatal(err)
			}
			engine := gin.New()
			var r gin.IRoutes = engine
			if tc.group != "" {
				r = engine.Group(tc.group)
			}
			kratosgin.RegisterSelfService(r, ui)

			for _, kind := range []selfservice.Kind{selfservice.Login, selfservice.Registration, selfservice.Settings, selfservice.Verification, selfservice.Recovery} {
				w := httptest.NewRecorder()
				engine.ServeHTTP(w, httptest.NewRequest(http.MethodGet, tc.basePath+"/"+string(kind)+"?return_to=/x", nil))
				want := kratos.URL + "/self-service/" + string(kind) + "/browser?return_to=https%3A%2F%2Fapp.example.com%2Fx"
				if w.Code != http.StatusSeeOther || w.Header().Get("Location") != want {
					t.Errorf("GET %s: %d %q, want 303 %q", kind, w.Code, w.Header().Get("Location"), want)
				}
			}
			w := httptest.NewRecorder()
			engine.ServeHTTP(w, httptest.NewRequest(http.MethodPost, tc.basePath+"/logout", nil))
			if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "https://app.example.com/" {
				t.Errorf("POST logout: %d %q", w.Code, w.Header().Get("Location"))
			}
			w = httptest.NewRecorder()
			engine.ServeHTTP(w, httptest.NewRequest(http.MethodGet, tc.basePath+"/error", nil))
			if w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), "<html") {
				t.Errorf("GET error: %d", w.Code)
			}
			w = httptest.NewRecorder()
			engine.ServeHTTP(w, httptest.NewRequest(http.MethodPost, tc.basePath+"/login", nil))
			if w.Code != http.StatusMethodNotAllowed {
				t.Errorf("POST login: %d", w.Code)
			}
		})
	}

	t.Run("group outside the base path panics", func(t *testing.T) {
		ui, _ := selfservice.New(auth)
		defer func() {
			if recover() == nil {
				t.Error("no panic")
			}
		}()
		kratosgin.RegisterSelfService(gin.New().Group("/other"), ui)
	})
}
