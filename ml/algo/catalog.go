package algo

import (
	"fmt"
	"math"
	"slices"
	"sort"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	trainv1 "github.com/alur-ml/alur/proto/alur/train/v1"
)

// Catalog is a fixed set of algorithm descriptions: names, tasks and
// hyperparameter schemas. It is what a client needs to validate a training
// configuration before sending it, without the algorithms' code: the
// orchestrator builds one from train's ListAlgorithms answer
// (CatalogFromProto), so that whatever train implementation it talks to
// decides which algorithms exist; train builds its answer from the
// registry (Registered, Proto). Specs of a catalog built from a message
// have no Fit or Predict. A Catalog is safe for concurrent use; it never
// changes after it is built.
type Catalog struct {
	byName map[string]*Spec
	sorted []*Spec
}

// NewCatalog returns a catalog of specs. Names must be unique.
func NewCatalog(specs ...*Spec) (*Catalog, error) {
	c := &Catalog{byName: make(map[string]*Spec, len(specs))}
	for _, s := range specs {
		if s.Name == "" {
			return nil, fmt.Errorf("an algorithm has no name")
		}
		if _, dup := c.byName[s.Name]; dup {
			return nil, fmt.Errorf("algorithm %q is listed twice", s.Name)
		}
		c.byName[s.Name] = s
		c.sorted = append(c.sorted, s)
	}
	sort.Slice(c.sorted, func(i, j int) bool { return c.sorted[i].Name < c.sorted[j].Name })
	return c, nil
}

// Registered returns a catalog of the algorithms registered in this
// binary, as they are now.
func Registered() *Catalog {
	c, err := NewCatalog(All()...)
	if err != nil {
		panic("algo: " + err.Error()) // Register refuses duplicates, so this cannot happen
	}
	return c
}

// Lookup returns the named algorithm.
func (c *Catalog) Lookup(name string) (*Spec, bool) {
	s, ok := c.byName[name]
	return s, ok
}

// All returns every algorithm, sorted by name. The caller must not modify
// the slice.
func (c *Catalog) All() []*Spec { return c.sorted }

// Names returns the algorithms' names, sorted.
func (c *Catalog) Names() []string {
	out := make([]string, len(c.sorted))
	for i, s := range c.sorted {
		out[i] = s.Name
	}
	return out
}

// Len returns the number of algorithms.
func (c *Catalog) Len() int { return len(c.sorted) }

// paramTypes maps the schema's types to the message's, both ways.
var paramTypes = map[ParamType]trainv1.ParamType{
	Real:    trainv1.ParamType_PARAM_TYPE_REAL,
	Integer: trainv1.ParamType_PARAM_TYPE_INTEGER,
	Flag:    trainv1.ParamType_PARAM_TYPE_FLAG,
}

// Proto describes the catalog as train's ListAlgorithms answers it.
func (c *Catalog) Proto() *trainv1.ListAlgorithmsResponse {
	resp := &trainv1.ListAlgorithmsResponse{Algorithms: make([]*trainv1.AlgorithmInfo, 0, len(c.sorted))}
	for _, s := range c.sorted {
		info := &trainv1.AlgorithmInfo{
			Name:        s.Name,
			Tasks:       slices.Clone(s.Tasks),
			Description: s.Description,
			Params:      make([]*trainv1.ParamInfo, 0, len(s.Params)),
		}
		for _, p := range s.Params {
			info.Params = append(info.Params, &trainv1.ParamInfo{
				Name:         p.Name,
				DefaultValue: p.Default,
				Min:          p.Min,
				Max:          p.Max,
				Integer:      p.Whole(),
				Description:  p.Description,
				Type:         paramTypes[p.Type],
				Tasks:        slices.Clone(p.Tasks),
			})
		}
		resp.Algorithms = append(resp.Algorithms, info)
	}
	return resp
}

// CatalogFromProto builds a catalog from a ListAlgorithms answer. It
// refuses an answer a client could not validate against: an algorithm
// without a name or tasks, a name listed twice, a parameter without a
// name, listed twice, with bounds that are not numbers or are crossed, or
// a default outside them. A parameter of unspecified type (from a server
// that predates the field) is an integer when the message says so, a real
// number otherwise.
func CatalogFromProto(resp *trainv1.ListAlgorithmsResponse) (*Catalog, error) {
	specs := make([]*Spec, 0, len(resp.GetAlgorithms()))
	for i, a := range resp.GetAlgorithms() {
		if a.GetName() == "" {
			return nil, fmt.Errorf("algorithms[%d]: no name", i)
		}
		if len(a.GetTasks()) == 0 {
			return nil, fmt.Errorf("algorithm %q: no tasks", a.GetName())
		}
		s := &Spec{
			Name:        a.GetName(),
			Description: a.GetDescription(),
			Tasks:       slices.Clone(a.GetTasks()),
			Params:      make([]Param, 0, len(a.GetParams())),
		}
		seen := map[string]bool{}
		for _, pi := range a.GetParams() {
			p, err := paramFromProto(pi)
			if err != nil {
				return nil, fmt.Errorf("algorithm %q: %w", a.GetName(), err)
			}
			if seen[p.Name] {
				return nil, fmt.Errorf("algorithm %q: parameter %q is listed twice", a.GetName(), p.Name)
			}
			seen[p.Name] = true
			s.Params = append(s.Params, p)
		}
		specs = append(specs, s)
	}
	return NewCatalog(specs...)
}

// paramFromProto checks and converts one parameter description.
func paramFromProto(pi *trainv1.ParamInfo) (Param, error) {
	p := Param{
		Name:        pi.GetName(),
		Default:     pi.GetDefaultValue(),
		Min:         pi.GetMin(),
		Max:         pi.GetMax(),
		Description: pi.GetDescription(),
		Tasks:       slices.Clone(pi.GetTasks()),
	}
	switch pi.GetType() {
	case trainv1.ParamType_PARAM_TYPE_UNSPECIFIED:
		if pi.GetInteger() {
			p.Type = Integer
		}
	case trainv1.ParamType_PARAM_TYPE_REAL:
		p.Type = Real
	case trainv1.ParamType_PARAM_TYPE_INTEGER:
		p.Type = Integer
	case trainv1.ParamType_PARAM_TYPE_FLAG:
		p.Type = Flag
	default:
		return Param{}, fmt.Errorf("parameter %q: unknown type %d", p.Name, pi.GetType())
	}
	switch {
	case p.Name == "":
		return Param{}, fmt.Errorf("a parameter has no name")
	case math.IsNaN(p.Min) || math.IsNaN(p.Max) || math.IsNaN(p.Default):
		return Param{}, fmt.Errorf("parameter %q: min, max and default must be numbers", p.Name)
	case p.Min > p.Max:
		return Param{}, fmt.Errorf("parameter %q: min %g is above max %g", p.Name, p.Min, p.Max)
	case p.Default < p.Min || p.Default > p.Max:
		return Param{}, fmt.Errorf("parameter %q: default %g is outside [%g, %g]", p.Name, p.Default, p.Min, p.Max)
	}
	for _, t := range p.Tasks {
		if _, ok := datav1.Task_name[int32(t)]; !ok || t == datav1.Task_TASK_UNSPECIFIED {
			return Param{}, fmt.Errorf("parameter %q: unknown task %d", p.Name, t)
		}
	}
	return p, nil
}
