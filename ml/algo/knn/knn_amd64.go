//go:build amd64 && !purego

package knn

import "golang.org/x/sys/cpu"

// knnArchKernels returns the assembly screening kernels this CPU supports,
// fastest first: 8 queries × 16 rows on AVX-512 (32 vector registers), 4 ×
// 8 on AVX2 with FMA.
func knnArchKernels() []*knnKernel {
	var ks []*knnKernel
	if cpu.X86.HasAVX512F {
		ks = append(ks, &knnKernel{name: "avx512", mr: 8, nr: 16, screen: knnScreenAVX512})
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, &knnKernel{name: "avx2", mr: 4, nr: 8, screen: knnScreenAVX2})
	}
	return ks
}

// knnScreenAVX512 checks the buffer sizes the assembly relies on and runs
// knnScreen8x16AVX512.
func knnScreenAVX512(qpack, panels, pn []float64, npanels, d int, thr, out []float64, masks []uint32) int {
	knnCheckScreenArgs(8, 16, qpack, panels, pn, npanels, d, thr, out, masks)
	return knnScreen8x16AVX512(&qpack[0], &panels[0], &pn[0], npanels, d, &thr[0], &out[0], &masks[0])
}

// knnScreenAVX2 checks the buffer sizes the assembly relies on and runs
// knnScreen4x8AVX2.
func knnScreenAVX2(qpack, panels, pn []float64, npanels, d int, thr, out []float64, masks []uint32) int {
	knnCheckScreenArgs(4, 8, qpack, panels, pn, npanels, d, thr, out, masks)
	return knnScreen4x8AVX2(&qpack[0], &panels[0], &pn[0], npanels, d, &thr[0], &out[0], &masks[0])
}

// knnCheckScreenArgs panics on buffers too short for an mr × nr kernel, an
// internal invariant of knnIndex.screenBlock that keeps the assembly from
// touching memory outside them.
func knnCheckScreenArgs(mr, nr int, qpack, panels, pn []float64, npanels, d int, thr, out []float64, masks []uint32) {
	if npanels < 1 || d < 1 || len(qpack) < d*mr || len(panels) < npanels*d*nr || len(pn) < npanels*nr ||
		len(thr) < mr || len(out) < mr*nr || len(masks) < mr {
		panic("knn: screening kernel buffers too short")
	}
}

// knnScreen8x16AVX512 is the AVX-512 kernel described at knnKernel.screen,
// with mr = 8 and nr = 16.
//
//go:noescape
func knnScreen8x16AVX512(qpack, panels, pn *float64, npanels, d int, thr, out *float64, masks *uint32) int

// knnScreen4x8AVX2 is the AVX2/FMA kernel described at knnKernel.screen,
// with mr = 4 and nr = 8.
//
//go:noescape
func knnScreen4x8AVX2(qpack, panels, pn *float64, npanels, d int, thr, out *float64, masks *uint32) int
