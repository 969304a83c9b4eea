package main

import (
	"errors"
	"fmt"
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
