module github.com/kratosauth/kratosauth

go 1.26.0

require (
	github.com/allegro/bigcache/v3 v3.1.0 // indirect
	github.com/go-chi/chi/v5 v5.5.0 // indirect
	github.com/stretchr/testify v1.12.1 // indirect
	go.uber.org/goleak v1.3.0 // indirect
	golang.org/x/net v0.51.0 // indirect
	golang.org/x/sync v0.25.0 // indirect
)
