package cache

import (
	"container/list"
	"sync"

	"github.com/applayer/applayer/web"
)

// Store keeps entries under their primary key, several per key when the
// responses vary. Implementations are safe for concurrent use.
type Store interface {
	// Get returns the entries stored under key, most recently stored
	// first, and counts as a use of them.
	Get(key string) []*Entry
	// Put stores e, replacing the entry of the same key and VaryKey.
	Put(e *Entry)
	// Delete removes every entry of key.
	Delete(key string)
	// Stats reports how many entries and bytes are stored.
	Stats() (entries int, bytes int64)
}

// DefaultMaxSize bounds a store whose MaxSize is zero: 64 MiB.
const DefaultMaxSize = 64 << 20

// Memory is a Store in memory bounded by MaxSize bytes (Entry.Size),
// evicting the least recently used entry first. The zero value works.
type Memory struct {
	// MaxSize is the bound in bytes (default DefaultMaxSize).
	MaxSize int64
	// OnEvict, when set, is called (under the store's lock) for each entry
	// evicted or replaced, so that a store built on Memory can drop what
	// it keeps beside it.
	OnEvict func(*Entry)

	mu    sync.Mutex
	byKey map[string][]*list.Element
	lru   list.List // front: most recently used; values *Entry
	size  int64
}

func (m *Memory) max() int64 {
	if m.MaxSize <= 0 {
		return DefaultMaxSize
	}
	return m.MaxSize
}

// Get implements Store.
func (m *Memory) Get(key string) []*Entry {
	m.mu.Lock()
	defer m.mu.Unlock()
	els := m.byKey[key]
	if len(els) == 0 {
		return nil
	}
	out := make([]*Entry, len(els))
	for i, el := range els {
		m.lru.MoveToFront(el)
		out[i] = el.Value.(*Entry)
	}
	return out
}

// Put implements Store. An entry larger than the whole bound is not kept.
func (m *Memory) Put(e *Entry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.byKey == nil {
		m.byKey = map[string][]*list.Element{}
	}
	els := m.byKey[e.Key]
	for i, el := range els {
		if old := el.Value.(*Entry); old.VaryKey == e.VaryKey {
			m.remove(el)
			els = append(els[:i:i], els[i+1:]...)
			break
		}
	}
	if e.Size() > m.max() {
		m.setKey(e.Key, els)
		return
	}
	el := m.lru.PushFront(e)
	m.size += e.Size()
	m.setKey(e.Key, append([]*list.Element{el}, els...))
	for m.size > m.max() {
		back := m.lru.Back()
		victim := back.Value.(*Entry)
		m.remove(back)
		m.setKey(victim.Key, without(m.byKey[victim.Key], back))
	}
}

func (m *Memory) setKey(key string, els []*list.Element) {
	if len(els) == 0 {
		delete(m.byKey, key)
	} else {
		m.byKey[key] = els
	}
}

func without(els []*list.Element, x *list.Element) []*list.Element {
	out := els[:0:0]
	for _, el := range els {
		if el != x {
			out = append(out, el)
		}
	}
	return out
}

func (m *Memory) remove(el *list.Element) {
	e := m.lru.Remove(el).(*Entry)
	m.size -= e.Size()
	if m.OnEvict != nil {
		m.OnEvict(e)
	}
}

// Delete implements Store.
func (m *Memory) Delete(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, el := range m.byKey[key] {
		m.remove(el)
	}
	delete(m.byKey, key)
}

// Stats implements Store.
func (m *Memory) Stats() (int, int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lru.Len(), m.size
}

// Select returns the stored entry for key that the request's fields
// select (RFC 9111 §4.1: the fields its Vary names match), the most
// recently stored first; nil when none does.
func Select(s Store, key string, reqHeader web.Header) *Entry {
	for _, e := range s.Get(key) {
		if e.VaryKey == SecondaryKey(reqHeader, e.Vary) {
			return e
		}
	}
	return nil
}
