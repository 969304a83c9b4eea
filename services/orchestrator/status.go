package orchestrator

import (
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/alur-ml/alur/serverkit"
	"github.com/alur-ml/alur/services/orchestrator/fault"
	"github.com/alur-ml/alur/services/orchestrator/store"
)

// toStatus maps the errors of the engine, datasets, search and the store
// to gRPC statuses, in one place: a *fault.FieldError is InvalidArgument
// naming the field, a *fault.LimitError ResourceExhausted naming the
// limit, a typed fault keeps the status it carries (a stage's own, details
// included), the store's sentinels become NotFound, DataLoss and (an alias
// still pointing at a model version to delete) FailedPrecondition, and
// anything else is Internal.
func toStatus(err error) error {
	var fld *fault.FieldError
	var lim *fault.LimitError
	var fe *fault.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &fld):
		return serverkit.InvalidArgument(fld.Field, fld.Reason)
	case errors.As(err, &lim):
		return serverkit.ResourceExhausted(lim.Limit, lim.Reason)
	case errors.As(err, &fe):
		if err == error(fe) {
			return fe.GRPCStatus().Err()
		}
		// Wrapped: keep the code, say the whole story.
		return status.Error(fe.GRPCStatus().Code(), err.Error())
	case errors.Is(err, store.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, store.ErrCorrupt):
		return status.Error(codes.DataLoss, err.Error())
	case errors.Is(err, store.ErrUnavailable):
		return status.Error(codes.Unavailable, err.Error())
	case errors.Is(err, store.ErrAliasInUse):
		return status.Error(codes.FailedPrecondition, err.Error()+": move or remove the alias first")
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Error(fault.Code(err), err.Error())
}

// validateRunID checks a run id before it reaches the store, whose keys
// are at most store.MaxIDLength bytes.
func validateRunID(field, id string) error {
	switch {
	case id == "":
		return serverkit.InvalidArgument(field, "is required")
	case len(id) > store.MaxIDLength:
		return serverkit.InvalidArgument(field, fmt.Sprintf("is %d bytes, over the %d-byte limit of a run id", len(id), store.MaxIDLength))
	}
	return nil
}
