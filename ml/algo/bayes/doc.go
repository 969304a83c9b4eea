// Package bayes holds Gaussian naive Bayes ("naive_bayes"; see e.g. Hastie,
// Tibshirani & Friedman, The Elements of Statistical Learning, §6.6.3),
// following scikit-learn's GaussianNB.
package bayes
