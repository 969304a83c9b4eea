package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
)

// genFeatures is the number of feature columns of the generated CSV.
const genFeatures = 20

// genClasses is the number of label values.
const genClasses = 3

// writeCSV writes a classification-shaped CSV to path: a header f0..f19,
// label, then rows of 20 Gaussian features shifted by a per-class centre
// and written with 6 significant digits (like printf's %.6g), and an
// integer label. It stops after rows rows, or once the file reaches
// maxBytes when maxBytes > 0, and returns the rows and bytes written. The
// seed is fixed, so a size gives the same file every time.
func writeCSV(path string, rows int, maxBytes int64) (int, int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	rng := rand.New(rand.NewPCG(20261126, 4))
	var centres [genClasses][genFeatures]float64
	for k := range centres {
		for j := range centres[k] {
			centres[k][j] = rng.NormFloat64() * 2
		}
	}
	var n int64
	line := make([]byte, 0, 512)
	for j := range genFeatures {
		line = append(line, 'f')
		line = strconv.AppendInt(line, int64(j), 10)
		line = append(line, ',')
	}
	line = append(line, "label\n"...)
	k, err := w.Write(line)
	n += int64(k)
	written := 0
	for ; err == nil && (maxBytes > 0 || written < rows) && (maxBytes <= 0 || n < maxBytes); written++ {
		label := rng.IntN(genClasses)
		line = line[:0]
		for j := range genFeatures {
			line = strconv.AppendFloat(line, centres[label][j]+rng.NormFloat64(), 'g', 6, 64)
			line = append(line, ',')
		}
		line = strconv.AppendInt(line, int64(label), 10)
		line = append(line, '\n')
		k, err = w.Write(line)
		n += int64(k)
	}
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, 0, fmt.Errorf("writing %s: %w", path, err)
	}
	return written, n, nil
}
