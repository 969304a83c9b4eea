module github.com/alur-ml/alur

go 1.26.0

require (
	github.com/alur-ml/alur/ml v0.0.0
	github.com/alur-ml/alur/proto v0.0.0
	github.com/alur-ml/alur/serverkit v0.0.0
	github.com/alur-ml/alur/services/eval v0.0.0
	github.com/alur-ml/alur/services/ingest v0.0.0
	github.com/alur-ml/alur/services/orchestrator v0.0.0
	github.com/alur-ml/alur/services/prep v0.0.0
	github.com/alur-ml/alur/services/train v0.0.0
)

replace github.com/alur-ml/alur/proto => ./proto

replace github.com/alur-ml/alur/ml => ./ml

replace github.com/alur-ml/alur/serverkit => ./serverkit

replace github.com/alur-ml/alur/services/ingest => ./services/ingest

replace github.com/alur-ml/alur/services/prep => ./services/prep

replace github.com/alur-ml/alur/services/train => ./services/train

replace github.com/alur-ml/alur/services/eval => ./services/eval

replace github.com/alur-ml/alur/services/orchestrator => ./services/orchestrator
