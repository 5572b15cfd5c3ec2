package relay

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/messaging"
	"golang.org/x/oauth2/google"

	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/idempotency"
	"github.com/cloudhooks/webhooks/shared/logging"
	"github.com/cloudhooks/webhooks/shared/ndjson"
)

// Environment variables of the Relay function, besides those of
// idempotency.FromEnv (FIRESTORE_DATABASE, IDEMPOTENCY_COLLECTION,
// IDEMPOTENCY_LEASE, IDEMPOTENCY_RETENTION, FIRESTORE_EMULATOR_HOST).
const (
	// EnvProject is the deployment's project: the Firebase project too,
	// unless EnvFirebaseProject names another. Unset: dry run.
	EnvProject = "GOOGLE_CLOUD_PROJECT"
	// EnvFirebaseProject is the Firebase project whose topics and tokens
	// messages go to, when it is not the deployment's (a team's existing
	// Firebase app); terraform's firebase_project.
	EnvFirebaseProject = "FIREBASE_PROJECT"
	// EnvDryRun set to 1 records messages instead of sending them, even
	// with a project.
	EnvDryRun = "RELAY_DRY_RUN"
	// EnvDataDir is the local data folder of dry runs.
	EnvDataDir = "WEBHOOKS_DATA_DIR"
	// EnvSendTimeout bounds one rule's send, FCM's own retries included
	// (Go duration). It must stay below the claim lease.
	EnvSendTimeout = "RELAY_SEND_TIMEOUT"
)

// messagingScope is the OAuth scope FCM's HTTP v1 API needs.
const messagingScope = "https://www.googleapis.com/auth/firebase.messaging"

// Defaults of the settings.
const (
	DefaultDataDir     = ".local/data"
	DefaultSendTimeout = 30 * time.Second
)

// settings is the Relay function's configuration, read at start-up.
type settings struct {
	Project     string
	DryRun      bool
	DataDir     string
	SendTimeout time.Duration
}

// lookupEnv is os.LookupEnv; a variable so that a test can read the
// settings from a map.
var lookupEnv = os.LookupEnv

// settingsFromEnv reads and checks the settings, naming each bad one.
func settingsFromEnv(lookup func(string) (string, bool)) (settings, error) {
	env := config.NewEnv(lookup)
	s := settings{
		Project:     env.String(EnvFirebaseProject, env.String(EnvProject, "")),
		DryRun:      env.Bool(EnvDryRun, false),
		DataDir:     env.String(EnvDataDir, DefaultDataDir),
		SendTimeout: env.Duration(EnvSendTimeout, DefaultSendTimeout),
	}
	if s.Project == "" {
		s.DryRun = true
	}
	// A send that outlasts its claim could be sent again by a redelivery
	// taking the claim over: the one thing Relay promises not to do.
	claims, err := idempotency.SettingsFromEnv(lookup)
	if err != nil {
		env.Fail(err)
	} else if s.SendTimeout >= claims.Lease {
		env.Fail(fmt.Errorf("%s=%s: must stay below the claim lease %s=%s", EnvSendTimeout, s.SendTimeout, idempotency.EnvLease, claims.Lease))
	}
	return s, env.Err()
}

// shared holds the process's clients, made on first use by any source. A
// failed creation is not kept: the next event tries again.
var shared struct {
	mu sync.Mutex
	d  *deps
}

// processDeps returns the process-wide clients, creating them once.
func processDeps(ctx context.Context) (*deps, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.d != nil {
		return shared.d, nil
	}
	s, err := settingsFromEnv(lookupEnv)
	if err != nil {
		return nil, err
	}
	// Relay's clients serve Relay alone: every line of theirs is its.
	d, err := newDeps(ctx, s, lookupEnv, logging.FromEnv().With(logging.FieldFunction, "Relay"))
	if err != nil {
		return nil, err
	}
	shared.d = d
	return d, nil
}

