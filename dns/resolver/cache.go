package resolver

import (
	"encoding/binary"
	"hash/maphash"
	"sync"
	"time"

	"github.com/applayer/applayer/dns"
)

// rank orders how far cached data is trusted (RFC 2181 §5.4.1): glue and
// referral NS sets only guide the iteration; answers may be served.
type rank uint8

const (
	rankGlue   rank = 1 // additional-section addresses, referral NS sets
	rankAnswer rank = 2 // the answer section of an authoritative answer
)

// typeNXDomain is the cache key type of a whole-name negative answer: an
// NXDOMAIN covers every type at the name (RFC 2308 §5).
const typeNXDomain dns.Type = 0

// entry is one cached RRset or negative answer.
type entry struct {
	rrs     []dns.RR // the RRset; for a negative answer, empty
	soa     *dns.RR  // a negative answer's SOA (with its negative TTL)
	rcode   dns.Rcode
	expires int64 // unix nanoseconds
	rank    rank
}

// DefaultCacheSize bounds the cache when Resolver.CacheSize is zero.
const DefaultCacheSize = 100_000

const shards = 16

// cache holds RRsets and negative answers keyed by lowercase name and type,
// in shards so that lookups on different names do not contend. Its size is
// bounded: a full shard evicts expired entries, then arbitrary ones (map
// order is random), so a flood of distinct names cannot grow it.
type cache struct {
	seed     maphash.Seed
	perShard int
	shard    [shards]struct {
		mu sync.RWMutex
		m  map[string]*entry
	}
}

func newCache(size int) *cache {
	if size <= 0 {
		size = DefaultCacheSize
	}
	c := &cache{seed: maphash.MakeSeed(), perShard: max(size/shards, 1)}
	for i := range c.shard {
		c.shard[i].m = make(map[string]*entry)
	}
	return c
}

// appendKey builds the key of (name, t) into b: the lowercase name and the
// type's two bytes.
func appendKey(b []byte, name string, t dns.Type) []byte {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	if len(name) == 0 || name[len(name)-1] != '.' {
		b = append(b, '.')
	}
	return binary.BigEndian.AppendUint16(b, uint16(t))
}

func (c *cache) shardOf(key []byte) int {
	return int(maphash.Bytes(c.seed, key) % shards)
}

// get returns the live entry for key with at least rank r.
func (c *cache) get(key []byte, r rank, now int64) *entry {
	s := &c.shard[c.shardOf(key)]
	s.mu.RLock()
	e := s.m[string(key)]
	s.mu.RUnlock()
	if e == nil || e.expires <= now || e.rank < r {
		return nil
	}
	return e
}

// put stores e under key unless a live entry of higher rank is there.
func (c *cache) put(key []byte, e *entry, now int64) {
	s := &c.shard[c.shardOf(key)]
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.m[string(key)]; old != nil && old.expires > now && old.rank > e.rank {
		return
	}
	if _, ok := s.m[string(key)]; !ok && len(s.m) >= c.perShard {
		evicted := 0
		for k, o := range s.m {
			if o.expires <= now || evicted == 0 {
				delete(s.m, k)
				evicted++
			}
			if evicted >= 8 {
				break
			}
		}
	}
	s.m[string(key)] = e
}

// Len returns the number of entries.
func (c *cache) Len() int {
	n := 0
	for i := range c.shard {
		c.shard[i].mu.RLock()
		n += len(c.shard[i].m)
		c.shard[i].mu.RUnlock()
	}
	return n
}

// ttlEntry builds an entry for an RRset: it lives for the smallest TTL of
// its records, capped at maxTTL.
func ttlEntry(rrs []dns.RR, r rank, now int64, maxTTL uint32) *entry {
	ttl := maxTTL
	for _, rr := range rrs {
		ttl = min(ttl, rr.TTL)
	}
	return &entry{rrs: rrs, rank: r, expires: now + int64(ttl)*int64(time.Second)}
}

// remaining returns the seconds e has left, for the TTLs of an answer.
func (e *entry) remaining(now int64) uint32 {
	d := (e.expires - now) / int64(time.Second)
	if d < 0 {
		return 0
	}
	return uint32(d)
}
