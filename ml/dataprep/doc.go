// Package dataprep is alur's data preparation: it splits a table into train,
// validation and test rows, fits a transform (imputation, one-hot encoding,
// standard scaling) on the train rows only, and applies that same fitted
// transform wherever rows are turned into features, so training, evaluation
// and prediction never disagree about how a raw value becomes a number.
//
// The fitted transform is the alur.data.v1.FittedTransform message; this
// package is the only code that interprets it.
//
// The package is named dataprep, not prep, because the prep service
// (services/prep) that serves it over gRPC is package prep too: one name
// for both forced every file that uses the two to alias one of them. The
// name says what the code prepares, data, in the words this documentation
// already used; "transform" would name only one of its three jobs.
package dataprep
