package trigger

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	cloudbuild "cloud.google.com/go/cloudbuild/apiv1/v2"
	"cloud.google.com/go/cloudbuild/apiv1/v2/cloudbuildpb"
	"cloud.google.com/go/pubsub/v2"

	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/idempotency"
	"github.com/cloudhooks/webhooks/shared/logging"
	"github.com/cloudhooks/webhooks/shared/ndjson"
	"github.com/cloudhooks/webhooks/shared/verify"
)

// Environment variables of Trigger and TriggerWorker, besides those of
// idempotency.FromEnv (FIRESTORE_DATABASE, IDEMPOTENCY_COLLECTION, ...).
const (
	// EnvProject is the deployment's project: Pub/Sub topics, Cloud Build
	// triggers without a project of their own, Firestore claims.
	EnvProject = "GOOGLE_CLOUD_PROJECT"
	// EnvPubSubEmulator points the Pub/Sub client at the emulator; the
	// client library reads it itself.
	EnvPubSubEmulator = "PUBSUB_EMULATOR_HOST"
	// EnvJobsTopic is the topic (id in the project) that async rules queue
	// their jobs on; TriggerWorker is subscribed to it.
	EnvJobsTopic = "TRIGGER_JOBS_TOPIC"
	// EnvDeadLetterTopic is the topic (id) that the jobs subscription
	// dead-letters to, and where the worker sends a job whose action failed
	// permanently.
	EnvDeadLetterTopic = "TRIGGER_DEAD_LETTER_TOPIC"
	// EnvJobKey is the secret reference of the key that Trigger signs its
	// jobs with and TriggerWorker checks them with (jobkey.go); terraform
	// sets it to its own secret, which only those two can read.
	EnvJobKey = "TRIGGER_JOB_KEY"
	// EnvPushAudience and EnvPushEmail are what the Pub/Sub push
	// subscription's OIDC token must say for TriggerWorker to read the job
	// it pushes: the audience the token is minted for and the push
	// identity's service account. TriggerWorker refuses every push while
	// either is unset.
	EnvPushAudience = "TRIGGER_PUSH_AUDIENCE"
	EnvPushEmail    = "TRIGGER_PUSH_EMAIL"
	// EnvDataDir is the local data folder where, without Google Cloud,
	// Cloud Build and Pub/Sub actions are recorded instead of performed.
	EnvDataDir = "WEBHOOKS_DATA_DIR"
)

// Defaults of the settings.
const (
	DefaultJobsTopic       = "trigger-jobs"
	DefaultDeadLetterTopic = "trigger-dead-letter"
	DefaultDataDir         = ".local/data"
	// DefaultJobKey is the job key of local runs: the runner writes a
	// random one to .local/secrets/trigger-job-key.
	DefaultJobKey = "sm:trigger-job-key"
	// LocalProject stands in for GOOGLE_CLOUD_PROJECT when it is unset:
	// the Pub/Sub emulator's project, and the project of the Cloud Build
	// runs a local run records.
	LocalProject = "webhooks-local"
)

// settings is the configuration read from the environment at start-up.
type settings struct {
	Project         string // empty: local run
	PubSub          bool   // jobs go through Pub/Sub (project or emulator)
	PubSubProject   string
	JobsTopic       string
	DeadLetterTopic string
	DataDir         string
	JobKey          string // secret reference
	PushAudience    string
	PushEmail       string
}

// lookupEnv is os.LookupEnv; a variable so that tests can replace it.
var lookupEnv = os.LookupEnv

// settingsFromEnv reads the settings.
func settingsFromEnv(lookup func(string) (string, bool)) settings {
	env := config.NewEnv(lookup)
	s := settings{
		Project:         env.String(EnvProject, ""),
		JobsTopic:       env.String(EnvJobsTopic, DefaultJobsTopic),
		DeadLetterTopic: env.String(EnvDeadLetterTopic, DefaultDeadLetterTopic),
		DataDir:         env.String(EnvDataDir, DefaultDataDir),
		JobKey:          env.String(EnvJobKey, DefaultJobKey),
		PushAudience:    env.String(EnvPushAudience, ""),
		PushEmail:       env.String(EnvPushEmail, ""),
	}
	s.PubSub = s.Project != "" || env.String(EnvPubSubEmulator, "") != ""
	s.PubSubProject = env.String(EnvProject, LocalProject)
	return s
}

// deps are the process's clients that actions and jobs use.
type deps struct {
	log     *slog.Logger
	project string
	claims  idempotency.Store
	// http sends HTTP actions to public addresses only; httpPrivate
	// sends those that opt in with allow_private_network.
	http, httpPrivate *http.Client
	secrets           verify.SecretSource
	// jobKey signs the jobs Trigger queues and checks those the worker
	// is pushed.
	jobKey jobKey
	topics topicPublisher
	builds buildRunner
	// jobs queues async jobs: Pub/Sub, or the in-process queue of local
	// runs.
	jobs jobQueue
	// deadLetter receives jobs whose action failed permanently; nil
	// without Pub/Sub.
	deadLetter *pubsub.Publisher
	now        func() time.Time
	locks      keyedMutex
}

// processSecrets returns the process's secret source for signing HTTP
// actions; a variable so that tests can replace it.
var processSecrets = defaultSecrets

// shared holds the process's clients, made on first use by any source or
// by the worker. A failed creation is not kept: the next event tries again.
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
	d, err := newDeps(ctx, settingsFromEnv(lookupEnv), lookupEnv, logging.FromEnv())
	if err != nil {
		return nil, err
	}
	shared.d = d
	return d, nil
}

