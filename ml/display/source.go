package display

import (
	"strconv"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

// Source names where a run's data came from, in a few words: "iris
// (bundled)", the server-side path, the URL, "sales v2" for a dataset
// version, "upload 3f2a9c…" for an upload (callers that know the file's
// name say it instead). An unset source is "".
func Source(s *orchestratorv1.Source) string {
	switch k := s.GetKind().(type) {
	case *orchestratorv1.Source_Bundled:
		return k.Bundled + " (bundled)"
	case *orchestratorv1.Source_Path:
		return k.Path
	case *orchestratorv1.Source_Url:
		return k.Url
	case *orchestratorv1.Source_Dataset:
		return DatasetName(k.Dataset)
	case *orchestratorv1.Source_Upload:
		return "upload " + ShortDigest(k.Upload)
	}
	return ""
}

// DatasetName names a dataset version: "sales v2", or "sales (latest)"
// before the run has pinned one.
func DatasetName(ref *orchestratorv1.DatasetRef) string {
	if ref.GetVersion() == 0 {
		return ref.GetName() + " (latest)"
	}
	return ref.GetName() + " v" + strconv.FormatInt(ref.GetVersion(), 10)
}

// ShortDigest abbreviates a sha256 digest to its first twelve hex digits,
// enough to tell artifacts apart on screen.
func ShortDigest(d string) string {
	if len(d) > 12 {
		return d[:12]
	}
	return d
}
