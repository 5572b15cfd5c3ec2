package condition_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"slices"
	"sync"
	"testing"

	"github.com/cloudhooks/webhooks/functions/relay"
	"github.com/cloudhooks/webhooks/functions/trigger"
	"github.com/cloudhooks/webhooks/shared/condition"
	"github.com/cloudhooks/webhooks/shared/config"
	"github.com/cloudhooks/webhooks/shared/pipeline"
	"github.com/cloudhooks/webhooks/shared/secrets"
)

var update = flag.Bool("update", false, "rewrite prepared.json from the embedded webhooks.yaml")

// prepared.json is exactly what this environment makes of the embedded
// configuration's expressions, found by building Relay's and Trigger's
// handlers from it as their instances do: a condition changed in
// webhooks.yaml, a new CEL release or a changed environment fails here
// until the file is written again (-update).
func TestPreparedHoldsTheEmbeddedConfigurationsExpressions(t *testing.T) {
	for _, name := range []string{"GOOGLE_CLOUD_PROJECT", "PUBSUB_EMULATOR_HOST", "FIRESTORE_EMULATOR_HOST", config.EnvPath} {
		t.Setenv(name, "") // local sinks: building a handler reaches no service
	}
	t.Setenv("WEBHOOKS_DATA_DIR", t.TempDir())
	f, err := config.Parse(config.Embedded())
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var exprs []string
	stop := condition.RecordCompiled(func(expr string) {
		mu.Lock()
		defer mu.Unlock()
		exprs = append(exprs, expr)
	})
	for section, pattern := range map[string]pipeline.Factory{"relay": relay.NewPattern, "trigger": trigger.NewPattern} {
		opts, err := pipeline.OptionsFromEnv(os.LookupEnv)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pipeline.New(context.Background(), f.Function(section), secrets.Process(), pattern, opts); err != nil {
			t.Fatalf("%s: %v", section, err)
		}
	}
	stop()
	if len(exprs) == 0 {
		t.Fatal("the embedded configuration compiled no expression: nothing to prepare")
	}
	slices.Sort(exprs)
	want, err := condition.Prepare(slices.Compact(exprs))
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("prepared.json", want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(condition.PreparedJSON, want) {
		t.Fatalf("prepared.json is not the embedded configuration's expressions (%q); write it again:\n"+
			"  go test ./shared/condition -run TestPreparedHoldsTheEmbeddedConfigurationsExpressions -update", exprs)
	}
}
