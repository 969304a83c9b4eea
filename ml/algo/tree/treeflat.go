package tree

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"unsafe"

	"github.com/alur-ml/alur/ml/algo/internal/numeric"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// treeLeafCountsExact reports whether every leaf value of the wide tree t
// is a count divided by the leaf's samples, so that TreeModel.leaf_counts
// can store the counts and give back bit-identical values: true for an
// unweighted classification tree, where a leaf's value is its class counts
// over their sum.
func treeLeafCountsExact(t *datav1.TreeModel) bool {
	k := int(t.NumOutputs)
	if k < 2 || len(t.Samples) != len(t.Feature) {
		return false
	}
	for i, f := range t.Feature {
		if f >= 0 {
			continue
		}
		s := t.Samples[i]
		if s <= 0 || s > 1<<52 {
			return false
		}
		var sum int64
		for _, v := range t.Value[i*k : (i+1)*k] {
			c := math.Round(v * float64(s))
			if !(c >= 0) || c/float64(s) != v {
				return false
			}
			sum += int64(c)
		}
		if sum != s {
			return false
		}
	}
	return true
}

// Compact returns the compact form of the wide tree t (which must be
// valid): a TreeModel with only num_outputs, nodes and leaf_counts set.
// stack is scratch, returned for reuse.
func Compact(t *datav1.TreeModel, stack []int32) (*datav1.TreeModel, []int32) {
	k := int(t.NumOutputs)
	counts := treeLeafCountsExact(t)
	// Size first, so the bytes take exactly their length: a forest keeps
	// every tree in memory until the model is sent.
	size := 0
	for i, f := range t.Feature {
		switch {
		case f >= 0:
			size += uvarintLen(treeSplitTag(f, t.Threshold[i])) + treeThresholdBytes(t.Threshold[i])
		case counts:
			size++
			if c, ok := treePureLeaf(t, i); ok {
				size += uvarintLen(c)
				break
			}
			size++
			s := float64(t.Samples[i])
			for _, v := range t.Value[i*k : (i+1)*k] {
				size += uvarintLen(uint64(math.Round(v * s)))
			}
		default:
			size += 1 + uvarintLen(uint64(treeSamples(t, i))) + 8*k
		}
	}
	dst := make([]byte, 0, size)
	stack = append(stack[:0], 0)
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		f := t.Feature[i]
		if f >= 0 {
			thr := t.Threshold[i]
			dst = binary.AppendUvarint(dst, treeSplitTag(f, thr))
			if treeThresholdBytes(thr) == 4 {
				dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(float32(thr)))
			} else {
				dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(thr))
			}
			stack = append(stack, t.Right[i], t.Left[i])
			continue
		}
		dst = append(dst, 0)
		vals := t.Value[int(i)*k : (int(i)+1)*k]
		if counts {
			if c, ok := treePureLeaf(t, int(i)); ok {
				dst = binary.AppendUvarint(dst, c)
				continue
			}
			dst = append(dst, 0)
			s := float64(t.Samples[i])
			for _, v := range vals {
				dst = binary.AppendUvarint(dst, uint64(math.Round(v*s)))
			}
			continue
		}
		dst = binary.AppendUvarint(dst, uint64(treeSamples(t, int(i))))
		for _, v := range vals {
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(v))
		}
	}
	return &datav1.TreeModel{NumOutputs: t.NumOutputs, Nodes: dst, LeafCounts: counts}, stack
}

// treePureLeaf returns the code of leaf i when every one of its rows is of
// one class c: 1 + c + k·(rows − 1), one byte for small pure leaves, the
// common leaf of a fully grown tree. It is only called when leaf counts
// are exact (treeLeafCountsExact).
func treePureLeaf(t *datav1.TreeModel, i int) (uint64, bool) {
	k := int(t.NumOutputs)
	for c, v := range t.Value[i*k : (i+1)*k] {
		if v == 1 {
			return 1 + uint64(c) + uint64(k)*uint64(t.Samples[i]-1), true
		}
	}
	return 0, false
}

// treeThresholdBytes is 4 when thr is exactly a binary32 number, else 8.
func treeThresholdBytes(thr float64) int {
	if float64(float32(thr)) == thr {
		return 4
	}
	return 8
}

// treeSplitTag is the tag of a split on feature f at thr in the compact
// form: 2f+1 before a binary64 threshold, 2f+2 before a binary32 one.
func treeSplitTag(f int32, thr float64) uint64 {
	if treeThresholdBytes(thr) == 4 {
		return 2*uint64(f) + 2
	}
	return 2*uint64(f) + 1
}

// treeSamples returns node i's sample count, 0 when t has none.
func treeSamples(t *datav1.TreeModel, i int) int64 {
	if len(t.Samples) == 0 {
		return 0
	}
	return max(t.Samples[i], 0)
}

