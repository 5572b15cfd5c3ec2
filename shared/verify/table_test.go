package verify

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/providers.md from the catalogue")

// providerTable renders the catalogue as the docs' provider table.
func providerTable() string {
	var b strings.Builder
	b.WriteString("<!-- Generated from shared/verify/providers.go by `go generate ./shared/verify`; do not edit. -->\n\n")
	b.WriteString("# Providers\n\n")
	fmt.Fprintf(&b, "`scheme: <name>` in a source's `verify` block selects one of these %d presets; ", len(catalogue))
	b.WriteString("the generic schemes `hmac`, `token`, `basic`, `oidc` and `none` remain for anything else. ")
	b.WriteString("Each row was confirmed from the page or official SDK file in its Source column, and is pinned by a vector in ")
	b.WriteString("`shared/verify/vectors_test.go`. URL-bound schemes (content with `{url}`) need `verify.url`, the public URL the provider was given. ")
	b.WriteString("A batch delivery (several events in one request) reaches the function as one event whose payload is the whole batch: ")
	b.WriteString("Store writes one row, Relay and Trigger rules see the array (or the provider's list) under `payload`.\n\n")
	b.WriteString("| Scheme | Provider | Family | Signature | Signed content | Timestamp | Event id | Handshakes | Notes | Source |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	cell := func(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "|", "\\|"), "\n", " ") }
	for _, p := range Providers() {
		sig := p.Header
		if sig != "" {
			sig = "`" + sig + "`"
			if p.Prefix != "" {
				sig += " `" + p.Prefix + "`"
			}
			if p.Encoding != "" {
				sig += " " + p.Encoding
			}
		}
		if p.Hash != "" && p.Family != FamilyToken {
			sig += " " + p.Hash
		}
		content := ""
		switch p.Family {
		case FamilyHMAC, FamilyEd25519, FamilyECDSA, FamilyRSA:
			content = "`" + orDefault(p.Content, "{body}") + "`"
		case FamilyStandard:
			content = "`{id}.{timestamp}.{body}`"
		case FamilyTwilio:
			content = "URL + sorted form fields"
		case FamilySNS:
			content = "message fields (SNS)"
		case FamilyPayPal:
			content = "`id|time|webhook_id|crc32(body)`"
		}
		ts := ""
		switch {
		case p.TimeHeader != "":
			ts = "`" + p.TimeHeader + "` " + orDefault(p.TimeUnit, UnitSeconds)
		case p.TimeKey != "":
			ts = "`" + p.TimeKey + "=` " + orDefault(p.TimeUnit, UnitSeconds)
		case p.TimeField != "":
			ts = "body `" + p.TimeField + "` " + orDefault(p.TimeUnit, UnitSeconds)
		}
		if p.Tolerance != 0 {
			ts += fmt.Sprintf(" (±%s)", p.Tolerance)
		}
		id := strings.Join(p.IDHeaders, ", ")
		if p.IDField != "" {
			id = strings.TrimPrefix(id+", body `"+p.IDField+"`", ", ")
		}
		var notes []string
		if p.Batch {
			notes = append(notes, "batch")
		}
		if p.FormField != "" {
			notes = append(notes, "form field `"+p.FormField+"`")
		}
		if p.Protects != "" {
			notes = append(notes, p.Protects)
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", p.Name, cell(p.Title), p.Family, cell(sig),
			cell(content), cell(ts), cell(id), strings.Join(p.Handshakes, ", "), cell(strings.Join(notes, "; ")), cell(p.Source))
	}
	return b.String()
}

func TestProviderTableIsCurrent(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "providers.md")
	want := providerTable()
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go generate ./shared/verify)", err)
	}
	if string(got) != want {
		t.Fatal("docs/providers.md differs from the catalogue: run go generate ./shared/verify")
	}
}
