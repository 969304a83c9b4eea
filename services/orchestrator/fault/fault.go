package fault

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The kinds of failure. Test them with errors.Is; every *Error is exactly
// one of them.
var (
	// ErrStageUnavailable: a stage service could not be reached. The step
	// is retried for a while, then the run fails.
	ErrStageUnavailable = errors.New("stage unavailable")
	// ErrDataLoss: stored bytes are missing or corrupt. The run cannot go on.
	ErrDataLoss = errors.New("data loss")
	// ErrCancelled: the work was cancelled, by a client or a shutdown.
	ErrCancelled = errors.New("cancelled")
	// ErrDeadline: a stage call ran out of time.
	ErrDeadline = errors.New("deadline exceeded")
	// ErrRejected: a stage refused the input (a bad option, data that
	// cannot work). Only the candidate that sent it fails.
	ErrRejected = errors.New("rejected")
	// ErrInternal: a bug or an unexpected failure.
	ErrInternal = errors.New("internal")
)

// Error is a failure of one kind with the gRPC status it came with (from a
// stage) or will be answered with (to a client).
type Error struct {
	kind error
	st   *status.Status
}

// Error returns the status message, without the code.
func (e *Error) Error() string { return e.st.Message() }

// Is reports whether target is the error's kind, so errors.Is(err,
// ErrDataLoss) works through wrapping.
func (e *Error) Is(target error) bool { return target == e.kind }

// GRPCStatus lets grpc's status package, and so every handler, answer with
// the status the error carries, details included.
func (e *Error) GRPCStatus() *status.Status { return e.st }

// kindOf is the kind of failure a status code means.
func kindOf(c codes.Code) error {
	switch c {
	case codes.Unavailable:
		return ErrStageUnavailable
	case codes.DataLoss:
		return ErrDataLoss
	case codes.Canceled:
		return ErrCancelled
	case codes.DeadlineExceeded:
		return ErrDeadline
	case codes.Internal, codes.Unknown, codes.Unimplemented:
		return ErrInternal
	}
	return ErrRejected
}

// New makes an error with code c and a formatted message; its kind follows
// from the code.
func New(c codes.Code, format string, args ...any) error {
	return &Error{kind: kindOf(c), st: status.Newf(c, format, args...)}
}

// DataLoss is New(codes.DataLoss, ...): stored data is missing or corrupt.
func DataLoss(format string, args ...any) error { return New(codes.DataLoss, format, args...) }

// Internal is New(codes.Internal, ...).
func Internal(format string, args ...any) error { return New(codes.Internal, format, args...) }

// FailedPrecondition is New(codes.FailedPrecondition, ...): the run's
// input cannot work.
func FailedPrecondition(format string, args ...any) error {
	return New(codes.FailedPrecondition, format, args...)
}

// FromStage types the error of a stage call: the stage's status keeps its
// code, message and details, and gains the kind its code means; a context
// error becomes ErrCancelled or ErrDeadline. An error that is already typed
// is returned as is.
func FromStage(err error) error {
	if err == nil {
		return nil
	}
	var fe *Error
	var fld *FieldError
	if errors.As(err, &fe) || errors.As(err, &fld) {
		return err
	}
	switch {
	case errors.Is(err, context.Canceled):
		return &Error{kind: ErrCancelled, st: status.New(codes.Canceled, err.Error())}
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{kind: ErrDeadline, st: status.New(codes.DeadlineExceeded, err.Error())}
	}
	st, ok := status.FromError(err)
	if !ok {
		return &Error{kind: ErrInternal, st: status.New(codes.Internal, err.Error())}
	}
	return &Error{kind: kindOf(st.Code()), st: st}
}

// FieldError names the request field that is wrong and why; it is answered
// as InvalidArgument with a BadRequest detail naming the field.
type FieldError struct {
	Field, Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Field makes a *FieldError with a formatted reason.
func Field(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Code is the gRPC code err is answered with: a *FieldError is
// InvalidArgument, a *LimitError ResourceExhausted, an *Error its own code, a context error Canceled or
// DeadlineExceeded, anything else Internal.
func Code(err error) codes.Code {
	var fld *FieldError
	var fe *Error
	var le *LimitError
	switch {
	case err == nil:
		return codes.OK
	case errors.As(err, &fld):
		return codes.InvalidArgument
	case errors.As(err, &le):
		return codes.ResourceExhausted
	case errors.As(err, &fe):
		return fe.st.Code()
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	}
	if st, ok := status.FromError(err); ok {
		return st.Code()
	}
	return codes.Internal
}

// Describe renders an error for a run's record and events: the code word
// and the message ("InvalidArgument: options.label: ..."), or just
// "cancelled" and "deadline exceeded" for the context's own errors.
func Describe(err error) string {
	var fe *Error
	var fld *FieldError
	var le *LimitError
	switch {
	case errors.As(err, &fe), errors.As(err, &fld), errors.As(err, &le):
		return Code(err).String() + ": " + err.Error()
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline exceeded"
	}
	if st, ok := status.FromError(err); ok {
		return st.Code().String() + ": " + st.Message()
	}
	return err.Error()
}

// FromStatus types a status built with details; its kind follows from its
// code.
func FromStatus(st *status.Status) error { return &Error{kind: kindOf(st.Code()), st: st} }

// LimitError says a configured limit refuses the request; it is answered
// as ResourceExhausted with a QuotaFailure detail naming the limit.
type LimitError struct {
	Limit, Reason string
}

func (e *LimitError) Error() string { return e.Limit + ": " + e.Reason }
