package inspector

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudhooks/webhooks/shared/verify"
)

// get sends a GET of target (path and query) to the runner and returns the
// status and body of its answer.
func (rn *runner) get(target string) (int, string) {
	rn.t.Helper()
	resp, err := http.Get(rn.srv.URL + target)
	if err != nil {
		rn.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// pageJSON is the list as the page's script receives it, as bytes.
func (rn *runner) pageJSON() []byte {
	rn.t.Helper()
	resp, err := http.Get(rn.srv.URL + Path + "api/deliveries")
	if err != nil {
		rn.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		rn.t.Fatal(err)
	}
	return b
}

// The attack: Meta's verification GET carries the handshake secret in its
// query (hub.verify_token). Whoever reads .local/data/inspector or the
// page (a screenshot, a shared bug report, another local process) would
// learn it and could subscribe the URL to their own app. Neither holds it;
// the handshake replays until the runner stops and then says why not.
func TestMetaVerifyTokenIsNeitherWrittenNorShown(t *testing.T) {
	rn := newRunner(t)
	for _, q := range []string{
		"hub.mode=subscribe&hub.verify_token=" + metaToken + "&hub.challenge=ch-1",
		// The same parameter escaped: the handshake reads it all the same.
		"hub.challenge=ch-2&hub%2Everify_token=" + metaToken + "&hub.mode=subscribe",
		// A wrong guess is a credential too (another environment's token).
		"hub.mode=subscribe&hub.verify_token=" + metaToken + "-guess&hub.challenge=ch-3",
	} {
		rn.get("/store/meta?" + q)
	}
	if l := rn.list().Deliveries; l[2].Status != 200 || l[2].Response != "ch-1" || l[1].Response != "ch-2" || l[0].Status != 403 {
		t.Fatalf("the handshakes were not answered as Meta expects: %+v", l)
	}
	d := rn.list().Deliveries[2]
	if !strings.Contains(d.Target, "hub.verify_token="+mask) || !strings.Contains(d.Target, "hub.challenge=ch-1") {
		t.Errorf("target %q: want the token masked and the rest as received", d.Target)
	}
	if page := rn.pageJSON(); bytes.Contains(page, []byte(metaToken)) {
		t.Errorf("the page's JSON holds the verify token: %s", page)
	}
	if _, d := rn.act(1, "replay"); d.Status != 200 || d.Response != "ch-1" || d.Note != "" {
		t.Errorf("replay before the restart: %+v, want the handshake answered again", d)
	}

	rn.restart()
	file, err := os.ReadFile(filepath.Join(rn.dir, "deliveries.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(file, []byte(metaToken)) {
		t.Errorf("%s holds the verify token:\n%s", filepath.Join(rn.dir, "deliveries.ndjson"), file)
	}
	if page := rn.pageJSON(); bytes.Contains(page, []byte(metaToken)) {
		t.Errorf("the page's JSON holds the verify token after a restart: %s", page)
	}
	_, d = rn.act(1, "replay")
	if d.Status != 403 || !strings.Contains(d.Note, "hub.verify_token") {
		t.Errorf("replay after the restart: %+v, want a refused handshake with a note naming hub.verify_token", d)
	}
}

// A signature in the query (PandaDoc's ?signature=) is a credential on
// the page, like a signature header, but is written down: it proves
// nothing without the key, and a signed delivery replays after a restart.
func TestQuerySignatureIsMaskedOnThePageAndReplaysAfterARestart(t *testing.T) {
	rn := newRunner(t)
	body := `[{"event":"document_state_changed"}]`
	req, err := http.NewRequest(http.MethodPost, rn.srv.URL+"/store/pandadoc?other=1", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if err := verify.Sign(verify.Config{Scheme: "pandadoc"}, []byte(pandadocKey), rn.clock(), req, []byte(body)); err != nil {
		t.Fatal(err)
	}
	req.RequestURI = "" // Sign sets it for servers; a client request has none
	sig := req.URL.Query().Get("signature")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("signed pandadoc delivery: %d", resp.StatusCode)
	}
	if page := rn.pageJSON(); bytes.Contains(page, []byte(sig)) || !bytes.Contains(page, []byte("other=1")) {
		t.Errorf("the page's JSON shows the query signature, or lost the rest of the query: %s", page)
	}
	rn.restart()
	if _, d := rn.act(1, "replay"); d.Status != 200 {
		t.Errorf("replay of a query-signed delivery after a restart: %+v", d)
	}
	if page := rn.pageJSON(); bytes.Contains(page, []byte(sig)) {
		t.Errorf("the page's JSON shows the query signature after a restart: %s", page)
	}
}
