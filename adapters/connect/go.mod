module github.com/kratosauth/kratosauth/adapters/connect

go 1.26.0

require (
	connectrpc.com/connect v1.21.1
	github.com/kratosauth/kratosauth v0.1.0
	github.com/stretchr/testify v1.12.1
	google.golang.org/genproto/googleapis/rpc v0.0.0-20261110000943-09e21b237f2c
)

require go.yaml.in/yaml/v3 v3.0.5 // indirect

require (
	github.com/allegro/bigcache/v3 v3.1.0 // indirect
	golang.org/x/sync v0.25.0 // indirect
	google.golang.org/protobuf v1.36.12
)
