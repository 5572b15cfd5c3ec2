package relay

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/cloudhooks/webhooks/functions/relay/fcmtest"
	"github.com/cloudhooks/webhooks/shared/idempotency"
	"github.com/cloudhooks/webhooks/shared/pattern"
	"github.com/cloudhooks/webhooks/shared/testenv"
)

// firestoreHarness is a harness whose claims live in the Firestore
// emulator, in a collection of its own.
func firestoreHarness(t *testing.T, rules string) (*harness, *firestore.Client, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("Firestore emulator: not under -short")
	}
	project, host := testenv.Firestore(t)
	t.Setenv("FIRESTORE_EMULATOR_HOST", host)
	client, err := firestore.NewClient(context.Background(), project)
	if err != nil {
		t.Fatalf("firestore.NewClient: %v", err)
	}
	t.Cleanup(func() { client.Close() })
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	collection := "relay-claims-" + hex.EncodeToString(b)
	store := idempotency.NewFirestore(client, collection, time.Minute, 0)
	return newHarness(t, rules, store), client, collection
}

const oneTopic = `[{name: r0, events: ["*"], to: {topic: payments}, notification: {title: "Paid {{.payload.amount}}"}}]`

func TestFirestoreDuplicatesSendOnce(t *testing.T) {
	h, _, _ := firestoreHarness(t, oneTopic)
	for i, want := range []string{ResultSent, resultDuplicate, resultDuplicate} {
		out, err := h.relay.Handle(context.Background(), newEvent("x", "evt_1", `{"amount":1}`))
		if err != nil || out.Result != want {
			t.Fatalf("delivery %d = %+v, %v; want %s", i, out, err, want)
		}
	}
	if n := h.fcm.Requests(); n != 1 {
		t.Fatalf("FCM got %d requests, want 1", n)
	}
}

// TestFirestoreConcurrentDeliveriesSendOnce delivers one event 20 times at
// once (FCM answering slowly so that deliveries overlap): exactly one FCM
// request, one "sent", and every other delivery a duplicate or a 503 to
// come back later.
func TestFirestoreConcurrentDeliveriesSendOnce(t *testing.T) {
	h, _, _ := firestoreHarness(t, oneTopic)
	h.fcm.SetLatency(200 * time.Millisecond)
	const n = 20
	var wg sync.WaitGroup
	outs := make([]pattern.Outcome, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			outs[i], errs[i] = h.relay.Handle(context.Background(), newEvent("x", "evt_1", `{"amount":1}`))
		})
	}
	close(start)
	wg.Wait()
	sent, later := 0, 0
	for i := range n {
		switch {
		case errs[i] == nil && outs[i].Result == ResultSent:
			sent++
		case errs[i] == nil && outs[i].Result == resultDuplicate:
		case errors.Is(errs[i], errInFlight):
			later++
		default:
			t.Errorf("delivery %d = %+v, %v", i, outs[i], errs[i])
		}
	}
	if sent != 1 {
		t.Errorf("%d deliveries sent, want 1", sent)
	}
	if r := h.fcm.Requests(); r != 1 {
		t.Fatalf("FCM got %d requests, want exactly 1", r)
	}
	if later == 0 {
		t.Logf("no delivery overlapped the send; all others were duplicates")
	}
}

// TestFirestoreFailedSendThenRetrySendsOnce proves a failed send releases
// the claim in Firestore and the provider's retry sends exactly once.
func TestFirestoreFailedSendThenRetrySendsOnce(t *testing.T) {
	h, _, _ := firestoreHarness(t, oneTopic)
	h.fcm.Fail(func(fcmtest.Received) *fcmtest.Failure { return fcmtest.Unavailable("600") })
	ctx := context.Background()
	ev := newEvent("x", "evt_1", `{"amount":1}`)
	var re *pattern.RetryableError
	if _, err := h.relay.Handle(ctx, ev); !errors.As(err, &re) || re.After != 600*time.Second {
		t.Fatalf("first delivery error = %v, want retryable after FCM's 600s", err)
	}
	h.fcm.Fail(nil)
	for i, want := range []string{ResultSent, resultDuplicate} {
		out, err := h.relay.Handle(ctx, ev)
		if err != nil || out.Result != want {
			t.Fatalf("retry %d = %+v, %v; want %s", i, out, err, want)
		}
	}
	if n := len(h.fcm.Sent()); n != 1 {
		t.Fatalf("FCM accepted %d messages, want 1", n)
	}
}

// TestFirestoreExpiredClaimIsTakenOver proves a claim left by a crashed
// instance blocks deliveries (503) until its lease passes, and is then
// taken over and sent once.
func TestFirestoreExpiredClaimIsTakenOver(t *testing.T) {
	h, client, collection := firestoreHarness(t, oneTopic)
	ctx := context.Background()
	key := claimKey("src", "r0", "evt_1")
	crashed := func(expires time.Time) {
		_, err := client.Collection(collection).Doc(idempotency.DocID(key)).Set(ctx, map[string]any{
			"key": key, "state": "in_flight", "claimed_at": expires.Add(-time.Minute), "expires_at": expires,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	ev := newEvent("x", "evt_1", `{"amount":1}`)

	crashed(time.Now().Add(time.Hour))
	if _, err := h.relay.Handle(ctx, ev); !errors.Is(err, errInFlight) {
		t.Fatalf("delivery during the lease = %v, want in flight", err)
	}
	crashed(time.Now().Add(-time.Second))
	if out, err := h.relay.Handle(ctx, ev); err != nil || out.Result != ResultSent {
		t.Fatalf("delivery after the lease = %+v, %v; want sent", out, err)
	}
	if out, err := h.relay.Handle(ctx, ev); err != nil || out.Result != resultDuplicate {
		t.Fatalf("next delivery = %+v, %v; want duplicate", out, err)
	}
	if n := len(h.fcm.Sent()); n != 1 {
		t.Fatalf("FCM accepted %d messages, want 1", n)
	}
}
