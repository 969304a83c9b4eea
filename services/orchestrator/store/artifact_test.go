package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

// corruptChunk flips one byte of chunk index i of an artifact, straight in
// bbolt, as a disk fault would.
func corruptChunk(t *testing.T, s *Store, digest string, i int) {
	t.Helper()
	_, _, chunks, err := s.manifest(digest)
	if err != nil {
		t.Fatal(err)
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketChunks)
		v := bytes.Clone(b.Get(chunks[i][:]))
		v[len(v)/2] ^= 0x40
		return b.Put(chunks[i][:], v)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// countChunks counts stored chunks.
func countChunks(t *testing.T, s *Store) int {
	t.Helper()
	n := 0
	if err := s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketChunks).Stats().KeyN
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// slowReader returns at most n bytes per Read, so chunks are assembled
// from many reads.
type slowReader struct {
	r io.Reader
	n int
}

func (s *slowReader) Read(p []byte) (int, error) {
	if len(p) > s.n {
		p = p[:s.n]
	}
	return s.r.Read(p)
}

// failingReader fails after its data is read.
type failingReader struct{ err error }

func (f failingReader) Read([]byte) (int, error) { return 0, f.err }

func TestArtifactRoundTrip(t *testing.T) {
	s := openTestStore(t)
	sizes := []int{0, 1, ChunkSize - 1, ChunkSize, 3*ChunkSize + 5}
	for i, size := range sizes {
		for _, mode := range []string{"bytes", "stream"} {
			t.Run(fmt.Sprintf("%s/%d", mode, size), func(t *testing.T) {
				content := randomBytes(uint64(100*i+len(mode)), size)
				sum := sha256.Sum256(content)
				want := hex.EncodeToString(sum[:])
				meta := &orchestratorv1.Artifact{Kind: "dataset", MediaType: "text/csv", RunId: "run-" + mode, Step: "collect", Name: "data.csv"}
				var a *orchestratorv1.Artifact
				var err error
				if mode == "bytes" {
					a, err = s.PutArtifact(meta, content)
				} else {
					a, err = s.PutArtifactStream(meta, &slowReader{r: bytes.NewReader(content), n: 100_003})
				}
				if err != nil {
					t.Fatalf("put: %v", err)
				}
				if meta.GetDigest() != "" {
					t.Fatal("put modified the caller's metadata")
				}
				if a.GetDigest() != want || a.GetSize() != int64(size) || a.GetCreateTime() == nil {
					t.Fatalf("put returned digest %s size %d time %v; want %s %d set", a.GetDigest(), a.GetSize(), a.GetCreateTime(), want, size)
				}
				if a.GetKind() != "dataset" || a.GetName() != "data.csv" || a.GetStep() != "collect" {
					t.Fatalf("put lost metadata: %v", a)
				}
				stat, err := s.StatArtifact(want)
				if err != nil || !proto.Equal(stat, a) {
					t.Fatalf("StatArtifact = %v, %v; want %v", stat, err, a)
				}
				got, err := s.ReadArtifact(want)
				if err != nil || !bytes.Equal(got, content) {
					t.Fatalf("ReadArtifact: %v, equal %v", err, bytes.Equal(got, content))
				}
				var streamed []byte
				var n int
				err = s.StreamArtifact(want, func(c []byte) error {
					if len(c) == 0 || len(c) > ChunkSize {
						t.Errorf("chunk of %d bytes", len(c))
					}
					streamed = append(streamed, c...)
					n++
					return nil
				})
				if err != nil || !bytes.Equal(streamed, content) {
					t.Fatalf("StreamArtifact: %v, equal %v", err, bytes.Equal(streamed, content))
				}
				if wantChunks := (size + ChunkSize - 1) / ChunkSize; n != wantChunks {
					t.Fatalf("streamed %d chunks, want %d", n, wantChunks)
				}
			})
		}
	}
}

func TestPutArtifactDeclaredDigestAndSize(t *testing.T) {
	s := openTestStore(t)
	sum := sha256.Sum256([]byte("hello"))
	good := hex.EncodeToString(sum[:])
	tests := []struct {
		name    string
		meta    *orchestratorv1.Artifact
		wantErr error
	}{
		{"nil meta", nil, nil},
		{"matching digest", &orchestratorv1.Artifact{Digest: good, Size: 5}, nil},
		{"other digest", &orchestratorv1.Artifact{Digest: CacheKey()}, ErrCorrupt},
		{"wrong size", &orchestratorv1.Artifact{Size: 4}, ErrCorrupt},
		{"uppercase digest", &orchestratorv1.Artifact{Digest: "2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824"}, ErrInvalidDigest},
		{"bad input digest", &orchestratorv1.Artifact{InputDigests: []string{good, "nope"}}, ErrInvalidDigest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := s.PutArtifact(tt.meta, []byte("hello"))
			if tt.wantErr == nil {
				if err != nil || a.GetDigest() != good {
					t.Fatalf("PutArtifact = %v, %v", a, err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("PutArtifact error %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestArtifactDedupeKeepsFirstMetadata(t *testing.T) {
	s := openTestStore(t)
	content := randomBytes(3, 2*ChunkSize+1)
	first, err := s.PutArtifact(&orchestratorv1.Artifact{Kind: "dataset", RunId: "r1", Step: "collect"}, content)
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.PutArtifactStream(&orchestratorv1.Artifact{Kind: "other", RunId: "r2", Step: "prepare"}, bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(first, second) {
		t.Fatalf("second put returned %v, want first metadata %v", second, first)
	}
	if n := countChunks(t, s); n != 3 {
		t.Fatalf("%d chunks stored, want 3 (deduplicated)", n)
	}
	all, err := s.ListArtifacts("")
	if err != nil || len(all) != 1 {
		t.Fatalf("ListArtifacts(\"\") = %v, %v; want one", all, err)
	}
	for _, run := range []string{"r1", "r2"} {
		l, err := s.ListArtifacts(run)
		if err != nil || len(l) != 1 || l[0].GetRunId() != "r1" {
			t.Fatalf("ListArtifacts(%q) = %v, %v; want the first producer's metadata", run, l, err)
		}
	}
	// Same run again: no duplicate listing.
	if _, err := s.PutArtifact(&orchestratorv1.Artifact{RunId: "r2"}, content); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.ListArtifacts("r2"); len(l) != 1 {
		t.Fatalf("ListArtifacts(r2) after a repeat put has %d entries", len(l))
	}
}

func TestListArtifactsOldestFirst(t *testing.T) {
	s := openTestStore(t)
	var want []string
	for i := 0; i < 5; i++ {
		run := "a"
		if i%2 == 1 {
			run = "b"
		}
		a, err := s.PutArtifact(&orchestratorv1.Artifact{RunId: run}, []byte{byte(i)})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, a.GetDigest())
	}
	tests := []struct {
		run  string
		want []string
	}{
		{"", want},
		{"a", []string{want[0], want[2], want[4]}},
		{"b", []string{want[1], want[3]}},
		{"none", nil},
	}
	for _, tt := range tests {
		got, err := s.ListArtifacts(tt.run)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, a := range got {
			names = append(names, a.GetDigest())
		}
		if fmt.Sprint(names) != fmt.Sprint(tt.want) {
			t.Errorf("ListArtifacts(%q) = %v, want %v", tt.run, names, tt.want)
		}
	}
}

func TestLinkArtifact(t *testing.T) {
	s := openTestStore(t)
	a, err := s.PutArtifact(&orchestratorv1.Artifact{RunId: "r1"}, []byte("model"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := s.LinkArtifact("r2", a.GetDigest()); err != nil {
			t.Fatal(err)
		}
	}
	if l, err := s.ListArtifacts("r2"); err != nil || len(l) != 1 || l[0].GetRunId() != "r1" {
		t.Fatalf("ListArtifacts(r2) = %v, %v", l, err)
	}
	if err := s.LinkArtifact("r2", CacheKey([]byte("absent"))); !errors.Is(err, ErrNotFound) {
		t.Fatalf("LinkArtifact of an absent artifact: %v", err)
	}
}

func TestArtifactNotFoundAndInvalid(t *testing.T) {
	s := openTestStore(t)
	tests := []struct {
		digest  string
		invalid bool
	}{
		{CacheKey([]byte("absent")), false},
		{"", true},
		{"abc", true},
		{"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", true},
		{"g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", true},
	}
	for _, tt := range tests {
		_, statErr := s.StatArtifact(tt.digest)
		_, readErr := s.ReadArtifact(tt.digest)
		streamErr := s.StreamArtifact(tt.digest, func([]byte) error { return nil })
		for _, err := range []error{statErr, readErr, streamErr} {
			if !errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalidDigest) != tt.invalid {
				t.Errorf("digest %q: %v; want NotFound, invalid=%v", tt.digest, err, tt.invalid)
			}
		}
	}
}

func TestCorruptionDetected(t *testing.T) {
	s := openTestStore(t)
	content := randomBytes(11, 3*ChunkSize+5)
	a, err := s.PutArtifact(nil, content)
	if err != nil {
		t.Fatal(err)
	}
	corruptChunk(t, s, a.GetDigest(), 2)

	if _, err := s.ReadArtifact(a.GetDigest()); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("ReadArtifact of a corrupt artifact: %v, want ErrCorrupt", err)
	}
	var handed int
	err = s.StreamArtifact(a.GetDigest(), func(c []byte) error { handed++; return nil })
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("StreamArtifact of a corrupt artifact: %v, want ErrCorrupt", err)
	}
	if handed != 2 {
		t.Fatalf("StreamArtifact handed out %d chunks before the bad one, want 2", handed)
	}

	// Storing the same content again repairs the damaged chunk.
	if _, err := s.PutArtifact(nil, content); err != nil {
		t.Fatal(err)
	}
	got, err := s.ReadArtifact(a.GetDigest())
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("ReadArtifact after repair: %v", err)
	}
}

func TestMissingChunkIsCorrupt(t *testing.T) {
	s := openTestStore(t)
	a, err := s.PutArtifact(nil, randomBytes(5, ChunkSize+1))
	if err != nil {
		t.Fatal(err)
	}
	_, _, chunks, err := s.manifest(a.GetDigest())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketChunks).Delete(chunks[1][:]) }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadArtifact(a.GetDigest()); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("ReadArtifact with a missing chunk: %v, want ErrCorrupt", err)
	}
	problems, err := s.Check()
	if err != nil || len(problems) != 1 {
		t.Fatalf("Check = %q, %v; want one problem", problems, err)
	}
}

func TestStreamArtifactStopsOnCallbackError(t *testing.T) {
	s := openTestStore(t)
	a, err := s.PutArtifact(nil, randomBytes(9, 2*ChunkSize))
	if err != nil {
		t.Fatal(err)
	}
	stop := errors.New("client went away")
	calls := 0
	err = s.StreamArtifact(a.GetDigest(), func([]byte) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("StreamArtifact = %v after %d calls; want the callback's error after 1", err, calls)
	}
}

// TestFailedStreamLeavesNoChunks: a write that fails part-way (a refused
// or aborted upload) leaves neither an artifact nor chunks, and chunks it
// shares with a stored artifact stay.
func TestFailedStreamLeavesNoChunks(t *testing.T) {
	s := openTestStore(t)
	keptContent := randomBytes(1, ChunkSize+9)
	kept, err := s.PutArtifact(&orchestratorv1.Artifact{RunId: "r"}, keptContent)
	if err != nil {
		t.Fatal(err)
	}
	// More than one transaction's worth of chunks is committed before the
	// reader fails; the first chunk is one the kept artifact has.
	partial := append(bytes.Clone(keptContent[:ChunkSize]), randomBytes(2, (groupChunks+2)*ChunkSize)...)
	boom := errors.New("connection reset")
	_, err = s.PutArtifactStream(&orchestratorv1.Artifact{RunId: "r"}, io.MultiReader(bytes.NewReader(partial), failingReader{boom}))
	if !errors.Is(err, boom) {
		t.Fatalf("PutArtifactStream = %v, want the reader's error", err)
	}
	list, err := s.ListArtifacts("")
	if err != nil || len(list) != 1 || list[0].GetDigest() != kept.GetDigest() {
		t.Fatalf("after a failed stream ListArtifacts = %v, %v; want only the kept artifact", list, err)
	}
	u, err := s.Usage()
	if err != nil || u.Chunks != 2 || u.OrphanChunks != 0 {
		t.Fatalf("after a failed stream: %+v, %v; want the kept artifact's 2 chunks and no orphan", u, err)
	}
	if _, err := s.ReadArtifact(kept.GetDigest()); err != nil {
		t.Fatalf("kept artifact: %v", err)
	}
	if removed, err := s.GC(); err != nil || removed != 0 {
		t.Fatalf("GC = %d, %v; want 0", removed, err)
	}
}

// TestGCSweepsOrphansAndCheckCountsThem: chunks nothing references (as a
// crash mid-write leaves) are counted by Usage and reported by Check
// until GC removes them.
func TestGCSweepsOrphansAndCheckCountsThem(t *testing.T) {
	s := openTestStore(t)
	kept, err := s.PutArtifact(nil, randomBytes(1, ChunkSize+9))
	if err != nil {
		t.Fatal(err)
	}
	orphans := [][]byte{randomBytes(3, 100), randomBytes(4, ChunkSize)}
	err = s.db.Update(func(tx *bolt.Tx) error {
		var added [][digestSize]byte
		var pending []pendingChunk
		for _, o := range orphans {
			pending = append(pending, pendingChunk{digest: sha256.Sum256(o), data: o})
		}
		return putChunks(tx, pending, &added)
	})
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.Usage()
	if err != nil || u.OrphanChunks != 2 || u.OrphanBytes != 100+ChunkSize || u.Chunks != 4 {
		t.Fatalf("Usage = %+v, %v; want 2 orphans of %d bytes among 4 chunks", u, err, 100+ChunkSize)
	}
	problems, err := s.Check()
	if err != nil || len(problems) != 1 || !strings.Contains(problems[0], "2 orphan chunks") {
		t.Fatalf("Check = %q, %v; want one problem counting 2 orphan chunks", problems, err)
	}
	removed, freed, err := s.GCBytes()
	if err != nil || removed != 2 || freed != 100+ChunkSize {
		t.Fatalf("GCBytes = %d, %d, %v", removed, freed, err)
	}
	if problems, err := s.Check(); err != nil || len(problems) != 0 {
		t.Fatalf("Check after GC = %q, %v", problems, err)
	}
	if _, err := s.ReadArtifact(kept.GetDigest()); err != nil {
		t.Fatalf("kept artifact after GC: %v", err)
	}
}

// gcReader runs GC once, in the middle of a streamed put, after the first
// group of chunks is committed.
type gcReader struct {
	r       io.Reader
	s       *Store
	read    int
	ran     bool
	removed int
	err     error
}

func (g *gcReader) Read(p []byte) (int, error) {
	if !g.ran && g.read >= (groupChunks+1)*ChunkSize {
		g.ran = true
		g.removed, g.err = g.s.GC()
	}
	n, err := g.r.Read(p)
	g.read += n
	return n, err
}

func TestGCSparesWritesInProgress(t *testing.T) {
	s := openTestStore(t)
	content := randomBytes(4, (groupChunks+3)*ChunkSize+1)
	g := &gcReader{r: bytes.NewReader(content), s: s}
	a, err := s.PutArtifactStream(nil, g)
	if err != nil {
		t.Fatal(err)
	}
	if !g.ran || g.err != nil || g.removed != 0 {
		t.Fatalf("GC during the put: ran %v, removed %d, err %v; want 0 removed", g.ran, g.removed, g.err)
	}
	got, err := s.ReadArtifact(a.GetDigest())
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("ReadArtifact: %v", err)
	}
}

