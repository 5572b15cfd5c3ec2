package pipeline

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// A function's pipeline settings come from its environment; every bad one
// stops start-up with its name and the form it wants, all at once.
func TestOptionsFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    Options
		level   slog.Level
		wantErr []string
	}{
		{"unset: the defaults", nil,
			Options{MaxBodyBytes: DefaultMaxBodyBytes, Deadline: DefaultDeadline, RetryAfter: DefaultRetryAfter}, slog.LevelInfo, nil},
		{"every setting", map[string]string{"MAX_BODY_BYTES": "1024", "REQUEST_DEADLINE": "3s", "RETRY_AFTER": "1m", "GOOGLE_CLOUD_PROJECT": "p", "LOG_LEVEL": "warn",
			"LOG_FORMAT": "text", "WEBHOOKS_SECRETS_DIR": ".local/secrets"},
			Options{MaxBodyBytes: 1024, Deadline: 3 * time.Second, RetryAfter: time.Minute, Project: "p", SecretsDir: ".local/secrets"}, slog.LevelWarn, nil},
		{"bad values are all named", map[string]string{"MAX_BODY_BYTES": "25MB", "REQUEST_DEADLINE": "0s", "LOG_LEVEL": "verbose", "LOG_FORMAT": "yaml", "SECRETS_TTL": "forever", "SECRETS_TIMEOUT": "2"},
			Options{}, 0, []string{`MAX_BODY_BYTES="25MB"`, `REQUEST_DEADLINE="0s"`, `LOG_LEVEL="verbose"`, `LOG_FORMAT="yaml": want json or text`, `SECRETS_TTL="forever"`, `SECRETS_TIMEOUT="2"`}},
		{"a secret wait past the deadline", map[string]string{"REQUEST_DEADLINE": "3s", "SECRETS_TIMEOUT": "5s"},
			Options{}, 0, []string{"SECRETS_TIMEOUT=5s: want less than REQUEST_DEADLINE (3s)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := OptionsFromEnv(func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if tt.wantErr != nil {
				if err == nil {
					t.Fatal("OptionsFromEnv accepted bad values")
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not name %s", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Logger == nil || !got.Logger.Enabled(context.Background(), tt.level) || got.Logger.Enabled(context.Background(), tt.level-1) {
				t.Errorf("logger does not log from %s", tt.level)
			}
			if got.MaxBodyBytes != tt.want.MaxBodyBytes || got.Deadline != tt.want.Deadline ||
				got.RetryAfter != tt.want.RetryAfter || got.Project != tt.want.Project || got.SecretsDir != tt.want.SecretsDir {
				t.Errorf("OptionsFromEnv = %+v, want %+v", got, tt.want)
			}
		})
	}
}
