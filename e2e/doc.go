// Package e2e holds kratosauth's end-to-end tests: the net/http, chi and
// gin adapters run the same table against a real Ory Kratos (each
// version make test runs: KRATOS_VERSION)
// (internal/testing/kratostest), through a recording reverse proxy that shows what
// the library sends to Kratos. TestRPC guards a gRPC server and a Connect
// handler with a real Kratos too.
//
// TestPermissionsThroughExamples runs the example apps' binaries against
// Kratos and a real Ory Keto v0.13 (internal/testing/ketotest), writing relation
// tuples through Keto's write API.
//
// The tests are skipped when the Kratos or Keto binary is missing, unless
// KRATOSAUTH_E2E=1 (scripts/test.sh), which makes them fail instead:
//
//	scripts/kratos.sh build && scripts/keto.sh build
//	cd e2e && go test -race ./...
package e2e
