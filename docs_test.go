package webhooks_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// The front door and the reference pages it sends readers to: every
// relative link in them must reach a file or folder of the repository,
// and every #anchor a heading of the page it names.
func docPages(t *testing.T) []string {
	t.Helper()
	pages, err := filepath.Glob(filepath.Join("docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{"README.md", filepath.Join("terraform", "README.md")}, pages...)
}

func TestDocumentationLinksResolve(t *testing.T) {
	pages := docPages(t)
	if len(pages) < 3 {
		t.Fatalf("found only %v", pages)
	}
	broken, err := brokenLinks(".", pages)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range broken {
		t.Error(b)
	}
}

// The checker itself: a link to a missing file, to a missing heading of
// another page or of the same page, and one leaving the repository are
// each reported; links in code, external links and good anchors are not.
func TestLinkCheckerReportsEachBrokenLink(t *testing.T) {
	root := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("README.md", "# Top\n\n## Status codes\n\n"+
		"[ok](docs/a.md#the-inspector-httplocalhost8080_) [ok](#status-codes) [ok](docs) [ok](https://example.com/x)\n"+
		"[gone](docs/missing.md) [bad anchor](docs/a.md#nowhere) [bad self](#statuscodes) [out](../outside.md)\n"+
		"`[code](nowhere.md)`\n\n```\n[fenced](nowhere.md)\n```\n")
	write("docs/a.md", "# A\n\n## The inspector: `http://localhost:8080/_/`\n\n[back](../README.md#top)\n")
	broken, err := brokenLinks(root, []string{"README.md", "docs/a.md"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"README.md: docs/missing.md: no such file or folder",
		"README.md: docs/a.md#nowhere: no heading #nowhere in docs/a.md",
		"README.md: #statuscodes: no heading #statuscodes in README.md",
		"README.md: ../outside.md: outside the repository",
	}
	if strings.Join(broken, "\n") != strings.Join(want, "\n") {
		t.Errorf("reported\n%s\nwant\n%s", strings.Join(broken, "\n"), strings.Join(want, "\n"))
	}
}

var (
	fence    = regexp.MustCompile("(?m)^ *```")
	codeSpan = regexp.MustCompile("`[^`\n]*`")
	mdLink   = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	heading  = regexp.MustCompile(`^#{1,6} +(.+?) *#*$`)
	external = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
)

// brokenLinks checks the relative links of pages (paths relative to root)
// and returns one line per link that does not resolve.
func brokenLinks(root string, pages []string) ([]string, error) {
	anchors := map[string]map[string]bool{}
	anchorsOf := func(page string) (map[string]bool, error) {
		if a, ok := anchors[page]; ok {
			return a, nil
		}
		text, err := os.ReadFile(filepath.Join(root, page))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", page, err)
		}
		anchors[page] = headingAnchors(string(text))
		return anchors[page], nil
	}
	var broken []string
	for _, page := range pages {
		text, err := os.ReadFile(filepath.Join(root, page))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", page, err)
		}
		for _, target := range linkTargets(string(text)) {
			if external.MatchString(target) {
				continue
			}
			path, anchor, _ := strings.Cut(target, "#")
			to := filepath.ToSlash(filepath.Clean(filepath.Join(filepath.Dir(page), path)))
			if path == "" {
				to = filepath.ToSlash(page)
			}
			if to == ".." || strings.HasPrefix(to, "../") || filepath.IsAbs(path) {
				broken = append(broken, fmt.Sprintf("%s: %s: outside the repository", page, target))
				continue
			}
			if _, err := os.Stat(filepath.Join(root, to)); err != nil {
				broken = append(broken, fmt.Sprintf("%s: %s: no such file or folder", page, target))
				continue
			}
			if anchor == "" {
				continue
			}
			if !strings.HasSuffix(to, ".md") {
				broken = append(broken, fmt.Sprintf("%s: %s: an anchor into a file that is not markdown", page, target))
				continue
			}
			a, err := anchorsOf(to)
			if err != nil {
				return nil, err
			}
			if !a[anchor] {
				broken = append(broken, fmt.Sprintf("%s: %s: no heading #%s in %s", page, target, anchor, to))
			}
		}
	}
	return broken, nil
}

// outsideCode returns the lines of a markdown text that are not in a
// fenced code block.
func outsideCode(text string) []string {
	var lines []string
	in := false
	for _, line := range strings.Split(text, "\n") {
		if fence.MatchString(line) {
			in = !in
			continue
		}
		if !in {
			lines = append(lines, line)
		}
	}
	return lines
}

// linkTargets are the targets of the inline links and images of a
// markdown text, leaving out those inside code.
func linkTargets(text string) []string {
	var targets []string
	for _, line := range outsideCode(text) {
		// A code span that is a link's text ([`x`](y)) keeps the link.
		line = codeSpan.ReplaceAllString(line, "code")
		for _, m := range mdLink.FindAllStringSubmatch(line, -1) {
			targets = append(targets, m[1])
		}
	}
	return targets
}

// headingAnchors are the ids GitHub gives a page's headings: the heading's
// text, lowercased, without punctuation other than '-' and '_', spaces as
// '-', and a -N suffix on the Nth repeat.
func headingAnchors(text string) map[string]bool {
	ids := map[string]bool{}
	seen := map[string]int{}
	for _, line := range outsideCode(text) {
		m := heading.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		title := strings.ReplaceAll(m[1], "`", "")
		title = mdLink.ReplaceAllString(title, "]")
		var b strings.Builder
		for _, r := range strings.ToLower(title) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r):
				b.WriteRune(r)
			}
		}
		id := b.String()
		if n := seen[id]; n > 0 {
			ids[fmt.Sprintf("%s-%d", id, n)] = true
		} else {
			ids[id] = true
		}
		seen[id]++
	}
	return ids
}
