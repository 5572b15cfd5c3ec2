package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Claim document states, the values of the "state" field.
const (
	stateInFlight = "in_flight"
	stateDone     = "done"
)

// Firestore is a Store shared by every instance: one document per key in a
// collection, created with Create so that exactly one delivery wins.
//
// A document's id is the SHA-256 hex of its key (keys hold provider ids of
// any length and alphabet; ids must not contain "/"), and it holds:
//
//	key           the key itself, for people reading the collection
//	state         "in_flight" while a delivery acts, "done" after
//	claimed_at    when the current claim was made
//	completed_at  when it was completed (done only)
//	expires_at    claimed_at+lease while in flight, completed_at+retention
//	              once done; the terraform's TTL policy on this field
//	              deletes the document some time after it passes
//
// An expired document counts as absent even before the TTL policy deletes
// it, so a claim left by a crashed instance is taken over (by a
// compare-and-set update) once its lease passes.
type Firestore struct {
	client           *firestore.Client
	collection       string
	lease, retention time.Duration
	now              func() time.Time // time.Now; tests move it
}

var _ Store = (*Firestore)(nil)

// claimDoc is the stored form of a claim.
type claimDoc struct {
	Key         string    `firestore:"key"`
	State       string    `firestore:"state"`
	ClaimedAt   time.Time `firestore:"claimed_at,omitempty"`
	CompletedAt time.Time `firestore:"completed_at,omitempty"`
	ExpiresAt   time.Time `firestore:"expires_at"`
}

// NewFirestore returns a store of claims in collection. Claims expire after
// lease; completed keys after retention (DefaultRetention when zero).
func NewFirestore(client *firestore.Client, collection string, lease, retention time.Duration) *Firestore {
	if retention <= 0 {
		retention = DefaultRetention
	}
	return &Firestore{client: client, collection: collection, lease: lease, retention: retention, now: time.Now}
}

// DocID is the document id of key's claim: its SHA-256 in hex.
func DocID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

func (f *Firestore) ref(key string) *firestore.DocumentRef {
	return f.client.Collection(f.collection).Doc(DocID(key))
}

func (f *Firestore) newClaim(key string) claimDoc {
	now := f.now().UTC()
	return claimDoc{Key: key, State: stateInFlight, ClaimedAt: now, ExpiresAt: now.Add(f.lease)}
}

// claimAttempts bounds Claim's create/read/take-over rounds; each lost
// round means another delivery changed the claim meanwhile.
const claimAttempts = 3

// Claim creates key's claim; when one exists it reports it, or takes it
// over when it has expired.
//
// The take-over is a compare-and-set: an update with the read document's
// update time as precondition, so of several deliveries that find the same
// expired claim exactly one writes it. It needs no transaction, whose locks
// time out when many deliveries contend for one document.
func (f *Firestore) Claim(ctx context.Context, key string) (State, error) {
	ref := f.ref(key)
	for range claimAttempts {
		_, err := ref.Create(ctx, f.newClaim(key))
		if err == nil {
			return Claimed, nil
		}
		if status.Code(err) != codes.AlreadyExists {
			return 0, fmt.Errorf("idempotency: create claim %s: %w", ref.ID, err)
		}
		snap, err := ref.Get(ctx)
		if status.Code(err) == codes.NotFound {
			continue // released since: create again
		}
		if err != nil {
			return 0, fmt.Errorf("idempotency: read claim %s: %w", ref.ID, err)
		}
		if st, held, err := f.held(snap); err != nil || held {
			return st, err
		}
		c := f.newClaim(key)
		_, err = ref.Update(ctx, []firestore.Update{
			{Path: "key", Value: c.Key},
			{Path: "state", Value: c.State},
			{Path: "claimed_at", Value: c.ClaimedAt},
			{Path: "expires_at", Value: c.ExpiresAt},
			{Path: "completed_at", Value: firestore.Delete},
		}, firestore.LastUpdateTime(snap.UpdateTime))
		if err == nil {
			return Claimed, nil
		}
		if code := status.Code(err); code != codes.FailedPrecondition && code != codes.NotFound {
			return 0, fmt.Errorf("idempotency: take over claim %s: %w", ref.ID, err)
		}
		// Another delivery took it over or released it: look again.
	}
	// Every round lost to another delivery, which therefore holds it.
	return InFlight, nil
}

// held reports whether snap is an unexpired claim, and its state.
func (f *Firestore) held(snap *firestore.DocumentSnapshot) (State, bool, error) {
	if snap == nil || !snap.Exists() {
		return 0, false, nil
	}
	var c claimDoc
	if err := snap.DataTo(&c); err != nil {
		return 0, false, fmt.Errorf("idempotency: decode claim %s: %w", snap.Ref.ID, err)
	}
	if !c.ExpiresAt.After(f.now()) {
		return 0, false, nil
	}
	if c.State == stateDone {
		return Done, true, nil
	}
	return InFlight, true, nil
}

// Complete marks key done until the retention passes.
func (f *Firestore) Complete(ctx context.Context, key string) error {
	ref := f.ref(key)
	now := f.now().UTC()
	_, err := ref.Set(ctx, map[string]any{
		"key":          key,
		"state":        stateDone,
		"completed_at": now,
		"expires_at":   now.Add(f.retention),
	}, firestore.MergeAll)
	if err != nil {
		return fmt.Errorf("idempotency: complete claim %s: %w", ref.ID, err)
	}
	return nil
}

// Release deletes key's claim so that a retry can claim it. A done key is
// left alone, and so is a claim changed since it was read (taken over).
func (f *Firestore) Release(ctx context.Context, key string) error {
	ref := f.ref(key)
	snap, err := ref.Get(ctx)
	if status.Code(err) == codes.NotFound {
		return nil
	}
	if err != nil {
		return fmt.Errorf("idempotency: read claim %s: %w", ref.ID, err)
	}
	var c claimDoc
	if err := snap.DataTo(&c); err != nil {
		return fmt.Errorf("idempotency: decode claim %s: %w", ref.ID, err)
	}
	if c.State == stateDone {
		return nil
	}
	_, err = ref.Delete(ctx, firestore.LastUpdateTime(snap.UpdateTime))
	if code := status.Code(err); err != nil && code != codes.FailedPrecondition && code != codes.NotFound {
		return fmt.Errorf("idempotency: release claim %s: %w", ref.ID, err)
	}
	return nil
}
