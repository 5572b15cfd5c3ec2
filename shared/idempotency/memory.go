package idempotency

import (
	"context"
	"sync"
	"time"
)

// Memory is a Store held in this process: claims are lost when it exits and
// are not shared between instances. It serves local runs and tests; a
// deployment uses Firestore.
type Memory struct {
	lease, retention time.Duration
	now              func() time.Time // time.Now; tests move it

	mu     sync.Mutex
	claims map[string]memoryClaim
	// sweepAt is when expired claims are next dropped, so a long local run
	// does not grow without bound.
	sweepAt time.Time
}

type memoryClaim struct {
	state   State
	expires time.Time
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-process store whose claims expire after
// lease; completed keys are remembered for DefaultRetention.
func NewMemory(lease time.Duration) *Memory {
	return &Memory{
		lease:     lease,
		retention: DefaultRetention,
		now:       time.Now,
		claims:    make(map[string]memoryClaim),
	}
}

// Claim claims key unless an unexpired claim or completion holds it.
func (m *Memory) Claim(_ context.Context, key string) (State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.sweep(now)
	if c, ok := m.claims[key]; ok && c.expires.After(now) {
		if c.state == Done {
			return Done, nil
		}
		return InFlight, nil
	}
	m.claims[key] = memoryClaim{state: InFlight, expires: now.Add(m.lease)}
	return Claimed, nil
}

// Complete marks key done for the retention period.
func (m *Memory) Complete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.claims[key] = memoryClaim{state: Done, expires: m.now().Add(m.retention)}
	return nil
}

// Release drops key's claim unless it is done.
func (m *Memory) Release(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.claims[key]; ok && c.state != Done {
		delete(m.claims, key)
	}
	return nil
}

// sweep drops expired entries at most once per lease.
func (m *Memory) sweep(now time.Time) {
	if now.Before(m.sweepAt) {
		return
	}
	for k, c := range m.claims {
		if !c.expires.After(now) {
			delete(m.claims, k)
		}
	}
	m.sweepAt = now.Add(m.lease)
}
