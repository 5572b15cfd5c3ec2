// Package idempotency makes a side effect happen once per event even though
// providers deliver at least once: a delivery claims a key before acting,
// completes it after, and releases it when the action failed so the
// provider's retry can act.
//
//	st, err := store.Claim(ctx, key)
//	switch {
//	case err != nil: // store unavailable: answer 503
//	case st == idempotency.Done: // already sent: answer 200
//	case st == idempotency.InFlight: // another delivery is acting: retry later
//	default: // Claimed: act, then Complete, or Release on failure
//	}
package idempotency

import "context"

// State is what Claim found for a key.
type State int

const (
	// Claimed means this caller now holds the key and must act, then
	// Complete or Release it.
	Claimed State = iota
	// InFlight means another delivery holds an unexpired claim.
	InFlight
	// Done means the action for this key was completed.
	Done
)

// Store records claims. Implementations: Firestore (deployed, and tested
// against the Firestore emulator) and Memory (local runs without Google
// Cloud); FromEnv picks the one the environment configures.
type Store interface {
	// Claim atomically creates the claim for key unless one exists.
	// A claim left by a crashed instance expires after the store's lease
	// and can then be claimed again.
	Claim(ctx context.Context, key string) (State, error)
	// Complete marks key done; it stays done until the store's retention
	// expires it.
	Complete(ctx context.Context, key string) error
	// Release drops a claim whose action failed, so a retry can claim it.
	Release(ctx context.Context, key string) error
}