func TestManifestCodec(t *testing.T) {
	d := [digestSize]byte{1, 2, 3}
	tests := []struct {
		name   string
		size   int64
		chunks int
		ok     bool
	}{
		{"empty", 0, 0, true},
		{"one byte", 1, 1, true},
		{"full chunk", ChunkSize, 1, true},
		{"two chunks", ChunkSize + 1, 2, true},
		{"empty with a chunk", 0, 1, false},
		{"too big for chunks", ChunkSize + 1, 1, false},
		{"short chunks (parts)", ChunkSize, 2, true},
		{"fewer bytes than chunks", 1, 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds := make([][digestSize]byte, tt.chunks)
			for i := range ds {
				ds[i] = d
			}
			v := encodeManifest(tt.size, ds)
			size, got, err := decodeManifest(v)
			if !tt.ok {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("decodeManifest = %v, want ErrCorrupt", err)
				}
				return
			}
			if err != nil || size != tt.size || len(got) != tt.chunks {
				t.Fatalf("decodeManifest = %d, %d chunks, %v", size, len(got), err)
			}
		})
	}
	if _, _, err := decodeManifest([]byte{1, 2, 3}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("short manifest: %v", err)
	}
}

func FuzzDecodeManifest(f *testing.F) {
	f.Add(encodeManifest(0, nil))
	f.Add(encodeManifest(5, [][digestSize]byte{{9}}))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, v []byte) {
		size, ds, err := decodeManifest(v)
		if err != nil {
			return
		}
		if !bytes.Equal(encodeManifest(size, ds), v) {
			t.Fatalf("manifest %x does not round-trip", v)
		}
	})
}