// newDeps builds the clients the settings select: the FCM client and the
// idempotency store of the environment, or the dry-run recorder and an
// in-memory store.
//
// A project without Google credentials is a developer's machine with
// GOOGLE_CLOUD_PROJECT exported: a dry run too, with a warning. On Cloud
// Run (K_SERVICE set) missing credentials are an error instead, so a
// deployment can never silently stop sending.
func newDeps(ctx context.Context, s settings, lookup func(string) (string, bool), log *slog.Logger) (*deps, error) {
	d := &deps{log: log, sendTimeout: s.SendTimeout}
	if !s.DryRun {
		if _, err := google.FindDefaultCredentials(ctx, messagingScope); err != nil {
			if _, onCloudRun := lookup("K_SERVICE"); onCloudRun {
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
	claims, err := idempotency.FromEnv(life, lookup)
	if err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	d.send, d.claims = mc, claims
	return d, nil
}

// record identifies a message in the dry-run file.
type record struct {
	Source string `json:"source"`
	Event  string `json:"event_id"`
	Rule   string `json:"rule"`
}

type recordKey struct{}

// withRecord tells the dry-run recorder which event a message is for.
func withRecord(ctx context.Context, r record) context.Context {
	return context.WithValue(ctx, recordKey{}, r)
}

// recorder is the dry-run sender: it appends each message, in FCM's own
// JSON form, to an NDJSON file and logs it, so a user sees exactly what a
// phone would receive. Token lists are recorded whole in the file (a local
// file of the user's own test data) but only counted in the log.
type recorder struct {
	file *ndjson.File
	log  *slog.Logger
	mu   sync.Mutex // numbers the messages in line order
	n    int
}

func newRecorder(path string, log *slog.Logger) *recorder {
	return &recorder{file: ndjson.New(path), log: log}
}

// dryRunLine is one line of the dry-run file.
type dryRunLine struct {
	Time time.Time `json:"time"`
	record
	Tokens  []string           `json:"tokens,omitempty"`
	Message *messaging.Message `json:"message"`
}

// Send records m.
func (r *recorder) Send(ctx context.Context, m *messaging.Message) (string, error) {
	name, err := r.write(ctx, dryRunLine{Message: m})
	if err != nil {
		return "", err
	}
	rec := recordOf(ctx)
	r.log.InfoContext(ctx, "relay: dry run: would send", logging.FieldSource, rec.Source, logging.FieldEventID, rec.Event, "rule", rec.Rule, "topic", m.Topic, "condition", m.Condition,
		"token_sha256", hashIf(m.Token), "title", notificationTitle(m.Notification), "name", name)
	return name, nil
}

// SendEachForMulticast records m as one line and reports every token sent.
func (r *recorder) SendEachForMulticast(ctx context.Context, m *messaging.MulticastMessage) (*messaging.BatchResponse, error) {
	msg := &messaging.Message{Data: m.Data, Notification: m.Notification, Android: m.Android, APNS: m.APNS, Webpush: m.Webpush}
	name, err := r.write(ctx, dryRunLine{Tokens: m.Tokens, Message: msg})
	if err != nil {
		return nil, err
	}
	rec := recordOf(ctx)
	r.log.InfoContext(ctx, "relay: dry run: would send", logging.FieldSource, rec.Source, logging.FieldEventID, rec.Event, "rule", rec.Rule, "tokens", len(m.Tokens),
		"title", notificationTitle(m.Notification), "name", name)
	br := &messaging.BatchResponse{SuccessCount: len(m.Tokens)}
	for range m.Tokens {
		br.Responses = append(br.Responses, &messaging.SendResponse{Success: true, MessageID: name})
	}
	return br, nil
}

// write appends one line and returns a message name like FCM's.
func (r *recorder) write(ctx context.Context, line dryRunLine) (string, error) {
	line.Time = time.Now().UTC()
	line.record = recordOf(ctx)
	b, err := json.Marshal(line)
	if err != nil {
		return "", fmt.Errorf("relay: dry run: encode message: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.file.Append(b); err != nil {
		return "", fmt.Errorf("relay: dry run: %w", err)
	}
	r.n++
	return fmt.Sprintf("dry-run/messages/%d", r.n), nil
}

func recordOf(ctx context.Context) record {
	r, _ := ctx.Value(recordKey{}).(record)
	return r
}

func hashIf(token string) string {
	if token == "" {
		return ""
	}
	return TokenHash(token)
}

func notificationTitle(n *messaging.Notification) string {
	if n == nil {
		return ""
	}
	return n.Title
}
