package otelkratosauth_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/kratosauthtest"
	"github.com/kratosauth/kratosauth/otelkratosauth"
)

// A cache hit allocates no more with an Observer than without, both with
// the default providers (nothing set: no-ops) and with the metrics SDK
// when the request has no recording span: the counter's attribute sets
// are built once, in NewObserver.
func TestCacheHitAllocations(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	user := kratos.Login()
	hitAllocs := func(t *testing.T, opts ...kratosauth.Option) float64 {
		auth, err := kratosauth.New(kratos.URL, opts...)
		require.NoError(t, err)
		t.Cleanup(func() { _ = auth.Close() })
		h := auth.RequireSession().Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.AddCookie(user.Cookie)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r) // fills the cache
		require.Equal(t, http.StatusOK, w.Code)
		return testing.AllocsPerRun(200, func() { h.ServeHTTP(w, r) })
	}
	without := hitAllocs(t)

	defaults, err := otelkratosauth.NewObserver()
	require.NoError(t, err)
	assert.Equal(t, without, hitAllocs(t, kratosauth.WithObserver(defaults)), "default providers")

	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	sdk, err := otelkratosauth.NewObserver(otelkratosauth.WithMeterProvider(mp))
	require.NoError(t, err)
	assert.Equal(t, without, hitAllocs(t, kratosauth.WithObserver(sdk)), "metrics SDK")
}