// uvarintLen is the length of v as an unsigned varint.
func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// treeFlatNode is one node laid out for prediction. A split's left child
// is the node after it. A leaf has key 0, feature 0 and next pointing to
// itself: every row goes "right" from it (no order key is 0), so a step
// from a leaf keeps a row in place.
type treeFlatNode struct {
	// key is the split threshold as treeOrderKey: the walk compares
	// integers, without branching.
	key uint64
	// feature is the split feature.
	feature int32
	// next is a split's right child, or the leaf itself.
	next int32
}

// treeFlat is a tree ensemble laid out for prediction.
type treeFlat struct {
	// nodes holds every tree in preorder, one after the other.
	nodes []treeFlatNode
	// roots are the trees' first nodes.
	roots []int32
	// values holds k values per leaf.
	values []float64
	// leafOff is each node's offset in values, -1 for a split.
	leafOff []int32
	// depth is the length of the longest path from a root to a leaf.
	depth int
	// samples holds each leaf's sample count, parallel to values / k; it
	// is filled only when keepSamples is set (to expand a tree).
	samples     []int64
	keepSamples bool
	k           int
	pending     []treePending
	// shared maps a hash of a leaf's k values to the offset of the first
	// leaf with them, so that equal leaves share one copy of their values
	// (most leaves of a fully grown classification tree are pure: one of
	// k vectors). It is nil when keepSamples is set, and dropped by trim.
	shared map[uint64]int32
}

// treeValuesHash hashes a leaf's values bit for bit.
func treeValuesHash(vals []float64) uint64 {
	h := uint64(14695981039346656037)
	for _, v := range vals {
		h ^= math.Float64bits(v)
		h *= 1099511628211
		h ^= h >> 29
	}
	return h
}

// shareLeaf returns the offset of values equal bit for bit to the k values
// just appended at off, dropping them when an earlier leaf has the same.
func (fl *treeFlat) shareLeaf(off int) int {
	if fl.keepSamples {
		return off
	}
	if fl.shared == nil {
		fl.shared = map[uint64]int32{}
	}
	vals := fl.values[off : off+fl.k]
	h := treeValuesHash(vals)
	o, ok := fl.shared[h]
	if !ok {
		fl.shared[h] = int32(off)
		return off
	}
	for j, v := range fl.values[o : int(o)+fl.k] {
		if math.Float64bits(v) != math.Float64bits(vals[j]) {
			return off // a hash collision: keep the leaf's own copy
		}
	}
	fl.values = fl.values[:off]
	return int(o)
}

// treePending is a split whose right subtree has not been decoded yet.
type treePending struct{ id, depth int32 }

// addLeaf appends a leaf whose values start at off, at depth.
func (fl *treeFlat) addLeaf(off, depth int) {
	off = fl.shareLeaf(off)
	ni := int32(len(fl.nodes))
	fl.nodes = append(fl.nodes, treeFlatNode{next: ni})
	fl.leafOff = append(fl.leafOff, int32(off))
	fl.depth = max(fl.depth, depth)
}

// addSplit appends a split on feature f at thr; its right child is set
// later.
func (fl *treeFlat) addSplit(f int32, thr float64) {
	fl.nodes = append(fl.nodes, treeFlatNode{key: treeOrderKey(thr), feature: f})
	fl.leafOff = append(fl.leafOff, -1)
}

// addTree appends t, which may be wide or compact, checking it against
// numFeatures features and the ensemble's k outputs.
func (fl *treeFlat) addTree(t *datav1.TreeModel, numFeatures int) error {
	if t == nil {
		return errors.New("tree is missing")
	}
	if t.NumOutputs < 1 {
		return fmt.Errorf("tree num_outputs %d must be at least 1", t.NumOutputs)
	}
	if int(t.NumOutputs) != fl.k {
		return fmt.Errorf("tree has %d outputs, tree 0 has %d", t.NumOutputs, fl.k)
	}
	if len(t.Nodes) == 0 {
		if t.LeafCounts {
			return errors.New("tree sets leaf_counts but has no compact nodes")
		}
		if err := Validate(t, numFeatures); err != nil {
			return err
		}
		fl.addWide(t)
		return nil
	}
	if len(t.Feature) != 0 || len(t.Threshold) != 0 || len(t.Left) != 0 || len(t.Right) != 0 || len(t.Value) != 0 || len(t.Samples) != 0 {
		return errors.New("tree has both compact nodes and node arrays; it must have one form")
	}
	return fl.addCompact(t, numFeatures)
}

