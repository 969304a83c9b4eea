// Package knn holds k-nearest neighbours ("knn"; Cover & Hart, "Nearest
// neighbor pattern classification", 1967) with an exact brute-force
// Euclidean search.
//
// # Search
//
// Technique: screen-and-verify ("filter and refine") search. Every query is
// first compared with every training row through the cheap expansion
//
//	a(q, p) = ‖p′‖² − 2 q′·p′      (= ‖q′ − p′‖² − ‖q′‖²),
//
// where q′ and p′ are the rows less the training mean (which keeps the
// norms, and so the cancellation error, small), computed a block of
// queries × a panel of training rows at a time by a
// register-blocked micro-kernel (in the style of Goto & van de Geijn,
// "Anatomy of high-performance matrix multiplication", ACM TOMS 2008) that
// is fused with the selection: the kernel compares each value with the
// query's current screening threshold and only rows under it leave the
// kernel, so the full distance matrix never exists. The expansion is not
// the reference distance, so it is only used to screen: a rigorous
// forward-error bound (Higham, "Accuracy and Stability of Numerical
// Algorithms", 2nd ed., §3.1, γ_n = nu/(1−nu)) widens the threshold until
// every row that can be among the k nearest by the reference distance is
// kept, and the surviving candidates are ranked by the reference distance
// knnExactDist with ties going to the earlier training row. The neighbour
// set is therefore exactly that of the textbook scan, whichever kernel
// (AVX-512, AVX2 or portable Go) did the screening. Where the bound cannot
// screen (squared norms beyond 2¹⁰⁰⁰, or so many candidates that the data
// are too ill-conditioned for the expansion), the search falls back to
// that scan itself.
package knn
