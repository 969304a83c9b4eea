package display

// metricHelp explains each metric in a phrase, for the report's "metrics
// explained" and the orchestrator's ListMetrics.
var metricHelp = map[string]string{
	"accuracy":    "share of test rows classified correctly",
	"f1_macro":    "balance of precision and recall, averaged over classes equally",
	"f1_weighted": "balance of precision and recall, averaged over classes by size",
	"roc_auc":     "chance that a random row of a class scores above a random other row",
	"log_loss":    "penalty for confident wrong probabilities; lower is better",
	"r2":          "share of the label's variance explained; 1 is perfect, 0 is guessing the mean",
	"rmse":        "typical error, in label units, penalising large misses; lower is better",
	"mae":         "average absolute error, in label units; lower is better",

	"precision_macro":    "share of rows flagged as a class that are right, averaged over classes equally",
	"precision_weighted": "share of rows flagged as a class that are right, averaged over classes by size",
	"recall_macro":       "share of each class that is found, averaged over classes equally",
	"recall_weighted":    "share of each class that is found, averaged over classes by size (equals accuracy)",
}

// MetricHelp explains a metric in a phrase ("share of test rows
// classified correctly"); "" for a name it does not know.
func MetricHelp(name string) string { return metricHelp[name] }