// addWide appends a validated wide tree, renumbering its nodes in preorder.
func (fl *treeFlat) addWide(t *datav1.TreeModel) {
	k := fl.k
	// The arrays grow once: a binary tree of n nodes has (n+1)/2 leaves.
	n := len(t.Feature)
	fl.nodes = slices.Grow(fl.nodes, n)
	fl.leafOff = slices.Grow(fl.leafOff, n)
	fl.values = slices.Grow(fl.values, (n+1)/2*k)
	fl.roots = append(fl.roots, int32(len(fl.nodes)))
	// Each stack entry is an old node index, the new node whose right
	// child it is (-1 for a left child or the root) and its depth.
	type entry struct{ old, patch, depth int32 }
	stack := []entry{{0, -1, 0}}
	for len(stack) > 0 {
		e := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		ni := int32(len(fl.nodes))
		if e.patch >= 0 {
			fl.nodes[e.patch].next = ni
		}
		f := t.Feature[e.old]
		if f < 0 {
			off := len(fl.values)
			fl.values = append(fl.values, t.Value[int(e.old)*k:(int(e.old)+1)*k]...)
			if fl.keepSamples {
				fl.samples = append(fl.samples, treeSamples(t, int(e.old)))
			}
			fl.addLeaf(off, int(e.depth))
			continue
		}
		fl.addSplit(f, t.Threshold[e.old])
		stack = append(stack, entry{t.Right[e.old], ni, e.depth + 1}, entry{t.Left[e.old], -1, e.depth + 1})
	}
}

// addCompact decodes and checks a compact tree: varints that end, features
// in range, thresholds that are not NaN, finite values, leaves whose
// counts are not all zero, and no bytes after the last subtree.
func (fl *treeFlat) addCompact(t *datav1.TreeModel, numFeatures int) error {
	data := t.Nodes
	k := fl.k
	// Every node takes at least 2 bytes but leaves of one byte code; about
	// 4.5 on average in a fully grown forest. Sizing for that saves the
	// copies of growing the arrays node by node.
	if guess := len(data) / 4; cap(fl.nodes)-len(fl.nodes) < guess {
		fl.nodes = slices.Grow(fl.nodes, guess)
		fl.leafOff = slices.Grow(fl.leafOff, guess)
		fl.values = slices.Grow(fl.values, guess/2*k)
	}
	fl.roots = append(fl.roots, int32(len(fl.nodes)))
	pending := fl.pending[:0]
	defer func() { fl.pending = pending[:0] }()
	pos := 0
	depth := int32(0)
	for {
		id := len(fl.nodes)
		if id >= math.MaxInt32 || len(fl.values)+k >= math.MaxInt32 {
			return errors.New("trees too large")
		}
		tag, w := binary.Uvarint(data[pos:])
		if w <= 0 {
			return fmt.Errorf("compact node %d: truncated or overlong varint at byte %d", id, pos)
		}
		pos += w
		if tag != 0 {
			f := (tag - 1) / 2
			if f >= uint64(numFeatures) {
				return fmt.Errorf("compact node %d splits on feature %d, but there are %d features", id, f, numFeatures)
			}
			size := 8
			if tag%2 == 0 {
				size = 4
			}
			if len(data)-pos < size {
				return fmt.Errorf("compact node %d: threshold truncated at byte %d", id, pos)
			}
			var thr float64
			if size == 4 {
				thr = float64(math.Float32frombits(binary.LittleEndian.Uint32(data[pos:])))
			} else {
				thr = math.Float64frombits(binary.LittleEndian.Uint64(data[pos:]))
			}
			pos += size
			if math.IsNaN(thr) {
				return fmt.Errorf("compact node %d has a NaN threshold", id)
			}
			fl.addSplit(int32(f), thr)
			pending = append(pending, treePending{int32(id), depth})
			depth++
			continue
		}
		off := len(fl.values)
		var samples uint64
		if t.LeafCounts {
			var err error
			if pos, samples, err = fl.countLeaf(data, pos, id); err != nil {
				return err
			}
		} else {
			s, w := binary.Uvarint(data[pos:])
			if w <= 0 {
				return fmt.Errorf("compact leaf %d: truncated or overlong samples at byte %d", id, pos)
			}
			pos += w
			samples = min(s, math.MaxInt64)
			if len(data)-pos < 8*k {
				return fmt.Errorf("compact leaf %d: values truncated at byte %d", id, pos)
			}
			for range k {
				v := math.Float64frombits(binary.LittleEndian.Uint64(data[pos:]))
				pos += 8
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return fmt.Errorf("compact leaf %d has a non-finite value", id)
				}
				fl.values = append(fl.values, v)
			}
		}
		if fl.keepSamples {
			fl.samples = append(fl.samples, int64(samples))
		}
		fl.addLeaf(off, int(depth))
		if len(pending) == 0 {
			break
		}
		// The next node is the right child of the deepest split whose right
		// subtree has not started.
		p := pending[len(pending)-1]
		pending = pending[:len(pending)-1]
		fl.nodes[p.id].next = int32(len(fl.nodes))
		depth = p.depth + 1
		if pos >= len(data) {
			return fmt.Errorf("compact tree truncated: node %d has no right subtree", p.id)
		}
	}
	if pos != len(data) {
		return fmt.Errorf("compact tree has %d bytes after its last node", len(data)-pos)
	}
	return nil
}

