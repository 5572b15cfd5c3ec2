package pipeline

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/logging"
	"github.com/cloudhooks/webhooks/shared/secrets"
)

// Defaults of Options.
const (
	// DefaultMaxBodyBytes is above GitHub's 25 MB payload cap, the largest
	// that common providers send.
	DefaultMaxBodyBytes = 25 << 20
	// DefaultDeadline is below the shortest common provider timeout that
	// waits for real work (GitHub's 10 s), so we answer 503 before the
	// provider gives up and counts a timeout.
	DefaultDeadline = 8 * time.Second
	// DefaultRetryAfter is the Retry-After of a 503 when nothing better is
	// known.
	DefaultRetryAfter = 30 * time.Second
)

// Options tune one function's pipeline; zero values take the defaults.
type Options struct {
	// MaxBodyBytes is the largest body accepted (413 above it).
	MaxBodyBytes int64
	// Deadline bounds the pattern's work for one request.
	Deadline time.Duration
	// RetryAfter is the default wait a 503 asks providers for.
	RetryAfter time.Duration
	// Project is the Google Cloud project, for trace correlation in logs.
	Project string
	// Function is the entry point served ("Store"), the function field of
	// every log line.
	Function string
	// Logger receives the request log lines.
	Logger *slog.Logger
	// Now is the clock; tests set it.
	Now func() time.Time
	// SecretsDir is the folder that sm: secrets are read from in local
	// mode (WEBHOOKS_SECRETS_DIR; "" when deployed): a request refused by
	// its key names the key's file there in its log line (key_file).
	SecretsDir string
}

func (o Options) withDefaults() Options {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.Deadline <= 0 {
		o.Deadline = DefaultDeadline
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = DefaultRetryAfter
	}
	if o.Logger == nil {
		o.Logger = logging.New(os.Stdout, slog.LevelInfo)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// OptionsFromEnv reads MAX_BODY_BYTES, REQUEST_DEADLINE (a Go duration),
// RETRY_AFTER (a Go duration), GOOGLE_CLOUD_PROJECT, LOG_LEVEL and
// LOG_FORMAT (the request log goes to stdout at that level, as JSON or
// text) and WEBHOOKS_SECRETS_DIR (local mode), and checks SECRETS_TTL and
// SECRETS_TIMEOUT (below REQUEST_DEADLINE), reporting every bad value by
// name. lookup is os.LookupEnv outside tests.
func OptionsFromEnv(lookup func(string) (string, bool)) (Options, error) {
	env := config.NewEnv(lookup)
	o := Options{
		MaxBodyBytes: env.Int("MAX_BODY_BYTES", DefaultMaxBodyBytes),
		Deadline:     env.Duration("REQUEST_DEADLINE", DefaultDeadline),
		RetryAfter:   env.Duration("RETRY_AFTER", DefaultRetryAfter),
		Project:      env.String("GOOGLE_CLOUD_PROJECT", ""),
		SecretsDir:   env.String(secrets.EnvLocalDir, ""),
	}
	// Read by package secrets itself (one resolver per process); checked
	// here so that a bad value stops start-up like the others.
	env.Duration(secrets.EnvTTL, secrets.DefaultTTL)
	if t := env.Duration(secrets.EnvTimeout, secrets.DefaultTimeout); t >= o.Deadline {
		env.Fail(fmt.Errorf("%s=%s: want less than REQUEST_DEADLINE (%s), so that a request with no cached secret gets its 503 before the deadline", secrets.EnvTimeout, t, o.Deadline))
	}
	level, err := logging.ParseLevel(env.String(logging.EnvLevel, ""))
	if err != nil {
		env.Fail(err)
	}
	format, err := logging.ParseFormat(env.String(logging.EnvFormat, ""))
	if err != nil {
		env.Fail(err)
	}
	o.Logger = logging.NewFormat(os.Stdout, level, format)
	return o, env.Err()
}
