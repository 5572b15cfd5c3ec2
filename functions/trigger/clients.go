package trigger

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	cloudbuild "cloud.google.com/go/cloudbuild/apiv1/v2"
	"cloud.google.com/go/cloudbuild/apiv1/v2/cloudbuildpb"
	"cloud.google.com/go/pubsub/v2"

	"github.com/cloudhooks/webhooks/shared/idempotency"
	"github.com/cloudhooks/webhooks/shared/logging"
	"github.com/cloudhooks/webhooks/shared/verify"
)

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

// process holds the process's clients, made on first use by any source or
// by the worker. A failed creation is not kept: the next event tries again.
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
	d, err := newDeps(ctx, s, logging.FromEnv())
	if err != nil {
		return nil, err
	}
	process.d = d
	return d, nil
}

// newDeps builds the clients the settings select. With Pub/Sub (a project
// or the emulator) jobs are published to the jobs topic and pubsub actions
// publish; without, jobs run on the in-process queue and pubsub actions are
// recorded under the data folder. Without a project, cloudbuild actions are
// recorded too.
func newDeps(ctx context.Context, s settings, log *slog.Logger) (*deps, error) {
	// Clients live as long as the process, beyond the request that made
	// them.
	life := context.WithoutCancel(ctx)
	d := &deps{log: log, project: s.Project, http: newHTTPClient(false), httpPrivate: newHTTPClient(true), secrets: processSecrets(), now: time.Now}
	d.jobKey = jobKey{ref: s.JobKey, secrets: d.secrets}
	if d.project == "" {
		// Recorded Cloud Build runs still name a project, as real ones do.
		d.project = LocalProject
	}
	claims, err := idempotency.FromSettings(life, s.Claims)
	if err != nil {
		return nil, fmt.Errorf("trigger: %w", err)
	}
	d.claims = claims
	var rec *recorder
	if s.Project == "" {
		rec = newRecorder(filepath.Join(s.DataDir, "trigger", "actions.ndjson"), log)
		d.builds = rec
		log.Info("trigger: no "+EnvProject+": cloudbuild actions are recorded, not run", logging.FieldFunction, functionTrigger, "file", rec.file.Path())
	} else {
		d.builds = &lazyCloudBuild{}
	}
	if !s.PubSub {
		d.topics = rec
		d.jobs = newLocalQueue(d, localWorkers)
		log.Warn("trigger: no Pub/Sub: async jobs run on an in-process queue that is lost when the process exits (local runs only)",
			logging.FieldFunction, functionTrigger)
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
