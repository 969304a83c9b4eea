package blob

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
)

// Verify wraps content read from a store so that it is checked against
// digest as it passes: at the end, content that hashes otherwise fails
// with an error matching ErrCorrupt instead of io.EOF. Both drivers' Open
// return it, so no reader of a store can take damaged bytes for good
// ones, whatever damaged them (a disk, a bucket edited by hand, a proxy).
func Verify(rc io.ReadCloser, digest string) io.ReadCloser {
	return &verifier{rc: rc, digest: digest, h: sha256.New()}
}

// verifier is the reader Verify returns.
type verifier struct {
	rc     io.ReadCloser
	digest string
	h      hash.Hash
	n      int64
}

func (v *verifier) Read(p []byte) (int, error) {
	n, err := v.rc.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if err == io.EOF {
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.digest {
			return n, fmt.Errorf("blob %s: %d bytes hash to %s: %w", v.digest, v.n, got, ErrCorrupt)
		}
	}
	return n, err
}

func (v *verifier) Close() error { return v.rc.Close() }