// countLeaf decodes the value of leaf id, stored as class counts (see
// TreeModel.leaf_counts), from data[pos:], appends it to fl.values and
// returns the position after it and the leaf's samples.
func (fl *treeFlat) countLeaf(data []byte, pos, id int) (int, uint64, error) {
	k := uint64(fl.k)
	h, w := binary.Uvarint(data[pos:])
	if w <= 0 {
		return 0, 0, fmt.Errorf("compact leaf %d: truncated or overlong varint at byte %d", id, pos)
	}
	pos += w
	if h > 0 {
		// A pure leaf: one class and its rows in the code.
		c, rows := (h-1)%k, (h-1)/k+1
		if rows > 1<<52 {
			return 0, 0, fmt.Errorf("compact leaf %d: counts too large", id)
		}
		for j := range k {
			v := 0.0
			if j == c {
				v = 1
			}
			fl.values = append(fl.values, v)
		}
		return pos, rows, nil
	}
	off := len(fl.values)
	var samples uint64
	for range k {
		c, w := binary.Uvarint(data[pos:])
		if w <= 0 {
			return 0, 0, fmt.Errorf("compact leaf %d: truncated or overlong count at byte %d", id, pos)
		}
		pos += w
		if c > 1<<52 || samples+c > 1<<52 {
			return 0, 0, fmt.Errorf("compact leaf %d: counts too large", id)
		}
		samples += c
		fl.values = append(fl.values, float64(c))
	}
	if samples == 0 {
		return 0, 0, fmt.Errorf("compact leaf %d has no rows", id)
	}
	// The sum of whole numbers below 2^53 is exact, so each value is the
	// count over the total exactly as the tree was grown.
	total := float64(samples)
	for j := range fl.values[off:] {
		fl.values[off+j] /= total
	}
	return pos, samples, nil
}

// treeOrderKey maps a value to a uint64 whose unsigned order is the
// values' order (numeric.SortKey), with -0 and +0 equal and NaN mapped as -Inf,
// below or equal to every threshold: a row goes right exactly when
// key(x) > key(threshold), that is when x > threshold, and a missing
// value goes left.
func treeOrderKey(v float64) uint64 {
	switch {
	case v != v:
		v = math.Inf(-1)
	case v == 0:
		v = 0
	}
	return numeric.SortKey(v)
}

// treeKeyValue inverts treeOrderKey (giving +0 for zero).
func treeKeyValue(k uint64) float64 {
	if k>>63 != 0 {
		return math.Float64frombits(k &^ (1 << 63))
	}
	return math.Float64frombits(^k)
}

// treeRowKeys writes the treeOrderKey of each value of x to dst.
func treeRowKeys(dst []uint64, x []float64) {
	for j, v := range x {
		dst[j] = treeOrderKey(v)
	}
}

// treeWalkRows is how many rows leaves walks down a tree together; leaves
// is unrolled for exactly this many.
const treeWalkRows = 8

// treePackedNode is one node of a treePacked: the split's threshold as
// treeOrderKey and both children. A leaf has key 0 and both children
// itself, so a step from it keeps a row in place.
type treePackedNode struct {
	key         uint64
	left, right int32
}

// treePacked is one tree laid out compactly for prediction, as a server
// keeps it: its splits in preorder, then one leaf node per distinct leaf
// value vector (the leaves of a fully grown classification tree are
// mostly pure, so they fold into a few nodes), with the leaves' values in
// leaf order. A split takes 10 bytes when every threshold of the tree is
// a binary32 number (treeNarrowNode), else 16 (treeSmallNode) or, in a
// tree of more than 65,536 packed nodes, 20; a leaf takes nothing but its
// values when another leaf has the same. The preorder treeFlat it is made
// from takes 40 bytes and k values per leaf and split pair.
type treePacked struct {
	// small holds the nodes of a tree of at most 65,536 packed nodes (a
	// split in 16 bytes); nodes and feats are then nil.
	small []treeSmallNode
	// narrow holds the nodes of a small tree whose thresholds are all
	// binary32 numbers (a split in 10 bytes); small, nodes and feats are
	// then nil.
	narrow []treeNarrowNode
	nodes  []treePackedNode
	// feats is each node's split feature, 0 for a leaf.
	feats []int32
	// values holds k values per leaf node, node nsplit first.
	values []float64
	nsplit int32
	k      int32
}

// treeSmallNode is a treePackedNode with its feature and 16-bit
// children, for trees of at most 65,536 packed nodes: 16 bytes a split
// where treePackedNode and its feature take 20.
type treeSmallNode struct {
	key         uint64
	left, right uint16
	feat        uint32
}

// treeSmallMax is the most packed nodes a tree of treeSmallNodes (or
// treeNarrowNodes) may have (a variable so that tests can walk the wide
// form too).
var treeSmallMax = 1 << 16

