package orchestrator

import (
	"strings"
	"testing"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/services/orchestrator/search"
)

// FuzzDatasetValidation feeds arbitrary names, versions and URLs to the
// dataset validators: they never panic, and what they accept is what the
// name pattern and the store accept.
func FuzzDatasetValidation(f *testing.F) {
	for _, s := range []string{"iris", "a.b_c-1", "", "-x", "A", strings.Repeat("a", 65), "ü", "x\x00"} {
		f.Add(s, int64(0), "http://h/x.csv")
	}
	f.Fuzz(func(t *testing.T, name string, version int64, url string) {
		err := validateDatasetName("name", name)
		if (err == nil) != search.DatasetNamePattern.MatchString(name) {
			t.Fatalf("validateDatasetName(%q) = %v", name, err)
		}
		if err == nil && (len(name) > 64 || strings.ToLower(name) != name) {
			t.Fatalf("accepted %q", name)
		}
		src := &orchestratorv1.Source{Kind: &orchestratorv1.Source_Dataset{Dataset: &orchestratorv1.DatasetRef{Name: name, Version: version}}}
		if err := search.ValidateSource("spec.source", src); (err == nil) != (search.DatasetNamePattern.MatchString(name) && version >= 0) {
			t.Fatalf("search.ValidateSource(dataset %q@%d) = %v", name, version, err)
		}
		_ = search.ValidateSource("source", &orchestratorv1.Source{Kind: &orchestratorv1.Source_Url{Url: url}})
	})
}
