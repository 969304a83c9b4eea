// Package forest holds the random forest ("random_forest"). It grows its
// trees with the tree package's Builder and stores them in the compact form.
//
// Random forests (Breiman, "Random Forests", Machine Learning 45, 2001):
// CART trees grown on bootstrap samples, each split choosing among a random
// subset of the features, with predictions averaged over the trees.
package forest
