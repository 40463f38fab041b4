module github.com/kratosauth/kratosauth/e2e/revocation

go 1.26.0

require (
	github.com/kratosauth/kratosauth v0.1.0
	github.com/kratosauth/kratosauth/cache/redis v0.1.0
)

require (
	github.com/allegro/bigcache/v3 v3.1.0 // indirect
	github.com/redis/rueidis v1.0.79 // indirect
	golang.org/x/sync v0.25.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
)