// treeNarrowNode is a treeSmallNode whose threshold is a binary32 number,
// for trees whose every threshold is one (the forest's, see
// treeShortThreshold) on at most 65,536 features: its key as
// treeOrderKey32 in bytes 0-3, its feature in 4-5 and its children in 6-7
// and 8-9, little-endian, 10 bytes a split. A byte array rather than a
// struct of a uint32 and three uint16 fields, which Go would pad to 12
// bytes; the loads compile to one 32-bit and three 16-bit moves. A row
// then needs its values as treeRowKey32, rounded up to binary32, which
// sends it the same way as its exact value (see treeOrderKey32).
type treeNarrowNode [10]byte

// treeNarrow says whether pack may use treeNarrowNodes (a variable so
// that tests can walk the 16-byte form too).
var treeNarrow = true

// pack returns the one tree of fl packed for prediction.
func (fl *treeFlat) pack() *treePacked {
	k := fl.k
	newIdx := make([]int32, len(fl.nodes))
	nsplit := int32(0)
	for i, off := range fl.leafOff {
		if off < 0 {
			newIdx[i] = nsplit
			nsplit++
		}
	}
	// Leaves whose values fl shares (shareLeaf) share a node.
	leafOf := map[int32]int32{}
	nleaf := int32(0)
	for i, off := range fl.leafOff {
		if off < 0 {
			continue
		}
		id, ok := leafOf[off]
		if !ok {
			id = nsplit + nleaf
			nleaf++
			leafOf[off] = id
		}
		newIdx[i] = id
	}
	p := &treePacked{
		nodes:  make([]treePackedNode, nsplit+nleaf),
		feats:  make([]int32, nsplit+nleaf),
		values: make([]float64, int(nleaf)*k),
		nsplit: nsplit,
		k:      int32(k),
	}
	for i, nd := range fl.nodes {
		j := newIdx[i]
		if off := fl.leafOff[i]; off >= 0 {
			p.nodes[j] = treePackedNode{left: j, right: j}
			l := int(j-nsplit) * k
			copy(p.values[l:l+k], fl.values[off:int(off)+k])
			continue
		}
		p.nodes[j] = treePackedNode{key: nd.key, left: newIdx[i+1], right: newIdx[nd.next]}
		p.feats[j] = nd.feature
	}
	if len(p.nodes) <= treeSmallMax && treeNarrow && treeNarrowFits(p.nodes[:nsplit], p.feats) {
		p.narrow = make([]treeNarrowNode, len(p.nodes))
		for j, nd := range p.nodes {
			n := &p.narrow[j]
			key := uint32(0) // a leaf: every row goes "right", to itself
			if int32(j) < nsplit {
				key = treeOrderKey32(float32(treeKeyValue(nd.key)))
			}
			binary.LittleEndian.PutUint32(n[0:4], key)
			binary.LittleEndian.PutUint16(n[4:6], uint16(p.feats[j]))
			binary.LittleEndian.PutUint16(n[6:8], uint16(nd.left))
			binary.LittleEndian.PutUint16(n[8:10], uint16(nd.right))
		}
		p.nodes, p.feats = nil, nil
	} else if len(p.nodes) <= treeSmallMax {
		p.small = make([]treeSmallNode, len(p.nodes))
		for j, nd := range p.nodes {
			p.small[j] = treeSmallNode{key: nd.key, left: uint16(nd.left), right: uint16(nd.right), feat: uint32(p.feats[j])}
		}
		p.nodes, p.feats = nil, nil
	}
	return p
}

// leaves returns in out the values offsets of the leaves that
// treeWalkRows rows reach from the root; row g's order keys (treeRowKeys)
// start at keys[base[g]]. The rows step down in lockstep: each row's walk
// is a chain of dependent loads, so one row at a time leaves the core
// waiting on the cache at every level, while eight independent chains
// overlap those waits (the unrolled form keeps the eight node indexes in
// registers). A row that reached its leaf stays there, and the group stops
// when no row moved.
func (p *treePacked) leaves(keys []uint64, base *[treeWalkRows]int, out *[treeWalkRows]int32) {
	if p.small != nil {
		p.leavesSmall(keys, base, out)
		return
	}
	nodes, feats := p.nodes, p.feats
	var i0, i1, i2, i3, i4, i5, i6, i7 int32
	b0, b1, b2, b3, b4, b5, b6, b7 := base[0], base[1], base[2], base[3], base[4], base[5], base[6], base[7]
	for {
		j0 := treeStepPacked(&nodes[i0], keys[b0+int(feats[i0])])
		j1 := treeStepPacked(&nodes[i1], keys[b1+int(feats[i1])])
		j2 := treeStepPacked(&nodes[i2], keys[b2+int(feats[i2])])
		j3 := treeStepPacked(&nodes[i3], keys[b3+int(feats[i3])])
		j4 := treeStepPacked(&nodes[i4], keys[b4+int(feats[i4])])
		j5 := treeStepPacked(&nodes[i5], keys[b5+int(feats[i5])])
		j6 := treeStepPacked(&nodes[i6], keys[b6+int(feats[i6])])
		j7 := treeStepPacked(&nodes[i7], keys[b7+int(feats[i7])])
		if (j0^i0)|(j1^i1)|(j2^i2)|(j3^i3)|(j4^i4)|(j5^i5)|(j6^i6)|(j7^i7) == 0 {
			break
		}
		i0, i1, i2, i3, i4, i5, i6, i7 = j0, j1, j2, j3, j4, j5, j6, j7
	}
	k, ns := p.k, p.nsplit
	out[0], out[1], out[2], out[3] = (i0-ns)*k, (i1-ns)*k, (i2-ns)*k, (i3-ns)*k
	out[4], out[5], out[6], out[7] = (i4-ns)*k, (i5-ns)*k, (i6-ns)*k, (i7-ns)*k
}

