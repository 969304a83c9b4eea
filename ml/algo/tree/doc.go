// Package tree holds the CART decision tree ("decision_tree") and the tree
// machinery the ensembles build on: the presorted grower (Builder), the
// compact and flat forms a tree is stored and walked in, and Validate for a
// TreeModel read from the wire. The forest package grows its trees with
// Builder; the boosting package stores its trees as TreeModels and checks
// them with Validate. This package must not import either of them.
//
// # Growing
//
// CART decision trees (Breiman, Friedman, Olshen and Stone, "Classification
// and Regression Trees", 1984): binary axis-aligned splits chosen greedily to
// minimise the weighted Gini impurity (classification) or the squared error
// (regression) of the two children, grown depth first.
//
// The grower follows the presorting idea of SLIQ (Mehta, Agrawal and
// Rissanen, 1996): a tree sorts its rows by every feature once, when it
// starts (a radix sort of the rows it drew), and keeps, for each feature,
// its rows in that order with each node owning one contiguous range.
// Splitting a node partitions every feature's range
// stably in place, so children stay sorted and no node ever sorts again. A
// candidate feature is then evaluated with a single linear scan that moves
// rows from the right child to the left one, keeping running class counts
// (or target sums) and the sum of squared counts, so each row costs O(1)
// whatever the number of classes.
//
// With Config.RandomSplits (the forest package's extra_trees) a candidate
// feature is not scanned: one threshold is drawn uniformly between its
// smallest and largest value in the node, as in extremely randomized trees
// (Geurts, Ernst and Wehenkel, 2006), the split found by binary search in
// the feature's sorted range and scored with the same criterion. The draws
// come from the tree's own stream in candidate order before any parallel
// scoring, so a tree does not depend on the cores, and the threshold is
// stored exactly as the exhaustive scan stores the same gap.
//
// With the balanced hyperparameter every row also carries its class's
// weight (scikit-learn's class_weight='balanced'): the Gini impurity is
// computed on weighted class counts, leaves store weighted class
// distributions, and min_impurity_decrease compares weighted decreases,
// while min_samples_split and min_samples_leaf still count rows.
//
// # Compact trees and flat prediction arrays
//
// A random forest of fully grown trees holds millions of nodes. In the
// parallel arrays of TreeModel (feature, threshold, left, right, value,
// samples) every node costs about 50 bytes in memory and 40 on the wire,
// which made a 100-tree forest on 160000 rows weigh more than three times
// its training table. The forest therefore writes each tree into
// TreeModel.nodes, a preorder byte string documented in model.proto: the
// left child is the next node, so no child index is stored; interior nodes
// keep only their feature and threshold (in 4 bytes when it is a binary32
// number, which the forest arranges: see treeShortThreshold), and a leaf
// of an unweighted classification tree keeps its class counts as varints,
// from which its value is recomputed exactly. About 4.5 bytes a node
// remain.
//
// Prediction reads either form into a treeFlat (every node in preorder)
// and packs each tree from it (treePacked): its splits in preorder, then
// one leaf node per distinct leaf value. A tree whose thresholds are all
// binary32 numbers, as the forest's are, takes 10 bytes a split: the
// threshold's 4-byte order key, the feature and two 16-bit children; the
// rows' values are then rounded up to binary32 keys, which send every row
// the way its exact value goes, so predictions are bit for bit those of
// the decoded tree. Other trees keep the threshold's exact 8-byte key in
// a 16-byte node.
package tree
