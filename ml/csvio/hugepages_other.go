//go:build !linux

package csvio

// adviseHugePages does nothing outside Linux.
func adviseHugePages[T any](s []T) {}
