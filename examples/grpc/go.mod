module github.com/udskit/uds/examples/grpc

go 1.25.0

require (
	github.com/udskit/uds v0.0.0
	github.com/udskit/uds/grpcuds v0.0.0
	golang.org/x/sys v0.47.0
	google.golang.org/grpc v1.84.0
)

require (
	github.com/hashicorp/errwrap v1.0.0 // indirect
	github.com/hashicorp/go-multierror v1.1.1 // indirect
	golang.org/x/net v0.58.0 // indirect
	golang.org/x/text v0.41.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20260706201446-f0a921348800 // indirect
	google.golang.org/protobuf v1.36.11 // indirect
)

replace (
	github.com/udskit/uds => ../..
	github.com/udskit/uds/grpcuds => ../../grpcuds
)
