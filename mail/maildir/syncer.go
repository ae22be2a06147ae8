package maildir

import (
	"sync"

	"github.com/applayer/applayer/internal/atomicfile"
)

// Syncer fsyncs directories with group commit: requests that arrive while
// a batch is being synced are served together by the next batch. The zero
// value is ready to use.
type Syncer struct {
	mu      sync.Mutex
	pending map[string][]chan error
	busy    bool
}

// SyncDir makes the entries of dir durable: it returns after an fsync of
// dir that began after the call. The first caller to find the Syncer idle
// runs the batch holding its own request; if more requests arrived
// meanwhile, a goroutine goes on with them, so that no caller waits for
// more than its own batch.
func (s *Syncer) SyncDir(dir string) error {
	ch := make(chan error, 1)
	s.mu.Lock()
	if s.pending == nil {
		s.pending = map[string][]chan error{}
	}
	s.pending[dir] = append(s.pending[dir], ch)
	if s.busy {
		s.mu.Unlock()
		return <-ch
	}
	s.busy = true
	s.mu.Unlock()
	s.batch()
	s.mu.Lock()
	if len(s.pending) > 0 {
		go s.drain()
	} else {
		s.busy = false
	}
	s.mu.Unlock()
	return <-ch
}

// batch fsyncs every directory requested so far and answers the requests.
func (s *Syncer) batch() {
	s.mu.Lock()
	batch := s.pending
	s.pending = map[string][]chan error{}
	s.mu.Unlock()
	for d, waiters := range batch {
		err := atomicfile.SyncDir(d)
		for _, w := range waiters {
			w <- err
		}
	}
}

// drain runs batches until no request is left.
func (s *Syncer) drain() {
	for {
		s.batch()
		s.mu.Lock()
		if len(s.pending) == 0 {
			s.busy = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
	}
}
