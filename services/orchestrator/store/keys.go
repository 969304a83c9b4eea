package store

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
)

// timeKeySize is the length of a timeKey.
const timeKeySize = 12

// timeKey encodes a time as 12 bytes whose byte order is time order: the
// Unix seconds as a big-endian uint64 with the sign bit flipped (so
// negative seconds sort first), then the nanoseconds as a big-endian
// uint32. Seconds and nanoseconds are kept apart because a nanosecond
// count overflows int64 for dates past 2262.
func timeKey(t time.Time) [timeKeySize]byte {
	var k [timeKeySize]byte
	binary.BigEndian.PutUint64(k[:8], uint64(t.Unix())^(1<<63))
	binary.BigEndian.PutUint32(k[8:], uint32(t.Nanosecond()))
	return k
}

// decodeTimeKey inverts timeKey. k must hold timeKeySize bytes.
func decodeTimeKey(k []byte) time.Time {
	sec := int64(binary.BigEndian.Uint64(k[:8]) ^ (1 << 63))
	nsec := int64(binary.BigEndian.Uint32(k[8:timeKeySize]))
	return time.Unix(sec, nsec).UTC()
}

// invertedTimeKey is timeKey with every bit flipped, so ascending key order
// is newest first.
func invertedTimeKey(t time.Time) [timeKeySize]byte {
	k := timeKey(t)
	for i := range k {
		k[i] = ^k[i]
	}
	return k
}

// lp returns s prefixed by its length as a big-endian uint16. Keys built
// from lp(s) followed by more fields can be prefix-scanned for exactly s.
// Callers bound s by MaxIDLength first.
func lp(s string) []byte {
	b := make([]byte, 2, 2+len(s))
	binary.BigEndian.PutUint16(b, uint16(len(s)))
	return append(b, s...)
}

// concat joins key fields into a fresh slice.
func concat(parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// digestError is the error for a malformed digest string. It matches both
// ErrInvalidDigest (the caller sent garbage) and ErrNotFound (no artifact
// has that name), so callers can choose InvalidArgument or NotFound.
type digestError struct {
	digest string
}

func (e *digestError) Error() string {
	d := e.digest
	if len(d) > 80 {
		d = d[:80] + "..."
	}
	return fmt.Sprintf("digest %q: %v: want 64 lowercase hexadecimal characters", d, ErrInvalidDigest)
}

// Is makes errors.Is match ErrInvalidDigest and ErrNotFound.
func (e *digestError) Is(target error) bool {
	return target == ErrInvalidDigest || target == ErrNotFound
}

// parseDigest decodes the canonical lowercase hex form of a sha256 digest.
// Uppercase is refused so each artifact has exactly one name.
func parseDigest(s string) ([digestSize]byte, error) {
	var d [digestSize]byte
	if len(s) != 2*digestSize {
		return d, &digestError{s}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return d, &digestError{s}
		}
	}
	if _, err := hex.Decode(d[:], []byte(s)); err != nil {
		return d, &digestError{s}
	}
	return d, nil
}

// formatDigest is the canonical name of a raw digest.
func formatDigest(d []byte) string { return hex.EncodeToString(d) }

// timestampTime converts a proto timestamp, refusing invalid ones.
func timestampTime(ts *timestamppb.Timestamp) (time.Time, error) {
	if err := ts.CheckValid(); err != nil {
		return time.Time{}, err
	}
	return ts.AsTime(), nil
}
