package kratosauth_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/kratosauth/kratosauth"
	kratoshttp "github.com/kratosauth/kratosauth/adapters/nethttp"
)

// The edge of the two-service picture: whoami returns the session as a JWT
// (WithTokenizeAs), and the handler's calls to the downstream service carry
// it as a bearer token (TokenTransport), so that the service verifies the
// user without calling Kratos.
func ExampleNewTokenTransport() {
	// Stand-ins: Kratos answering whoami?tokenize_as=orders, and a
	// downstream service that shows what it receives.
	kratos := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"id":"5f1c","active":true,"expires_at":"2099-01-01T00:00:00Z",
			"identity":{"id":"9a2b"},"tokenized":"eyJhbGciOiJFUzI1NiJ9.%s.sig"}`, r.URL.Query().Get("tokenize_as"))
	}))
	defer kratos.Close()
	orders := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "orders got ", r.Header.Get("Authorization"))
	}))
	defer orders.Close()

	auth, err := kratosauth.New(kratos.URL, kratosauth.WithTokenizeAs("orders"))
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Close()
	transport, err := kratosauth.NewTokenTransport(nil, orders.URL) // the token goes there only
	if err != nil {
		log.Fatal(err)
	}
	client := &http.Client{Transport: transport}

	edge := kratoshttp.RequireSession(auth)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// r.Context() carries the session, and so its token.
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, orders.URL+"/api/orders", nil)
		resp, err := client.Do(req)
		if err != nil {
			http.Error(w, "orders unavailable", http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		_, _ = io.Copy(w, resp.Body)
	}))

	r := httptest.NewRequest(http.MethodGet, "/orders", nil)
	r.Header.Set("X-Session-Token", "ory_st_example")
	w := httptest.NewRecorder()
	edge.ServeHTTP(w, r)
	fmt.Println(w.Body.String())
	// Output: orders got Bearer eyJhbGciOiJFUzI1NiJ9.orders.sig
}
