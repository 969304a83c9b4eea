package dashboard

import (
	"container/list"
	"sync"
)

// lru is a size-bounded least-recently-used cache of computed results.
// Its keys name content-addressed inputs (artifact digests), which never
// change, so an entry never goes stale; the bound only keeps memory in
// check. Safe for concurrent use.
type lru struct {
	mu       sync.Mutex
	maxBytes int64
	bytes    int64
	order    *list.List // front is most recently used; values are *lruEntry
	items    map[string]*list.Element
}

type lruEntry struct {
	key   string
	value any
	size  int64
}

// newLRU returns a cache holding at most maxBytes of values, as sized by
// the callers of add.
func newLRU(maxBytes int64) *lru {
	return &lru{maxBytes: maxBytes, order: list.New(), items: map[string]*list.Element{}}
}

// get returns the value stored under key and marks it recently used.
func (c *lru) get(key string) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*lruEntry).value, true
}

// add stores value under key with its approximate size in bytes, evicting
// the least recently used entries to stay within the bound. A value larger
// than the whole cache is not stored.
func (c *lru) add(key string, value any, size int64) {
	if size < 1 {
		size = 1
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		e := el.Value.(*lruEntry)
		c.bytes += size - e.size
		e.value, e.size = value, size
		c.order.MoveToFront(el)
	} else {
		if size > c.maxBytes {
			return
		}
		c.items[key] = c.order.PushFront(&lruEntry{key: key, value: value, size: size})
		c.bytes += size
	}
	for c.bytes > c.maxBytes && c.order.Len() > 0 {
		el := c.order.Back()
		e := el.Value.(*lruEntry)
		c.order.Remove(el)
		delete(c.items, e.key)
		c.bytes -= e.size
	}
}

// len returns the number of entries.
func (c *lru) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
