package inspector

import (
	"fmt"
	"net/http"
	"strings"
)

// curlSkipped are the headers curl sets itself from the command (or that
// describe the connection, not the request).
var curlSkipped = map[string]bool{
	"Accept-Encoding": true, "Connection": true, "Content-Length": true,
	"Host": true, "Transfer-Encoding": true,
}

// Curl returns a shell command that sends delivery seq again from a
// terminal, as received: its method, URL, headers (signatures included,
// so it verifies while the signature's timestamp is within the scheme's
// tolerance) and exact body bytes. What is the secret itself (a token
// header, a token payload field, a secret query value) is not written
// into the command: a comment line above it says what is missing.
func (i *Inspector) Curl(seq int64) (string, error) {
	d, _, ok := i.find(seq)
	if !ok {
		return "", fmt.Errorf("%w: %d", ErrNotFound, seq)
	}
	var notes []string
	if d.Truncated {
		notes = append(notes, fmt.Sprintf("the body was longer than %d bytes and was cut", MaxBody))
	}
	src, _ := sourceOf(i.opts.Config, d.Function, d.Source)
	if src.Verify.Field != "" {
		notes = append(notes, "the body lacks its payload field "+src.Verify.Field+", being the secret itself")
	}
	if strings.Contains(d.Target, mask) {
		notes = append(notes, "the URL's secret query values are masked")
	}
	var cmd strings.Builder
	switch {
	case d.BodyBase64:
		fmt.Fprintf(&cmd, "printf %%s %s | base64 -d | ", shellQuote(d.Body))
	case strings.ContainsRune(d.Body, 0): // no shell argument holds a NUL
		fmt.Fprintf(&cmd, "printf %%s %s | base64 -d | ", shellQuote(b64.EncodeToString([]byte(d.Body))))
	default:
		fmt.Fprintf(&cmd, "printf %%s %s | ", shellQuote(d.Body))
	}
	fmt.Fprintf(&cmd, "curl -sS -i -X %s %s", shellQuote(d.Method), shellQuote("http://"+d.Host+d.Target))
	for _, h := range d.Headers {
		switch {
		case curlSkipped[http.CanonicalHeaderKey(h.Name)]:
		case h.Secret:
			notes = append(notes, "header "+h.Name+" is left out, being the secret itself (the source's key)")
		default:
			fmt.Fprintf(&cmd, " \\\n  -H %s", shellQuote(h.Name+": "+h.Value))
		}
	}
	cmd.WriteString(" \\\n  --data-binary @-\n")
	var out strings.Builder
	for _, n := range notes {
		out.WriteString("# Not repeated: " + n + "; Re-sign on the page instead.\n")
	}
	out.WriteString(cmd.String())
	return out.String(), nil
}

// shellQuote quotes s for a POSIX shell: inside single quotes every byte
// is literal but the single quote itself, which closes the quotes, is
// written escaped (\') and reopens them.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
