// Package browser holds the browser end-to-end test of kratosauth: headless
// Chromium (Debian's chromium package, driven with chromedp) against a real
// Ory Kratos and the real examples/chi app. See browser_test.go.
package browser
