package main

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// rpcError is an error returned by a call to the orchestrator, with the
// address called, so that Unavailable can say which server was not there.
type rpcError struct {
	addr   string
	method string
	err    error
}

func (e *rpcError) Error() string { return e.method + ": " + e.err.Error() }
func (e *rpcError) Unwrap() error { return e.err }

// codeWords names the status codes the way people say them, for messages
// such as "alur: invalid argument: spec.label: ...".
var codeWords = map[codes.Code]string{
	codes.Canceled:           "cancelled",
	codes.Unknown:            "unknown error",
	codes.InvalidArgument:    "invalid argument",
	codes.DeadlineExceeded:   "deadline exceeded",
	codes.NotFound:           "not found",
	codes.AlreadyExists:      "already exists",
	codes.PermissionDenied:   "permission denied",
	codes.ResourceExhausted:  "resource exhausted",
	codes.FailedPrecondition: "failed precondition",
	codes.Aborted:            "aborted",
	codes.OutOfRange:         "out of range",
	codes.Unimplemented:      "unimplemented",
	codes.Internal:           "internal error",
	codes.Unavailable:        "unavailable",
	codes.DataLoss:           "data loss",
	codes.Unauthenticated:    "unauthenticated",
}

// formatError renders err for stderr, prefixed "alur: ". gRPC statuses are
// shown as "<code in words>: <message>", followed by any field violations
// from google.rpc.BadRequest (and precondition violations) that the message
// does not already say. Unavailable from the orchestrator says how to start
// one.
func formatError(err error) string {
	var rerr *rpcError
	var ended *runEndedError
	switch {
	case errors.As(err, &ended):
		return "alur: " + ended.Error()
	case errors.As(err, &rerr):
		st, ok := status.FromError(rerr.err)
		if !ok {
			return "alur: " + err.Error()
		}
		return formatStatus(st, rerr.addr)
	}
	if st, ok := status.FromError(err); ok && st.Code() != codes.Unknown {
		return formatStatus(st, "")
	}
	return "alur: " + err.Error()
}

// formatStatus renders one gRPC status; addr is the server that answered
// (empty when unknown).
func formatStatus(st *status.Status, addr string) string {
	var b strings.Builder
	switch st.Code() {
	case codes.Unavailable:
		if addr != "" {
			fmt.Fprintf(&b, "alur: cannot reach the orchestrator at %s: is `alur dev` running?", addr)
			if msg := st.Message(); msg != "" {
				fmt.Fprintf(&b, "\n  (%s)", msg)
			}
			return b.String()
		}
	case codes.DeadlineExceeded:
		fmt.Fprintf(&b, "alur: deadline exceeded: %s (raise --timeout for slow calls)", st.Message())
		return b.String()
	}
	words, ok := codeWords[st.Code()]
	if !ok {
		words = strings.ToLower(st.Code().String())
	}
	msg := st.Message()
	if msg == "" {
		fmt.Fprintf(&b, "alur: %s", words)
	} else {
		fmt.Fprintf(&b, "alur: %s: %s", words, msg)
	}
	for _, line := range detailLines(st) {
		if strings.Contains(msg, line) {
			continue
		}
		fmt.Fprintf(&b, "\n  %s", line)
	}
	return b.String()
}

// detailLines lists the human-relevant parts of a status's details: field
// violations as "field: description", precondition violations as
// "subject: description", and quota violations likewise.
func detailLines(st *status.Status) []string {
	var lines []string
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				lines = append(lines, joinNonEmpty(v.GetField(), v.GetDescription()))
			}
		case *errdetails.PreconditionFailure:
			for _, v := range d.GetViolations() {
				lines = append(lines, joinNonEmpty(v.GetSubject(), v.GetDescription()))
			}
		case *errdetails.QuotaFailure:
			for _, v := range d.GetViolations() {
				lines = append(lines, joinNonEmpty(v.GetSubject(), v.GetDescription()))
			}
		}
	}
	return lines
}

func joinNonEmpty(subject, description string) string {
	switch {
	case subject == "":
		return description
	case description == "":
		return subject
	}
	return subject + ": " + description
}

// fieldFlags maps the last part of an API field path, as servers name it
// in errors (spec.source.csv.categorical_columns[0], max_bad_rows), to the
// CLI flag that sets it, so that an error names what the user typed. It is
// the one table of that mapping; a flag that sets a field belongs here.
var fieldFlags = map[string]string{
	"categorical_columns": "--categorical",
	"max_bad_rows":        "--max-bad-rows",
	"delimiter":           "--delimiter",
	"split_column":        "--split-column",
	"max_trials":          "--max-trials",
	"label":               "--label",
	"metric":              "--metric",
	"target":              "--target",
	"seed":                "--seed",
	"task":                "--task",
	"candidates":          "--algorithms",
	"algorithm":           "--algorithms",
	"upload":              "--csv",
	"dataset":             "--dataset",
}

// fieldPath matches a field path: snake_case names joined by dots, each
// with optional [index] or ["key"] subscripts.
var fieldPath = regexp.MustCompile(`\b[a-z][a-z0-9_]*(?:\[[^\]\s]*\])*(?:\.[a-z][a-z0-9_]*(?:\[[^\]\s]*\])*)*`)

// flagNames rewrites the API field paths in an error message into the
// flags that set them ("list the column in csv.categorical_columns" →
// "list the column in --categorical"). A bare word without a dot or an
// underscore ("label", "metric") is prose, not a path, and stays.
func flagNames(msg string) string {
	return fieldPath.ReplaceAllStringFunc(msg, func(path string) string {
		if !strings.ContainsAny(path, "._") {
			return path
		}
		parts := strings.Split(path, ".")
		last := parts[len(parts)-1]
		if i := strings.IndexByte(last, '['); i >= 0 {
			last = last[:i]
		}
		if f, ok := fieldFlags[last]; ok {
			return f
		}
		return path
	})
}

// specFileGiven reports whether the command line gives a spec file (-f):
// then the user wrote the API's field names, and errors keep them.
func specFileGiven(args []string) bool {
	for _, a := range args {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && name == "f" {
			return true
		}
	}
	return false
}
