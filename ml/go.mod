module github.com/alur-ml/alur/ml

go 1.26.0

require github.com/alur-ml/alur/proto v0.0.0

require (
	gonum.org/v1/gonum v0.17.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

replace github.com/alur-ml/alur/proto => ../proto
