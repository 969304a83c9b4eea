// Package forest holds the random forest ("random_forest") and extremely
// randomized trees ("extra_trees"). Both grow their trees with the tree
// package's Builder, store them in the compact form and predict alike;
// their models are the same Model.forest message.
//
// Random forests (Breiman, "Random Forests", Machine Learning 45, 2001):
// CART trees grown on bootstrap samples, each split choosing among a random
// subset of the features, with predictions averaged over the trees.
//
// Extremely randomized trees (Geurts, Ernst and Wehenkel, "Extremely
// randomized trees", Machine Learning 63(1), 2006), as scikit-learn's
// ExtraTreesClassifier and ExtraTreesRegressor: by default each tree sees
// every row, and each split draws one threshold per candidate feature
// uniformly between the feature's extremes in the node, keeping the best
// of those draws (tree.Config.RandomSplits). Fitting skips the search for
// the best threshold, and the extra randomness makes the trees' errors
// less correlated, which the average turns into lower variance.
package forest