// size is the bytes p's arrays take, for the memory bound of a prepared
// ensemble.
func (p *treePacked) size() int {
	return len(p.small)*int(unsafe.Sizeof(treeSmallNode{})) + len(p.narrow)*int(unsafe.Sizeof(treeNarrowNode{})) +
		len(p.nodes)*int(unsafe.Sizeof(treePackedNode{})) + 4*len(p.feats) + 8*len(p.values)
}

// treeNarrowFits reports whether splits, the packed splits of a tree of
// at most treeSmallMax nodes, and their features fit treeNarrowNodes:
// every threshold a binary32 number and every feature below 65,536.
func treeNarrowFits(splits []treePackedNode, feats []int32) bool {
	for j, nd := range splits {
		t := treeKeyValue(nd.key)
		if float64(float32(t)) != t || feats[j] > math.MaxUint16 {
			return false
		}
	}
	return true
}

// treeOrderKey32 is treeOrderKey for a binary32 number: unsigned order
// is the numbers' order, -0 and +0 are equal, NaN is -Inf. Every key is
// above 0, the key of a treeNarrowNode leaf.
func treeOrderKey32(v float32) uint32 {
	switch {
	case v != v:
		v = float32(math.Inf(-1))
	case v == 0:
		v = 0
	}
	b := math.Float32bits(v)
	if b>>31 != 0 {
		return ^b
	}
	return b | 1<<31
}

// treeRowKey32 is the key of x against binary32 thresholds: the
// treeOrderKey32 of the least binary32 number at or above x (NaN as
// -Inf). For a binary32 threshold t, that number is at most t exactly
// when x is, since t is itself a candidate; so the row goes right of t
// exactly when its exact value does, and the narrow walk predicts what
// the 8-byte keys would.
func treeRowKey32(x float64) uint32 {
	f := float32(x) // nearest; may be below x
	if float64(f) < x {
		f = math.Nextafter32(f, float32(math.Inf(1)))
	}
	return treeOrderKey32(f)
}

