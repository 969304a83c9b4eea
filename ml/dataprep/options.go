package dataprep

import (
	"fmt"
	"math"
	"strings"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	prepv1 "github.com/alur-ml/alur/proto/alur/prep/v1"
)

// Defaults for zero-valued PrepareOptions fields, as documented in prep.proto.
const (
	// DefaultValidationFraction is used when validation_fraction is 0.
	DefaultValidationFraction = 0.2
	// DefaultTestFraction is used when test_fraction is 0.
	DefaultTestFraction = 0.2
	// DefaultMaxCategories is used when max_categories is 0.
	DefaultMaxCategories = 100
	// MaxMaxCategories bounds max_categories so that one column cannot
	// blow the feature matrix up.
	MaxMaxCategories = 10000
	// MaxClassificationClasses is the largest number of distinct values a
	// numeric label may have when the task is classification; more almost
	// always means the label is a quantity and the task is regression.
	MaxClassificationClasses = 100
	// idLikeMinRows is the number of present values above which an
	// all-distinct categorical column is taken for an identifier.
	idLikeMinRows = 20
)

// OptionError names the request field at fault and says why. Field is a
// path such as "options.validation_fraction", "options.label",
// "transform.columns[2].scale", "schema" or "batch"; services turn it into
// an InvalidArgument status naming that field.
type OptionError struct {
	Field  string
	Reason string
}

func (e *OptionError) Error() string { return e.Field + ": " + e.Reason }

func optErr(field, format string, args ...any) *OptionError {
	return &OptionError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// ValidateOptions checks PrepareOptions on their own, before any data is
// seen, so a bad request fails fast and names the field at fault. Checks that
// need the table (does the label exist?) happen in Split and Fit.
func ValidateOptions(o *prepv1.PrepareOptions) error {
	if o == nil {
		return optErr("options", "are required")
	}
	if strings.TrimSpace(o.GetLabel()) == "" {
		return optErr("options.label", "is required: name the column to predict")
	}
	switch o.GetTask() {
	case datav1.Task_TASK_UNSPECIFIED, datav1.Task_TASK_CLASSIFICATION, datav1.Task_TASK_REGRESSION:
	default:
		return optErr("options.task", "unknown task %d", int32(o.GetTask()))
	}
	if err := checkFraction("options.validation_fraction", o.GetValidationFraction()); err != nil {
		return err
	}
	if err := checkFraction("options.test_fraction", o.GetTestFraction()); err != nil {
		return err
	}
	if o.GetSplitColumn() == "" {
		vf, tf := fractions(o)
		if vf+tf >= 0.95 {
			return optErr("options.test_fraction", "validation (%g) and test (%g) fractions together leave almost no train rows; their sum must be below 0.95", vf, tf)
		}
	} else if o.GetSplitColumn() == o.GetLabel() {
		return optErr("options.split_column", "is the label column %q", o.GetLabel())
	}
	switch o.GetNumericImpute() {
	case prepv1.NumericImpute_NUMERIC_IMPUTE_UNSPECIFIED, prepv1.NumericImpute_NUMERIC_IMPUTE_MEDIAN, prepv1.NumericImpute_NUMERIC_IMPUTE_MEAN:
	default:
		return optErr("options.numeric_impute", "unknown imputation %d", int32(o.GetNumericImpute()))
	}
	for i, d := range o.GetDropColumns() {
		field := fmt.Sprintf("options.drop_columns[%d]", i)
		switch d {
		case "":
			return optErr(field, "is empty")
		case o.GetLabel():
			return optErr(field, "is the label column %q", d)
		}
	}
	if m := o.GetMaxCategories(); m < 0 || m > MaxMaxCategories {
		return optErr("options.max_categories", "%d is outside [0, %d]", m, MaxMaxCategories)
	}
	return validateCleaning(o)
}

// checkFraction enforces the [0, 0.9) range of prep.proto.
func checkFraction(field string, f float64) error {
	if math.IsNaN(f) || f < 0 || f >= 0.9 {
		return optErr(field, "%g is outside [0, 0.9)", f)
	}
	return nil
}

// fractions returns the validation and test fractions with defaults filled.
func fractions(o *prepv1.PrepareOptions) (vf, tf float64) {
	vf, tf = o.GetValidationFraction(), o.GetTestFraction()
	if vf == 0 {
		vf = DefaultValidationFraction
	}
	if tf == 0 {
		tf = DefaultTestFraction
	}
	return vf, tf
}

// maxCategories returns max_categories with its default filled.
func maxCategories(o *prepv1.PrepareOptions) int {
	if m := o.GetMaxCategories(); m > 0 {
		return int(m)
	}
	return DefaultMaxCategories
}

// columnList formats the table's column names for an error message, capped
// so that a wide table does not produce a huge status message.
func columnList(names []string) string {
	const show = 20
	if len(names) <= show {
		return strings.Join(quoteAll(names), ", ")
	}
	return strings.Join(quoteAll(names[:show]), ", ") + fmt.Sprintf(" and %d more", len(names)-show)
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = fmt.Sprintf("%q", v)
	}
	return out
}
