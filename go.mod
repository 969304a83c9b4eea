module github.com/alur-ml/alur

go 1.26.0

require (
	github.com/alur-ml/alur/proto v0.0.0
	github.com/alur-ml/alur/serverkit v0.0.0
	github.com/alur-ml/alur/services/eval v0.0.0
	github.com/alur-ml/alur/services/ingest v0.0.0
	github.com/alur-ml/alur/services/orchestrator v0.0.0
	github.com/alur-ml/alur/services/prep v0.0.0
	github.com/alur-ml/alur/services/train v0.0.0
	google.golang.org/genproto/googleapis/rpc v0.0.0-20261110000943-09e21b237f2c
	google.golang.org/grpc v1.85.0
	google.golang.org/protobuf v1.36.12
	sigs.k8s.io/yaml v1.6.0
)

require (
	github.com/alur-ml/alur/ml v0.0.0 // indirect
	go.etcd.io/bbolt v1.5.0 // indirect
	go.yaml.in/yaml/v3 v3.0.3 // indirect
	golang.org/x/net v0.60.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/text v0.42.0 // indirect
	golang.org/x/tools v0.49.0 // indirect
	gonum.org/v1/gonum v0.17.0 // indirect
)

replace github.com/alur-ml/alur/proto => ./proto

replace github.com/alur-ml/alur/ml => ./ml

replace github.com/alur-ml/alur/serverkit => ./serverkit

replace github.com/alur-ml/alur/services/ingest => ./services/ingest

replace github.com/alur-ml/alur/services/prep => ./services/prep

replace github.com/alur-ml/alur/services/train => ./services/train

replace github.com/alur-ml/alur/services/eval => ./services/eval

replace github.com/alur-ml/alur/services/orchestrator => ./services/orchestrator
