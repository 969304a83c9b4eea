package algo_test

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/alur-ml/alur/ml/algo"
	_ "github.com/alur-ml/alur/ml/algo/builtin"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	trainv1 "github.com/alur-ml/alur/proto/alur/train/v1"
)

// TestCatalogRoundTrip checks that a catalog read back from the registry's
// ListAlgorithms answer validates exactly as the registry does.
func TestCatalogRoundTrip(t *testing.T) {
	reg := algo.Registered()
	if reg.Len() < 8 {
		t.Fatalf("%d algorithms registered, want at least 8", reg.Len())
	}
	back, err := algo.CatalogFromProto(reg.Proto())
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(back.Proto(), reg.Proto()) {
		t.Fatal("catalog changed on a round trip through its message")
	}
	for _, want := range reg.All() {
		got, ok := back.Lookup(want.Name)
		if !ok {
			t.Fatalf("%s missing after the round trip", want.Name)
		}
		if got.Fit != nil || got.Predict != nil {
			t.Errorf("%s: a catalog read from a message has code", want.Name)
		}
		for _, task := range []datav1.Task{datav1.Task_TASK_CLASSIFICATION, datav1.Task_TASK_REGRESSION} {
			if got.Supports(task) != want.Supports(task) {
				t.Errorf("%s: Supports(%v) differs", want.Name, task)
			}
		}
		for _, p := range want.Params {
			for _, v := range []float64{p.Min - 1, p.Min, p.Default, (p.Min + p.Max) / 2, p.Max, p.Max + 1, p.Min + 0.5} {
				_, errWant := want.ResolveParams(map[string]float64{p.Name: v})
				_, errGot := got.ResolveParams(map[string]float64{p.Name: v})
				if (errWant == nil) != (errGot == nil) {
					t.Errorf("%s.%s = %g: registry says %v, catalog %v", want.Name, p.Name, v, errWant, errGot)
				}
			}
		}
	}
	for _, tc := range []struct {
		algorithm string
		balanced  bool
	}{{"random_forest", true}, {"extra_trees", true}, {"logistic_regression", true}, {"decision_tree", true}, {"knn", false}, {"ridge", false}} {
		s, ok := back.Lookup(tc.algorithm)
		if !ok {
			t.Fatalf("%s missing", tc.algorithm)
		}
		p, ok := s.FindParam(algo.BalancedParamName)
		if ok != tc.balanced {
			t.Errorf("%s declares balanced: %v, want %v", tc.algorithm, ok, tc.balanced)
		}
		if ok && (p.Type != algo.Flag || !p.AppliesTo(datav1.Task_TASK_CLASSIFICATION) || p.AppliesTo(datav1.Task_TASK_REGRESSION)) {
			t.Errorf("%s balanced: type %v, tasks %v; want a classification-only flag", tc.algorithm, p.Type, p.Tasks)
		}
	}
}

func TestCatalogFromProtoRefuses(t *testing.T) {
	param := func(mod func(*trainv1.ParamInfo)) *trainv1.ListAlgorithmsResponse {
		p := &trainv1.ParamInfo{Name: "k", DefaultValue: 5, Min: 1, Max: 10, Type: trainv1.ParamType_PARAM_TYPE_INTEGER}
		mod(p)
		return &trainv1.ListAlgorithmsResponse{Algorithms: []*trainv1.AlgorithmInfo{{
			Name: "knn", Tasks: []datav1.Task{datav1.Task_TASK_CLASSIFICATION}, Params: []*trainv1.ParamInfo{p},
		}}}
	}
	cls := []datav1.Task{datav1.Task_TASK_CLASSIFICATION}
	for _, tc := range []struct {
		name string
		resp *trainv1.ListAlgorithmsResponse
		want string
	}{
		{"no name", &trainv1.ListAlgorithmsResponse{Algorithms: []*trainv1.AlgorithmInfo{{Tasks: cls}}}, "no name"},
		{"no tasks", &trainv1.ListAlgorithmsResponse{Algorithms: []*trainv1.AlgorithmInfo{{Name: "a"}}}, "no tasks"},
		{"twice", &trainv1.ListAlgorithmsResponse{Algorithms: []*trainv1.AlgorithmInfo{{Name: "a", Tasks: cls}, {Name: "a", Tasks: cls}}}, "listed twice"},
		{"param without name", param(func(p *trainv1.ParamInfo) { p.Name = "" }), "no name"},
		{"crossed bounds", param(func(p *trainv1.ParamInfo) { p.Min, p.Max = 10, 1 }), "above max"},
		{"default outside", param(func(p *trainv1.ParamInfo) { p.DefaultValue = 11 }), "outside"},
		{"unknown type", param(func(p *trainv1.ParamInfo) { p.Type = 99 }), "unknown type"},
		{"unknown task", param(func(p *trainv1.ParamInfo) { p.Tasks = []datav1.Task{42} }), "unknown task"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := algo.CatalogFromProto(tc.resp)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
	// A server that predates the type field: integer decides.
	old := param(func(p *trainv1.ParamInfo) { p.Type, p.Integer = trainv1.ParamType_PARAM_TYPE_UNSPECIFIED, true })
	c, err := algo.CatalogFromProto(old)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := c.Lookup("knn")
	if _, err := s.ResolveParams(map[string]float64{"k": 2.5}); err == nil {
		t.Error("k = 2.5 accepted for an integer parameter of an old server")
	}
}
