package store

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Memory is a Store in memory, for tests; it forgets everything on exit.
type Memory struct {
	mu       sync.Mutex
	visitors map[string]*Visitor
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory { return &Memory{visitors: map[string]*Visitor{}} }

// NewVisitor implements Store.
func (m *Memory) NewVisitor(ctx context.Context) (string, error) {
	id := NewID()
	now := time.Now()
	m.mu.Lock()
	m.visitors[id] = &Visitor{ID: id, FirstSeen: now, LastSeen: now}
	m.mu.Unlock()
	return id, nil
}

// Visit implements Store.
func (m *Memory) Visit(ctx context.Context, id string) (Visitor, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.visitors[id]
	if !ok {
		return Visitor{}, ErrUnknownVisitor
	}
	v.Visits++
	v.LastSeen = time.Now()
	return m.copyOf(v), nil
}

// Peek implements Store.
func (m *Memory) Peek(ctx context.Context, id string) (Visitor, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.visitors[id]
	if !ok {
		return Visitor{}, ErrUnknownVisitor
	}
	return m.copyOf(v), nil
}

func (m *Memory) copyOf(v *Visitor) Visitor {
	c := *v
	c.Notes = slices.Clone(v.Notes)
	return c
}

// AddNote implements Store.
func (m *Memory) AddNote(ctx context.Context, id, text string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.visitors[id]
	if !ok {
		return ErrUnknownVisitor
	}
	v.Notes = append([]Note{{Text: truncate(text, MaxNote), Created: time.Now()}}, v.Notes...)
	if len(v.Notes) > MaxNotes {
		v.Notes = v.Notes[:MaxNotes]
	}
	return nil
}

// Close implements Store; there is nothing to release.
func (m *Memory) Close() error { return nil }
