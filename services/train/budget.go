package train

import (
	"fmt"

	"github.com/alur-ml/alur/serverkit"
)

// MaxBoostingLeaves bounds max_iter × max_leaf_nodes of gradient boosting:
// the leaves the rounds may grow in all (times the classes beyond two,
// which are not known before the table). 100 rounds of 31 leaves, the
// defaults, are 3 100; the bound allows 1 000 rounds of 1 000 leaves. The
// parameters' own maxima (100 000 rounds, 65 536 leaves) together once
// asked for about seven hours and tens of GB; such a request is now
// refused before the table is streamed.
const MaxBoostingLeaves = 1 << 20

// checkBudget refuses hyperparameters that are each within their range but
// together ask for more work than the server allows, naming the field and
// the limit.
func checkBudget(vc *validConfig) error {
	if vc.spec.Name == "gradient_boosting" {
		iters, leaves := vc.params["max_iter"], vc.params["max_leaf_nodes"]
		if iters*leaves > MaxBoostingLeaves {
			return serverkit.InvalidArgument(`config.params["max_iter"]`, fmt.Sprintf(
				"max_iter × max_leaf_nodes = %.0f × %.0f = %.0f leaves, above this server's limit of %d: lower max_iter or max_leaf_nodes",
				iters, leaves, iters*leaves, MaxBoostingLeaves))
		}
	}
	return nil
}

// checkRows refuses hyperparameters that cannot make sense for the rows
// received: k-NN's k beyond the training rows would make every prediction
// the average of the whole training set.
func checkRows(vc *validConfig, rows int) error {
	if vc.spec.Name == "knn" {
		if k := vc.params["k"]; k > float64(rows) {
			return serverkit.InvalidArgument(`config.params["k"]`, fmt.Sprintf(
				"k = %.0f is more than the %d training rows: k must be at most the number of rows", k, rows))
		}
	}
	return nil
}
