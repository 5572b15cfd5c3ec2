package inspector

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/cloudhooks/webhooks/shared/logging"
)

// A delivery keeps what its first maxJobs jobs did, whether they ended
// while it was served or after it was answered, and counts the others
// (the page says how many it does not show); a restart keeps the same.
// After the answer, only a job's last line adds to the delivery.
func TestADeliveryKeepsTheFirstJobsAndCountsTheRest(t *testing.T) {
	dir := t.TempDir()
	insp, err := New(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	log := logging.New(io.Discard, slog.LevelInfo)
	const during, after = 5, maxJobs + 3
	release, ended := make(chan struct{}), make(chan struct{})
	h := insp.Record(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The worker's lines, as trigger's runJob writes them.
		ctx := context.WithoutCancel(r.Context())
		job := func(n int) {
			log.InfoContext(ctx, "trigger: job", logging.FieldFunction, workerFunction, "rule", "deploy", "action", "a"+strconv.Itoa(n),
				"result", "ran", "answer", "http POST receiver.example: status 200")
		}
		for n := range during {
			job(n)
		}
		go func() {
			defer close(ended)
			<-release
			log.InfoContext(ctx, "trigger: build started", logging.FieldFunction, workerFunction, "rule", "deploy", "action", "build")
			for n := range after {
				job(during + n)
			}
		}()
		w.WriteHeader(http.StatusAccepted)
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/trigger/github", strings.NewReader("{}")))
	close(release)
	<-ended

	check := func(when string, insp *Inspector) {
		t.Helper()
		all, _, _ := insp.snapshot()
		if len(all) != 1 {
			t.Fatalf("%s: %d deliveries, want 1", when, len(all))
		}
		d := all[0]
		if len(d.Jobs) != maxJobs || d.JobsNotShown != during+after-maxJobs {
			t.Fatalf("%s: %d jobs kept and %d counted, want %d and %d", when, len(d.Jobs), d.JobsNotShown, maxJobs, during+after-maxJobs)
		}
		for n, j := range d.Jobs {
			if j.Action != "a"+strconv.Itoa(n) || j.Result != "ran" || j.Answer != "http POST receiver.example: status 200" {
				t.Errorf("%s: job %d is %+v, want a%d ran with its answer", when, n, j, n)
			}
		}
		if len(d.Log) != 0 {
			t.Errorf("%s: log %q, want the job lines as jobs only", when, d.Log)
		}
	}
	check("running", insp)
	if err := insp.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := New(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	check("after a restart", again)
}
