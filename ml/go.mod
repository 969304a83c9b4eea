module github.com/alur-ml/alur/ml

go 1.26.0

require github.com/alur-ml/alur/proto v0.0.0

require google.golang.org/protobuf v1.36.12 // indirect

replace github.com/alur-ml/alur/proto => ../proto
