package relay

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"

	firebase "firebase.google.com/go/v4"
	"golang.org/x/oauth2/google"

	"github.com/cloudhooks/webhooks/shared/idempotency"
	"github.com/cloudhooks/webhooks/shared/logging"
)

// messagingScope is the OAuth scope FCM's HTTP v1 API needs.
const messagingScope = "https://www.googleapis.com/auth/firebase.messaging"

// process holds the process's clients, made on first use by any source. A
// failed creation is not kept: the next event tries again.
var process struct {
	mu sync.Mutex
	d  *deps
}

// processDeps returns the process-wide clients, creating them once.
func processDeps(ctx context.Context) (*deps, error) {
	process.mu.Lock()
	defer process.mu.Unlock()
	if process.d != nil {
		return process.d, nil
	}
	s, err := processSettings()
	if err != nil {
		return nil, err
	}
	// Relay's clients serve Relay alone: every line of theirs is its.
	d, err := newDeps(ctx, s, logging.FromEnv().With(logging.FieldFunction, "Relay"))
	if err != nil {
		return nil, err
	}
	process.d = d
	return d, nil
}

// newDeps builds the clients the settings select: the FCM client and the
// idempotency store of s.Claims, or the dry-run recorder and an
// in-memory store.
//
// A project without Google credentials is a developer's machine with
// GOOGLE_CLOUD_PROJECT exported: a dry run too, with a warning. On Cloud
// Run (K_SERVICE set) missing credentials are an error instead, so a
// deployment can never silently stop sending.
func newDeps(ctx context.Context, s settings, log *slog.Logger) (*deps, error) {
	d := &deps{log: log, sendTimeout: s.SendTimeout}
	if !s.DryRun {
		if _, err := google.FindDefaultCredentials(ctx, messagingScope); err != nil {
			if s.OnCloudRun {
				return nil, fmt.Errorf("relay: Google credentials: %w", err)
			}
			log.Warn("relay: no Google credentials found; dry run", "error", err.Error())
			s.DryRun = true
		}
	}
	if s.DryRun {
		d.send = newRecorder(filepath.Join(s.DataDir, "relay", "messages.ndjson"), log)
		d.claims = idempotency.NewMemory(idempotency.DefaultLease)
		log.Info("relay: dry run: messages are recorded, not sent", "file", filepath.Join(s.DataDir, "relay", "messages.ndjson"))
		return d, nil
	}
	// Clients live as long as the process, beyond the request that made
	// them.
	life := context.WithoutCancel(ctx)
	app, err := firebase.NewApp(life, &firebase.Config{ProjectID: s.Project})
	if err != nil {
		return nil, fmt.Errorf("relay: firebase.NewApp: %w", err)
	}
	mc, err := app.Messaging(life)
	if err != nil {
		return nil, fmt.Errorf("relay: app.Messaging: %w", err)
	}
	claims, err := idempotency.FromSettings(life, s.Claims)
	if err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	d.send, d.claims = mc, claims
	return d, nil
}
