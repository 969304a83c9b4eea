module github.com/alur-ml/alur/services/prep

go 1.26.0

require (
	github.com/alur-ml/alur/ml v0.0.0
	github.com/alur-ml/alur/proto v0.0.0
	github.com/alur-ml/alur/serverkit v0.0.0
)

replace github.com/alur-ml/alur/proto => ../../proto

replace github.com/alur-ml/alur/ml => ../../ml

replace github.com/alur-ml/alur/serverkit => ../../serverkit