// leavesNarrow is leaves for a tree packed in treeNarrowNodes, with the
// keys of a group of rows as treeRowKey32, feature by feature: row g's
// key of feature f is keys[f][g]. The rows share one base, so the eight
// walks keep only their node indexes in registers, and the group stops
// when every row is at a leaf (leaves are numbered from nsplit). keys
// must hold the ensemble's features (Ensemble.Predict checks the width).
func (p *treePacked) leavesNarrow(keys [][treeWalkRows]uint32, out *[treeWalkRows]int32) {
	// The steps read the nodes and keys without bounds checks, which
	// would double the instructions of a step: every child index is below
	// len(p.narrow) and every feature below len(keys), as pack and the
	// tree checks (addTree) guarantee.
	nodes := unsafe.Pointer(unsafe.SliceData(p.narrow))
	kb := unsafe.Pointer(unsafe.SliceData(keys))
	ns := uint32(p.nsplit)
	var i0, i1, i2, i3, i4, i5, i6, i7 uint32
	for {
		// Each lane steps without branching, written out because the
		// compiler does not inline a function of that size: the node's
		// key − the row's, in 64 bits, has its high half all ones exactly
		// when the row goes right, which masks in the right child.
		n0 := (*treeNarrowNode)(unsafe.Add(nodes, uintptr(i0)*treeNarrowSize))
		r0 := uint32((uint64(binary.LittleEndian.Uint32(n0[0:4])) - uint64(*(*uint32)(unsafe.Add(kb, uintptr(binary.LittleEndian.Uint16(n0[4:6]))*treeKeyGroupSize+0*4)))) >> 32)
		i0 = uint32(binary.LittleEndian.Uint16(n0[6:8]))&^r0 | uint32(binary.LittleEndian.Uint16(n0[8:10]))&r0
		n1 := (*treeNarrowNode)(unsafe.Add(nodes, uintptr(i1)*treeNarrowSize))
		r1 := uint32((uint64(binary.LittleEndian.Uint32(n1[0:4])) - uint64(*(*uint32)(unsafe.Add(kb, uintptr(binary.LittleEndian.Uint16(n1[4:6]))*treeKeyGroupSize+1*4)))) >> 32)
		i1 = uint32(binary.LittleEndian.Uint16(n1[6:8]))&^r1 | uint32(binary.LittleEndian.Uint16(n1[8:10]))&r1
		n2 := (*treeNarrowNode)(unsafe.Add(nodes, uintptr(i2)*treeNarrowSize))
		r2 := uint32((uint64(binary.LittleEndian.Uint32(n2[0:4])) - uint64(*(*uint32)(unsafe.Add(kb, uintptr(binary.LittleEndian.Uint16(n2[4:6]))*treeKeyGroupSize+2*4)))) >> 32)
		i2 = uint32(binary.LittleEndian.Uint16(n2[6:8]))&^r2 | uint32(binary.LittleEndian.Uint16(n2[8:10]))&r2
		n3 := (*treeNarrowNode)(unsafe.Add(nodes, uintptr(i3)*treeNarrowSize))
		r3 := uint32((uint64(binary.LittleEndian.Uint32(n3[0:4])) - uint64(*(*uint32)(unsafe.Add(kb, uintptr(binary.LittleEndian.Uint16(n3[4:6]))*treeKeyGroupSize+3*4)))) >> 32)
		i3 = uint32(binary.LittleEndian.Uint16(n3[6:8]))&^r3 | uint32(binary.LittleEndian.Uint16(n3[8:10]))&r3
		n4 := (*treeNarrowNode)(unsafe.Add(nodes, uintptr(i4)*treeNarrowSize))
		r4 := uint32((uint64(binary.LittleEndian.Uint32(n4[0:4])) - uint64(*(*uint32)(unsafe.Add(kb, uintptr(binary.LittleEndian.Uint16(n4[4:6]))*treeKeyGroupSize+4*4)))) >> 32)
		i4 = uint32(binary.LittleEndian.Uint16(n4[6:8]))&^r4 | uint32(binary.LittleEndian.Uint16(n4[8:10]))&r4
		n5 := (*treeNarrowNode)(unsafe.Add(nodes, uintptr(i5)*treeNarrowSize))
		r5 := uint32((uint64(binary.LittleEndian.Uint32(n5[0:4])) - uint64(*(*uint32)(unsafe.Add(kb, uintptr(binary.LittleEndian.Uint16(n5[4:6]))*treeKeyGroupSize+5*4)))) >> 32)
		i5 = uint32(binary.LittleEndian.Uint16(n5[6:8]))&^r5 | uint32(binary.LittleEndian.Uint16(n5[8:10]))&r5
		n6 := (*treeNarrowNode)(unsafe.Add(nodes, uintptr(i6)*treeNarrowSize))
		r6 := uint32((uint64(binary.LittleEndian.Uint32(n6[0:4])) - uint64(*(*uint32)(unsafe.Add(kb, uintptr(binary.LittleEndian.Uint16(n6[4:6]))*treeKeyGroupSize+6*4)))) >> 32)
		i6 = uint32(binary.LittleEndian.Uint16(n6[6:8]))&^r6 | uint32(binary.LittleEndian.Uint16(n6[8:10]))&r6
		n7 := (*treeNarrowNode)(unsafe.Add(nodes, uintptr(i7)*treeNarrowSize))
		r7 := uint32((uint64(binary.LittleEndian.Uint32(n7[0:4])) - uint64(*(*uint32)(unsafe.Add(kb, uintptr(binary.LittleEndian.Uint16(n7[4:6]))*treeKeyGroupSize+7*4)))) >> 32)
		i7 = uint32(binary.LittleEndian.Uint16(n7[6:8]))&^r7 | uint32(binary.LittleEndian.Uint16(n7[8:10]))&r7
		if ((i0-ns)|(i1-ns)|(i2-ns)|(i3-ns)|(i4-ns)|(i5-ns)|(i6-ns)|(i7-ns))>>31 == 0 {
			break
		}
	}
	k, nsi := p.k, p.nsplit
	out[0], out[1], out[2], out[3] = (int32(i0)-nsi)*k, (int32(i1)-nsi)*k, (int32(i2)-nsi)*k, (int32(i3)-nsi)*k
	out[4], out[5], out[6], out[7] = (int32(i4)-nsi)*k, (int32(i5)-nsi)*k, (int32(i6)-nsi)*k, (int32(i7)-nsi)*k
}

// treeNarrowSize and treeKeyGroupSize are the strides of the nodes and
// of the key groups that leavesNarrow reads.
const (
	treeNarrowSize   = uintptr(unsafe.Sizeof(treeNarrowNode{}))
	treeKeyGroupSize = uintptr(unsafe.Sizeof([treeWalkRows]uint32{}))
)

