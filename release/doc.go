// Package release holds the release checks of kratosauth's modules, as
// tests: TestInstall installs the root module, adapters/gin and
// otelkratosauth from module zips of this work tree, as a user's `go get`
// would (see RELEASING.md).
//
// It is a module of its own so that golang.org/x/mod, which builds the
// zips, never enters the dependency graph of the modules users install.
package release
