package store

import (
	"bytes"
	"testing"
	"time"
)

func TestTimeKeyOrder(t *testing.T) {
	times := []time.Time{
		time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Unix(-1, 999_999_999),
		time.Unix(0, 0),
		time.Unix(0, 1),
		time.Date(2025, 6, 1, 0, 0, 0, 5, time.UTC),
		time.Date(2025, 6, 1, 0, 0, 1, 0, time.UTC),
		time.Date(2400, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for i := range times {
		k := timeKey(times[i])
		if got := decodeTimeKey(k[:]); !got.Equal(times[i]) {
			t.Errorf("decodeTimeKey(timeKey(%v)) = %v", times[i], got)
		}
		if i == 0 {
			continue
		}
		prev, prevInv := timeKey(times[i-1]), invertedTimeKey(times[i-1])
		inv := invertedTimeKey(times[i])
		if bytes.Compare(prev[:], k[:]) >= 0 {
			t.Errorf("timeKey(%v) does not sort after timeKey(%v)", times[i], times[i-1])
		}
		if bytes.Compare(prevInv[:], inv[:]) <= 0 {
			t.Errorf("invertedTimeKey(%v) does not sort before invertedTimeKey(%v)", times[i], times[i-1])
		}
	}
}

func TestLengthPrefixIsolatesIDs(t *testing.T) {
	a := runPartKey("run", 0)
	b := runPartKey("run1", 0)
	if bytes.HasPrefix(b, lp("run")) || bytes.HasPrefix(a, lp("run1")) {
		t.Fatal("a run id's key prefix matches another id's keys")
	}
}
