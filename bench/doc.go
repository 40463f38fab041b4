// Package bench holds the load-test programs of scripts/bench.sh (see
// BENCHMARKS.md at the repository root):
//
//   - bare: the bare case of the app-level comparison for examples/nethttp:
//     the example app whose /api/me writes the same JSON without
//     RequireSession; bare/chi and bare/gin (built as files in the
//     workspace, as they need OpenTelemetry and gin, which the root module
//     must not require) are the same for examples/chi and examples/gin;
//   - naive: the baseline, a per-request whoami middleware as written in
//     samples found online (forwards the whole Cookie header, http.DefaultClient),
//     serving the same /api/me;
//   - server: /bare, /cached and /nocache in one process (the earlier load
//     cases, still available through LOAD_CASES);
//   - session: registers a user at a Kratos and prints a session token and
//     a browser session cookie for the load generator;
//   - many: the many-sessions load test of scripts/bench-many.sh (also run
//     by make bench; BENCHMARKS.md, "Many sessions on one replica").
//
// All of them listen on and talk to loopback only and exit by themselves
// after -max-duration.
package bench
