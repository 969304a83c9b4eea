package obs

import "github.com/prometheus/client_golang/prometheus"

// Buckets in seconds: steps range from milliseconds to hours of training,
// runs from seconds to hours.
var (
	stepBuckets = []float64{0.01, 0.05, 0.25, 1, 2.5, 10, 30, 60, 300, 900, 3600, 7200}
	runBuckets  = []float64{1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 43200}
)

var (
	// RunDuration observes the wall time of a pipeline run from its start
	// to its end, labelled by the final state (the lowercase name of the
	// run state, such as "succeeded", "failed", "cancelled").
	RunDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "alur_run_duration_seconds",
		Help:    "Wall time of pipeline runs, by final state.",
		Buckets: runBuckets,
	}, []string{"state"})

	// StepDuration observes the wall time of one executed run step, by
	// kind: collect, profile, prepare, train, evaluate, refit, test or
	// learning_curve. Steps answered from the cache are not observed (they
	// count in CacheHits).
	StepDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "alur_step_duration_seconds",
		Help:    "Wall time of executed run steps, by step kind.",
		Buckets: stepBuckets,
	}, []string{"kind"})

	// CacheHits counts steps whose result was reused from the execution
	// cache instead of calling a stage.
	CacheHits = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "alur_cache_hits_total",
		Help: "Run steps answered from the execution cache.",
	})

	// CacheMisses counts steps that had to call a stage because the cache
	// held no result for their key.
	CacheMisses = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "alur_cache_misses_total",
		Help: "Run steps that found no cached result and called a stage.",
	})

	// ArtifactBytes counts the bytes of new artifact content written to the
	// store; an artifact already stored under the same digest adds nothing.
	ArtifactBytes = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "alur_artifact_bytes_total",
		Help: "Bytes of new artifact content written to the artifact store.",
	})

	// StoreGCChunks and StoreGCBytes count the orphan chunks (and their
	// bytes) the store's garbage collector removed: chunks no artifact
	// references, left by a write a crash cut short.
	StoreGCChunks = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "alur_store_gc_removed_chunks_total",
		Help: "Orphan chunks removed by the artifact store's garbage collector.",
	})
	StoreGCBytes = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "alur_store_gc_removed_bytes_total",
		Help: "Bytes of orphan chunks removed by the artifact store's garbage collector.",
	})
)

// Collectors returns every orchestrator metric, for the orchestrator to
// register on its process's registry.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{RunDuration, StepDuration, CacheHits, CacheMisses, ArtifactBytes, StoreGCChunks, StoreGCBytes}
}
