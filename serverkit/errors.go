package serverkit

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// InvalidArgument returns codes.InvalidArgument with the message
// "field: description" and a google.rpc.BadRequest detail naming the field,
// so clients in any language can point at what to fix.
func InvalidArgument(field, description string) error {
	return withBadRequest(codes.InvalidArgument, field, description)
}

// ResourceExhausted returns codes.ResourceExhausted naming the limit that
// was exceeded, with a google.rpc.QuotaFailure detail.
func ResourceExhausted(limit, description string) error {
	st := status.New(codes.ResourceExhausted, limit+": "+description)
	if d, err := st.WithDetails(&errdetails.QuotaFailure{Violations: []*errdetails.QuotaFailure_Violation{{Subject: limit, Description: description}}}); err == nil {
		st = d
	}
	return st.Err()
}

func withBadRequest(c codes.Code, field, description string) error {
	st := status.New(c, field+": "+description)
	br := &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: description}}}
	if d, err := st.WithDetails(br); err == nil {
		st = d
	}
	return st.Err()
}

// Errorf returns a status error with code c.
func Errorf(c codes.Code, format string, args ...any) error {
	return status.Errorf(c, format, args...)
}

// FieldViolations returns the BadRequest field names of a status error,
// for tests and clients that point at the offending field.
func FieldViolations(err error) []string {
	var out []string
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				out = append(out, v.GetField())
			}
		}
	}
	return out
}

// FromContext maps a context error to its status: Canceled or
// DeadlineExceeded. Other errors pass through unchanged.
func FromContext(err error) error {
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	}
	return err
}

// Wrap prefixes a status error's message with context, keeping its code and
// details; a plain error becomes codes.Internal.
func Wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	prefix := fmt.Sprintf(format, args...)
	st, ok := status.FromError(err)
	if !ok {
		return status.Errorf(codes.Internal, "%s: %v", prefix, err)
	}
	p := st.Proto()
	p.Message = prefix + ": " + p.Message
	return status.FromProto(p).Err()
}