// leavesSmall is leaves for a tree packed in treeSmallNodes.
func (p *treePacked) leavesSmall(keys []uint64, base *[treeWalkRows]int, out *[treeWalkRows]int32) {
	nodes := p.small
	var i0, i1, i2, i3, i4, i5, i6, i7 int32
	b0, b1, b2, b3, b4, b5, b6, b7 := base[0], base[1], base[2], base[3], base[4], base[5], base[6], base[7]
	for {
		n0 := &nodes[i0]
		n1 := &nodes[i1]
		n2 := &nodes[i2]
		n3 := &nodes[i3]
		n4 := &nodes[i4]
		n5 := &nodes[i5]
		n6 := &nodes[i6]
		n7 := &nodes[i7]
		j0 := treeStepSmall(n0, keys[b0+int(n0.feat)])
		j1 := treeStepSmall(n1, keys[b1+int(n1.feat)])
		j2 := treeStepSmall(n2, keys[b2+int(n2.feat)])
		j3 := treeStepSmall(n3, keys[b3+int(n3.feat)])
		j4 := treeStepSmall(n4, keys[b4+int(n4.feat)])
		j5 := treeStepSmall(n5, keys[b5+int(n5.feat)])
		j6 := treeStepSmall(n6, keys[b6+int(n6.feat)])
		j7 := treeStepSmall(n7, keys[b7+int(n7.feat)])
		if (j0^i0)|(j1^i1)|(j2^i2)|(j3^i3)|(j4^i4)|(j5^i5)|(j6^i6)|(j7^i7) == 0 {
			break
		}
		i0, i1, i2, i3, i4, i5, i6, i7 = j0, j1, j2, j3, j4, j5, j6, j7
	}
	k, ns := p.k, p.nsplit
	out[0], out[1], out[2], out[3] = (i0-ns)*k, (i1-ns)*k, (i2-ns)*k, (i3-ns)*k
	out[4], out[5], out[6], out[7] = (i4-ns)*k, (i5-ns)*k, (i6-ns)*k, (i7-ns)*k
}

// treeStepSmall is treeStepPacked for a treeSmallNode.
func treeStepSmall(nd *treeSmallNode, key uint64) int32 {
	_, borrow := bits.Sub64(nd.key, key, 0)
	right := -int32(borrow)
	return int32(nd.left)&^right | int32(nd.right)&right
}

// treeStepPacked moves a row one level down from nd given its key for
// nd's feature, without branching: the borrow of nd.key − key is 1
// exactly when the row goes right.
func treeStepPacked(nd *treePackedNode, key uint64) int32 {
	_, borrow := bits.Sub64(nd.key, key, 0)
	right := -int32(borrow)
	return nd.left&^right | nd.right&right
}

// treeStepKey is treeStep given the row's key for the node's feature.
func treeStepKey(nd *treeFlatNode, i int32, key uint64) int32 {
	_, borrow := bits.Sub64(nd.key, key, 0)
	right := -int32(borrow)
	return (i+1)&^right | nd.next&right
}

// Expand returns t in the wide form (feature, threshold, left, right,
// value and samples arrays) for code that walks a tree node by node. A
// wide tree is checked and returned as is. For a compact tree, the nodes
// keep their preorder numbering; an interior node's samples are the sum of
// its children's and its value their samples-weighted mean (the mean of
// the two when both have no samples).
func Expand(t *datav1.TreeModel, numFeatures int) (*datav1.TreeModel, error) {
	if t == nil {
		return nil, errors.New("tree is missing")
	}
	if len(t.Nodes) == 0 {
		if err := Validate(t, numFeatures); err != nil {
			return nil, err
		}
		return t, nil
	}
	fl := &treeFlat{k: int(t.NumOutputs), keepSamples: true}
	if err := fl.addTree(t, numFeatures); err != nil {
		return nil, err
	}
	n, k := len(fl.nodes), fl.k
	out := &datav1.TreeModel{
		NumOutputs: t.NumOutputs,
		Feature:    make([]int32, n),
		Threshold:  make([]float64, n),
		Left:       make([]int32, n),
		Right:      make([]int32, n),
		Value:      make([]float64, n*k),
		Samples:    make([]int64, n),
	}
	for i := n - 1; i >= 0; i-- {
		nd := fl.nodes[i]
		if off := int(fl.leafOff[i]); off >= 0 {
			out.Feature[i] = -1
			out.Left[i], out.Right[i] = -1, -1
			copy(out.Value[i*k:(i+1)*k], fl.values[off:off+k])
			out.Samples[i] = fl.samples[off/k]
			continue
		}
		out.Feature[i] = nd.feature
		out.Threshold[i] = treeKeyValue(nd.key)
		l, r := i+1, int(nd.next)
		out.Left[i], out.Right[i] = int32(l), int32(r)
		sl, sr := out.Samples[l], out.Samples[r]
		out.Samples[i] = sl + sr
		wl, wr := 0.5, 0.5
		if sl+sr > 0 {
			wl, wr = float64(sl)/float64(sl+sr), float64(sr)/float64(sl+sr)
		}
		for j := range k {
			out.Value[i*k+j] = wl*out.Value[l*k+j] + wr*out.Value[r*k+j]
		}
	}
	return out, nil
}
