module github.com/alur-ml/alur/serverkit

go 1.26.0

require github.com/alur-ml/alur/proto v0.0.0

replace github.com/alur-ml/alur/proto => ../proto
