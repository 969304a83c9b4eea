//go:build !amd64 || purego

package knn

// knnArchKernels returns no assembly kernels off amd64 or with the purego
// build tag: the portable Go kernel screens alone.
func knnArchKernels() []*knnKernel { return nil }
