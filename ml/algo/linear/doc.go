// Package linear holds the linear family: multinomial logistic regression
// ("logistic_regression", Newton's method, L-BFGS for many parameters),
// ordinary least squares ("linear_regression", QR with an SVD fallback) and
// ridge regression ("ridge", Cholesky), all stored as an
// alur.data.v1.LinearModel.
package linear
