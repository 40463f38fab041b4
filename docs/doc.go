// Package docs holds no code: its test compiles every Go snippet of
// README.md and the guides in this directory, so that none of them drifts
// from the API. Every ```go block is a complete file: a program (package
// main) is built, a test file (a func Test...) is run.
package docs
