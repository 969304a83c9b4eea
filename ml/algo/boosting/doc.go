// Package boosting holds histogram-based gradient boosting of regression
// trees ("gradient_boosting") and the feature binning it runs on. Its trees
// are alur.data.v1.TreeModels, checked and walked with the tree package.
//
// # Gradient boosting
//
// Gradient boosting (Friedman, "Greedy Function Approximation: A Gradient
// Boosting Machine", Annals of Statistics 29(5), 2001) adds, round after
// round, a regression tree fitted to the loss's gradients at the current
// raw scores. As in XGBoost (Chen and Guestrin, KDD 2016) and LightGBM (Ke
// et al., "LightGBM: A Highly Efficient Gradient Boosting Decision Tree",
// NeurIPS 2017) each tree is a Newton step: with G and H the sums of the
// gradients and hessians of a node's rows, a leaf outputs −G/(H+λ) and a
// split gains G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ). The shrinkage
// (learning rate) is folded into the leaf values.
//
// The grower follows LightGBM and scikit-learn's HistGradientBoosting:
// features are binned once (binning.go) so that finding a node's best split
// costs one pass over its rows per feature to fill a histogram of at most
// 256 bins, then one pass over the bins. Trees grow best-first (the leaf
// with the largest gain is split next) up to max_leaf_nodes leaves. A split
// builds the histogram of its smaller child only and derives the larger
// child's as parent − smaller (the subtraction trick), in the parent's
// buffer. Every node owns a contiguous range of one row-index array that is
// partitioned stably in place, so child rows stay in ascending order and
// read the bin codes nearly sequentially.
//
// Missing values (NaN) share bin 0 with −Inf and always go left, during
// training and in prediction, as TreeModel documents. The grower does not
// learn a direction for them (LightGBM and scikit-learn do), so that the
// model needs no field beyond TreeModel's; a split may still isolate them:
// "bin 0 goes left" is stored as threshold −Inf.
//
// Losses: squared error for regression (base score the mean); the logistic
// loss with one output for two classes (base score the log-odds of class
// 1); the softmax (multinomial) loss with one tree per class and round for
// more classes (base scores the log class priors).
//
// Defaults: XGBoost's capacity (learning rate 0.3, trees of depth at most 6
// with up to 64 leaves, L2 penalty 1, 100 rounds) with scikit-learn's
// safeguards (at least 20 rows a leaf, early stopping on above 10000 rows).
// On the benchmark's classification data (bench/README.md) these are at
// least as accurate as XGBoost's defaults, where scikit-learn's defaults
// (learning rate 0.1, 31 leaves, no depth limit, no penalty) were about a
// point less accurate in 100 rounds. scikit-learn's are one parameter set
// away: learning_rate 0.1, max_leaf_nodes 31, max_depth 0,
// l2_regularization 0.
//
// Early stopping, as in scikit-learn, holds out a (stratified) share of the
// rows, tracks the loss on them after every round, stops once it has not
// improved by tol for n_iter_no_change rounds, and keeps the rounds up to
// the lowest validation loss.
//
// Work is spread over GOMAXPROCS goroutines at two levels: the trees of a
// multiclass round grow concurrently (each on its own grower), and large
// nodes build their histograms across features, one goroutine owning a
// feature's whole histogram. Per-row passes are split into fixed chunks
// whose sums are merged in chunk order. A model therefore does not depend
// on GOMAXPROCS.
//
// # Feature binning
//
// Feature binning for histogram-based tree learners (Ke et al., "LightGBM:
// A Highly Efficient Gradient Boosting Decision Tree", NeurIPS 2017; the
// same scheme as scikit-learn's HistGradientBoosting). Each feature's
// values are cut into at most max_bins ranges at quantiles of the training
// data, and every value is replaced by the one-byte index of its range, so
// that a tree grower sums gradients into a few hundred histogram bins
// instead of sorting rows.
//
// Bin 0 of every feature holds the missing values (NaN) together with -Inf:
// a tree splits "bins <= b go left", so bin 0 always goes left, which is
// where prediction sends a NaN, and -Inf goes left of every threshold too.
// Bins 1..len(edges)+1 hold the other values: a value x goes to bin
// 1 + #{e in edges : e < x}. Split "bins <= b" therefore reads, on raw
// values, "x <= edges[b-1]" (or "x <= -Inf" for b = 0), which is exactly the
// TreeModel rule: a model predicts raw floats without the bin edges and
// routes every training row the way the binned grower did.
package boosting
