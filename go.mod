module github.com/kratosauth/kratosauth

go 1.26.0

require (
	github.com/VictoriaMetrics/fastcache v1.13.2
	github.com/allegro/bigcache/v3 v3.1.0
	github.com/go-chi/chi/v5 v5.5.0
	github.com/stretchr/testify v1.12.1
	go.uber.org/goleak v1.3.0
	golang.org/x/net v0.51.0
	golang.org/x/sync v0.25.0
	golang.org/x/sys v0.41.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/golang/snappy v1.0.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)
