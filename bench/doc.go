// Package bench holds the load-test programs of scripts/bench.sh (see
// BENCHMARKS.md at the repository root):
//
//   - server: the app under test, serving /bare (no authentication),
//     /cached (RequireSession, default cache) and /nocache (RequireSession,
//     cache off) on one port;
//   - naive: the baseline, a per-request whoami middleware as written in
//     samples found online (forwards the whole Cookie header, http.DefaultClient);
//   - session: registers a user at a Kratos and prints a session token and
//     a browser session cookie for the load generator.
//
// All of them listen on and talk to loopback only and exit by themselves
// after -max-duration.
package bench
