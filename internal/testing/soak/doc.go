// Package soak holds the load and soak test of kratosauth against a real
// Ory Kratos (internal/testing/kratostest): many identities with valid, invalid,
// revoked and expiring sessions hit an app protected by
// kratoshttp.RequireSession while Kratos is restarted in the middle.
//
// A short run (35 s) is part of every `go test`. The long run:
//
//	SOAK_DURATION=10m go test ./internal/testing/soak -run TestSoak -v -timeout 30m
//
// SOAK_RPS sets the offered load (requests per second, default 400).
package soak
