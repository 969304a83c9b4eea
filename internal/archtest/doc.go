// Package archtest holds the test that enforces the import rules drawn in
// docs/DESIGN.md ("Who may import whom"): it lists every package of every
// module in the workspace with go list and fails on an import a rule
// forbids. It has no code of its own.
package archtest
