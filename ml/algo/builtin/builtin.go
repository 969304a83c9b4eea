// Package builtin registers every algorithm that alur ships. A binary that
// trains or predicts imports it for its side effect:
//
//	import _ "github.com/alur-ml/alur/ml/algo/builtin"
//
// Each algorithm package registers its own Spec (name, tasks,
// hyperparameter schema, Fit and Predict) with algo.Register from an init
// function, as database/sql drivers and image decoders do: the schema is
// declared next to the code that reads it, and a package's own tests see
// it registered without any setup. This file is the one place that lists
// which packages are compiled in, so adding an algorithm means writing its
// package and adding one line here.
package builtin

import (
	_ "github.com/alur-ml/alur/ml/algo/bayes"    // naive_bayes
	_ "github.com/alur-ml/alur/ml/algo/boosting" // gradient_boosting
	_ "github.com/alur-ml/alur/ml/algo/forest"   // random_forest, extra_trees
	_ "github.com/alur-ml/alur/ml/algo/knn"      // knn
	_ "github.com/alur-ml/alur/ml/algo/linear"   // logistic_regression, linear_regression, ridge
	_ "github.com/alur-ml/alur/ml/algo/tree"     // decision_tree
)
