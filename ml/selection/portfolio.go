package selection

// Portfolio lists the configurations a default run cross-validates next to
// every algorithm's defaults, before any search: settings that do well on
// different kinds of data than the defaults do, so that ensemble selection
// has strong and diverse members from the start (the zero-shot portfolios
// of AutoGluon and auto-sklearn 2.0 follow the same idea). Each entry is
// tried only when the catalog has its algorithm and it supports the task.
//
// Gradient boosting's defaults are XGBoost's (learning rate 0.3, depth 6,
// 64 leaves, L2 1), which suit larger data; scikit-learn's
// HistGradientBoosting defaults (learning rate 0.1, 31 leaves, no depth
// limit, no L2) fit smaller and noisier data better, and neither wins on
// every set, so both are tried.
var Portfolio = []Config{
	{Algorithm: "gradient_boosting", Params: map[string]float64{
		"learning_rate": 0.1, "max_leaf_nodes": 31, "max_depth": 0, "l2_regularization": 0,
	}},
}

// PortfolioFor returns the portfolio entries of algorithm, in order, each
// with its own copy of the params.
func PortfolioFor(algorithm string) []map[string]float64 {
	var out []map[string]float64
	for _, c := range Portfolio {
		if c.Algorithm == algorithm {
			out = append(out, copyParams(c.Params))
		}
	}
	return out
}
