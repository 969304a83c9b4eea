package csvio

import (
	"syscall"
	"unsafe"
)

// adviseHugePages asks Linux to back the memory of s with transparent huge
// pages (madvise MADV_HUGEPAGE) before it is first written. ReadAll's
// input buffer and columns are large and written once, and on 4 KiB pages
// a fresh process spends much of its time in page faults filling them;
// 2 MiB pages take 512 times fewer. Only whole 2 MiB pages inside s are
// advised; errors are ignored, since this only changes speed.
func adviseHugePages[T any](s []T) {
	const huge = 2 << 20
	size := uintptr(cap(s)) * unsafe.Sizeof(*new(T))
	if size < 2*huge {
		return
	}
	p := unsafe.Pointer(unsafe.SliceData(s[:1]))
	start := uintptr(p)
	first := (start + huge - 1) &^ (huge - 1)
	end := (start + size) &^ (huge - 1)
	if end <= first {
		return
	}
	b := unsafe.Slice((*byte)(unsafe.Add(p, first-start)), end-first)
	_ = syscall.Madvise(b, syscall.MADV_HUGEPAGE)
}