func FuzzParseDigest(f *testing.F) {
	f.Add(CacheKey())
	f.Add("")
	f.Add("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseDigest(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidDigest) || !errors.Is(err, ErrNotFound) {
				t.Fatalf("parseDigest(%q) error %v does not match its sentinels", s, err)
			}
			return
		}
		if formatDigest(d[:]) != s {
			t.Fatalf("parseDigest(%q) is not canonical", s)
		}
	})
}

// BenchmarkPutArtifact measures storing 8 MiB artifacts: "unique" writes
// new chunks each time, "duplicate" re-stores existing content (hashing
// and dedupe only).
func BenchmarkPutArtifact(b *testing.B) {
	const size = 8 << 20
	for _, mode := range []string{"unique", "duplicate"} {
		b.Run(mode, func(b *testing.B) {
			s := openTestStore(b)
			content := randomBytes(42, size)
			b.SetBytes(size)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if mode == "unique" {
					for off := 0; off < size; off += ChunkSize {
						binary.BigEndian.PutUint64(content[off:], uint64(i))
					}
				}
				if _, err := s.PutArtifact(nil, content); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReadArtifact measures reading and verifying an 8 MiB artifact.
func BenchmarkReadArtifact(b *testing.B) {
	const size = 8 << 20
	s := openTestStore(b)
	a, err := s.PutArtifact(nil, randomBytes(43, size))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	for b.Loop() {
		if _, err := s.ReadArtifact(a.GetDigest()); err != nil {
			b.Fatal(err)
		}
	}
}

func TestConcurrentPutsAndGC(t *testing.T) {
	s := openTestStore(t)
	const writers = 4
	contents := make([][]byte, writers)
	for i := range contents {
		// Writers share their first chunk, so dedupe and pins overlap.
		contents[i] = append(randomBytes(77, ChunkSize), randomBytes(uint64(i), ChunkSize/2)...)
	}
	errs := make(chan error, 2*writers)
	digests := make([]string, writers)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 20; i++ {
			if _, err := s.GC(); err != nil {
				errs <- err
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := s.PutArtifactStream(&orchestratorv1.Artifact{RunId: "r"}, bytes.NewReader(contents[i]))
			if err != nil {
				errs <- err
				return
			}
			digests[i] = a.GetDigest()
		}()
	}
	wg.Wait()
	<-done
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i, d := range digests {
		got, err := s.ReadArtifact(d)
		if err != nil || !bytes.Equal(got, contents[i]) {
			t.Fatalf("artifact %d: %v", i, err)
		}
	}
	if problems, err := s.Check(); err != nil || len(problems) != 0 {
		t.Fatalf("Check = %q, %v", problems, err)
	}
}

// TestStartGCRunsAtOnce: StartGC sweeps orphans before it returns and
// reports what it removed.
func TestStartGCRunsAtOnce(t *testing.T) {
	s := openTestStore(t)
	orphan := randomBytes(5, 300)
	err := s.db.Update(func(tx *bolt.Tx) error {
		var added [][digestSize]byte
		return putChunks(tx, []pendingChunk{{digest: sha256.Sum256(orphan), data: orphan}}, &added)
	})
	if err != nil {
		t.Fatal(err)
	}
	var gotN int
	var gotB int64
	s.StartGC(t.Context(), time.Hour, func(n int, b int64, err error) {
		if err != nil {
			t.Error(err)
		}
		gotN, gotB = n, b
	})
	if gotN != 1 || gotB != 300 {
		t.Fatalf("first GC removed %d chunks of %d bytes, want 1 of 300", gotN, gotB)
	}
	if u, err := s.Usage(); err != nil || u.Chunks != 0 {
		t.Fatalf("after StartGC: %+v, %v", u, err)
	}
}

// TestSameContentOtherPartsLeavesNoOrphans: content stored once whole and
// again in parts (other chunks, same digest) keeps the first manifest and
// drops the second write's chunks.
func TestSameContentOtherPartsLeavesNoOrphans(t *testing.T) {
	s := openTestStore(t)
	content := randomBytes(6, 3000)
	a, err := s.PutArtifact(nil, content)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.PutArtifactParts(nil, [][]byte{content[:1000], content[1000:]})
	if err != nil || b.GetDigest() != a.GetDigest() {
		t.Fatalf("PutArtifactParts = %v, %v; want the same artifact", b, err)
	}
	if u, err := s.Usage(); err != nil || u.Chunks != 1 || u.OrphanChunks != 0 {
		t.Fatalf("Usage = %+v, %v; want the one chunk of the first write", u, err)
	}
	got, err := s.ReadArtifact(a.GetDigest())
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("ReadArtifact: %v", err)
	}
}