// newDeps builds the clients the settings select. With Pub/Sub (a project
// or the emulator) jobs are published to the jobs topic and pubsub actions
// publish; without, jobs run on the in-process queue and pubsub actions are
// recorded under the data folder. Without a project, cloudbuild actions are
// recorded too.
func newDeps(ctx context.Context, s settings, lookup func(string) (string, bool), log *slog.Logger) (*deps, error) {
	// Clients live as long as the process, beyond the request that made
	// them.
	life := context.WithoutCancel(ctx)
	d := &deps{log: log, project: s.Project, http: newHTTPClient(false), httpPrivate: newHTTPClient(true), secrets: processSecrets(), now: time.Now}
	d.jobKey = jobKey{ref: s.JobKey, secrets: d.secrets}
	if d.project == "" {
		// Recorded Cloud Build runs still name a project, as real ones do.
		d.project = LocalProject
	}
	claims, err := idempotency.FromEnv(life, lookup)
	if err != nil {
		return nil, fmt.Errorf("trigger: %w", err)
	}
	d.claims = claims
	var rec *recorder
	if s.Project == "" {
		rec = newRecorder(filepath.Join(s.DataDir, "trigger", "actions.ndjson"), log)
		d.builds = rec
		log.Info("trigger: no "+EnvProject+": cloudbuild actions are recorded, not run", logging.FieldFunction, FunctionTrigger, "file", rec.file.Path())
	} else {
		d.builds = &lazyCloudBuild{}
	}
	if !s.PubSub {
		d.topics = rec
		d.jobs = newLocalQueue(d, localWorkers)
		log.Warn("trigger: no Pub/Sub: async jobs run on an in-process queue that is lost when the process exits (local runs only)",
			logging.FieldFunction, FunctionTrigger)
		return d, nil
	}
	client, err := pubsub.NewClient(life, s.PubSubProject)
	if err != nil {
		return nil, fmt.Errorf("trigger: pubsub.NewClient: %w", err)
	}
	d.topics = &clientPublisher{client: client}
	d.jobs = newPubSubJobs(client, s.JobsTopic, d.jobKey)
	d.deadLetter = client.Publisher(s.DeadLetterTopic)
	return d, nil
}

// lazyCloudBuild creates the Cloud Build client on the first cloudbuild
// action, so that a source without one never needs the API; a failed
// creation is retried by the next action.
type lazyCloudBuild struct {
	mu sync.Mutex
	c  *cloudbuild.Client
}

func (l *lazyCloudBuild) runTrigger(ctx context.Context, req *cloudbuildpb.RunBuildTriggerRequest, inv invocation) (string, error) {
	l.mu.Lock()
	if l.c == nil {
		c, err := cloudbuild.NewClient(context.WithoutCancel(ctx))
		if err != nil {
			l.mu.Unlock()
			return "", fmt.Errorf("cloudbuild.NewClient: %w", err)
		}
		l.c = c
	}
	c := l.c
	l.mu.Unlock()
	return cloudBuildClient{c: c}.runTrigger(ctx, req, inv)
}

// recorder stands in for Cloud Build and Pub/Sub in local runs: it appends
// each action it is asked to perform to an NDJSON file and logs it, so a
// user sees exactly what a deployment would do.
type recorder struct {
	file *ndjson.File
	log  *slog.Logger
	mu   sync.Mutex // numbers the records in line order
	n    int
}

func newRecorder(path string, log *slog.Logger) *recorder {
	return &recorder{file: ndjson.New(path), log: log}
}

// recordLine is one line of the local actions file.
type recordLine struct {
	Time     time.Time         `json:"time"`
	Source   string            `json:"source"`
	Event    string            `json:"event_id"`
	Rule     string            `json:"rule"`
	Action   string            `json:"action"`
	Type     string            `json:"type"`
	Topic    string            `json:"topic,omitempty"`
	Data     string            `json:"data,omitempty"`
	Attrs    map[string]string `json:"attributes,omitempty"`
	Build    json.RawMessage   `json:"build_trigger,omitempty"`
	Recorded string            `json:"recorded_as"`
}

func (r *recorder) publish(_ context.Context, topic string, m *pubsub.Message, inv invocation) (string, error) {
	return r.write(inv, recordLine{Type: TypePubSub, Topic: topic, Data: string(m.Data), Attrs: m.Attributes})
}

func (r *recorder) runTrigger(_ context.Context, req *cloudbuildpb.RunBuildTriggerRequest, inv invocation) (string, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return "", fmt.Errorf("trigger: record build: %w", err)
	}
	return r.write(inv, recordLine{Type: TypeCloudBuild, Build: b})
}

func (r *recorder) write(inv invocation, line recordLine) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	line.Time = time.Now().UTC()
	line.Source, line.Rule, line.Action = inv.source, inv.rule, inv.action
	if inv.event != nil {
		line.Event = inv.event.ID
	}
	line.Recorded = fmt.Sprintf("local/%s/%d", line.Type, r.n)
	b, err := json.Marshal(line)
	if err != nil {
		return "", fmt.Errorf("trigger: record: %w", err)
	}
	if err := r.file.Append(b); err != nil {
		return "", fmt.Errorf("trigger: record: %w", err)
	}
	r.log.Info("trigger: local run: recorded instead of performed", append(inv.logAttrs(), "action_type", line.Type, "file", r.file.Path())...)
	return line.Recorded, nil
}
