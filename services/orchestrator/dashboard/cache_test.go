package dashboard

import (
	"fmt"
	"testing"
)

func TestLRU(t *testing.T) {
	c := newLRU(100)
	c.add("a", 1, 40)
	c.add("b", 2, 40)
	if _, ok := c.get("a"); !ok { // a is now the most recent
		t.Fatal("a missing")
	}
	c.add("c", 3, 40) // evicts b, the least recently used
	if _, ok := c.get("b"); ok {
		t.Error("b survived eviction")
	}
	for _, k := range []string{"a", "c"} {
		if _, ok := c.get(k); !ok {
			t.Errorf("%s evicted", k)
		}
	}
	c.add("huge", 4, 1000) // larger than the cache: not stored
	if _, ok := c.get("huge"); ok || c.len() != 2 {
		t.Errorf("an oversized value was stored (len %d)", c.len())
	}
	c.add("a", 5, 90) // replacing grows a; c goes
	if v, _ := c.get("a"); v != 5 {
		t.Errorf("a = %v after replacing", v)
	}
	if c.len() != 1 || c.bytes != 90 {
		t.Errorf("len %d bytes %d, want 1 and 90", c.len(), c.bytes)
	}
	for i := range 1000 {
		c.add(fmt.Sprint(i), i, 0) // size 0 counts as 1
	}
	if c.len() != 100 || c.bytes > c.maxBytes {
		t.Errorf("len %d bytes %d over the bound", c.len(), c.bytes)
	}
}
