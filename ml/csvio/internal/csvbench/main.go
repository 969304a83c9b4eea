// Command csvbench times csvio.ReadAll on a CSV file, reading it from disk
// as other readers do, for side-by-side comparisons with them (such as
// pandas.read_csv): csvbench FILE [REPEATS]. It prints the wall time and
// the CPU time, since on a busy machine the second varies less.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/alur-ml/alur/ml/csvio"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: csvbench FILE [REPEATS]")
		os.Exit(2)
	}
	repeats := 3
	if len(os.Args) > 2 {
		n, err := strconv.Atoi(os.Args[2])
		if err != nil || n < 1 {
			fmt.Fprintln(os.Stderr, "csvbench: REPEATS must be a positive number")
			os.Exit(2)
		}
		repeats = n
	}
	for range repeats {
		f, err := os.Open(os.Args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, "csvbench:", err)
			os.Exit(1)
		}
		st, err := f.Stat()
		if err != nil {
			fmt.Fprintln(os.Stderr, "csvbench:", err)
			os.Exit(1)
		}
		cpu0 := cpuSeconds()
		start := time.Now()
		t, _, err := csvio.ReadAll(f, csvio.Options{})
		secs := time.Since(start).Seconds()
		cpu := cpuSeconds() - cpu0
		f.Close()
		if err != nil {
			fmt.Fprintln(os.Stderr, "csvbench:", err)
			os.Exit(1)
		}
		mb := float64(st.Size()) / 1e6
		fmt.Printf("csvio.ReadAll: %d rows x %d columns, %.3f s, %.1f MB/s; CPU %.3f s, %.1f MB per CPU second\n",
			t.NumRows(), len(t.Columns), secs, mb/secs, cpu, mb/cpu)
		runtime.GC()
	}
}

// cpuSeconds returns the process's user and system CPU time so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
