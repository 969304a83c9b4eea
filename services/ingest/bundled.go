package ingest

import (
	"bytes"
	"embed"
	"fmt"
	"sort"
	"strings"

	"github.com/alur-ml/alur/ml/csvio"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	ingestv1 "github.com/alur-ml/alur/proto/alur/ingest/v1"
)

// datasetFiles are the CSV files that ship inside the binary, so the demo
// and the tests work with no data on disk.
//
//go:embed datasets/*.csv
var datasetFiles embed.FS

// bundled describes one shipped dataset.
type bundled struct {
	name        string
	label       string
	task        datav1.Task
	description string
	data        []byte
	rows        int64
}

// bundledSpecs lists the shipped datasets; rows are counted at startup by
// parsing the files.
var bundledSpecs = []bundled{
	{
		name:        "iris",
		label:       "species",
		task:        datav1.Task_TASK_CLASSIFICATION,
		description: "Fisher's iris flowers (1936): sepal and petal length and width in cm, three species.",
	},
	{
		name:        "wine",
		label:       "class",
		task:        datav1.Task_TASK_CLASSIFICATION,
		description: "UCI wine recognition: 13 chemical measurements of Italian wines from three cultivars.",
	},
	{
		name:        "breast_cancer",
		label:       "class",
		task:        datav1.Task_TASK_CLASSIFICATION,
		description: "Breast Cancer Wisconsin (Diagnostic): 30 features of cell nuclei from fine-needle aspirates, benign or malignant.",
	},
}

// loadBundled reads and parses every shipped dataset, filling data and
// rows and checking the label column exists.
func loadBundled() ([]*bundled, error) {
	out := make([]*bundled, 0, len(bundledSpecs))
	for _, spec := range bundledSpecs {
		b := spec
		data, err := datasetFiles.ReadFile("datasets/" + b.name + ".csv")
		if err != nil {
			return nil, fmt.Errorf("bundled dataset %s: %w", b.name, err)
		}
		t, err := csvio.Read(bytes.NewReader(data), csvio.Options{})
		if err != nil {
			return nil, fmt.Errorf("bundled dataset %s: %w", b.name, err)
		}
		if c, _ := t.Column(b.label); c == nil {
			return nil, fmt.Errorf("bundled dataset %s has no label column %q", b.name, b.label)
		}
		b.data = data
		b.rows = int64(t.NumRows())
		out = append(out, &b)
	}
	return out, nil
}

// bundledNames lists the valid names, sorted, for error messages.
func bundledNames(sets []*bundled) string {
	names := make([]string, len(sets))
	for i, b := range sets {
		names[i] = b.name
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func (b *bundled) proto() *ingestv1.BundledDataset {
	return &ingestv1.BundledDataset{Name: b.name, Label: b.label, Task: b.task, Rows: b.rows, Description: b.description}
}
