package trigger

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/cloudhooks/webhooks/shared/verify"
)

// Jobs are signed: Trigger signs each job message it publishes with the
// job key, and TriggerWorker runs only jobs whose signature it checks with
// the same key. Publishing to the jobs topic (any project editor or
// publisher can) is then not enough to have the worker run an action: the
// job key is readable only by Trigger and TriggerWorker (terraform grants
// secretAccessor on that one secret to those two identities).
//
// The key is a secret reference (EnvJobKey, DefaultJobKey locally) whose
// value holds one key per line, as every secret of this project: Trigger
// signs with the first line, the worker accepts any line, which is how the
// key rotates (add the new key as the first line, wait for the jobs signed
// with the old one to drain, then delete the old line). Terraform creates
// the secret without a version; the operator adds its value:
//
//	head -c 32 /dev/urandom | base64 | gcloud secrets versions add PREFIX-trigger-job-key --data-file=-

// attrSignature is the job message attribute that carries the job's
// signature: "v1=" and the unpadded base64url HMAC-SHA256, under the job
// key, of jobSignaturePrefix followed by the message data.
const attrSignature = "job_signature"

// jobSignaturePrefix keeps a job signature from being valid for any other
// use of the same bytes.
const jobSignaturePrefix = "webhooks-trigger-job/v1\n"

// minJobKey is the shortest job key accepted, in bytes: a key of 32 random
// bytes, base64-encoded, is 44.
const minJobKey = 32

// Errors of checking a job's signature. A job that fails with
// errJobUnsigned or errJobBadSignature is refused (acknowledged, never
// run); errJobKeyUnavailable is retried.
var (
	errJobUnsigned       = errors.New("trigger: job is not signed")
	errJobBadSignature   = errors.New("trigger: job signature does not match the job key")
	errJobKeyUnavailable = errors.New("trigger: job key unavailable")
)

// jobKey reads the job key through the process's secret source.
type jobKey struct {
	ref     string
	secrets verify.SecretSource
}

// keys returns the key's lines; a key shorter than minJobKey makes the
// whole secret unusable, so that a placeholder value cannot sign.
func (k jobKey) keys(ctx context.Context) ([][]byte, error) {
	if k.secrets == nil || k.ref == "" {
		return nil, fmt.Errorf("%w: no %s", errJobKeyUnavailable, EnvJobKey)
	}
	raw, err := k.secrets.Secret(ctx, k.ref)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", errJobKeyUnavailable, k.ref, err)
	}
	var keys [][]byte
	for line := range bytes.Lines(raw) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if len(line) < minJobKey {
			return nil, fmt.Errorf("%w: %s: a key is shorter than %d bytes", errJobKeyUnavailable, k.ref, minJobKey)
		}
		keys = append(keys, line)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: %s is empty", errJobKeyUnavailable, k.ref)
	}
	return keys, nil
}

func jobMAC(key, data []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(jobSignaturePrefix))
	m.Write(data)
	return m.Sum(nil)
}

// sign returns the attrSignature value of a job message's data.
func (k jobKey) sign(ctx context.Context, data []byte) (string, error) {
	keys, err := k.keys(ctx)
	if err != nil {
		return "", err
	}
	return "v1=" + base64.RawURLEncoding.EncodeToString(jobMAC(keys[0], data)), nil
}

// check verifies sig, a message's attrSignature, over its data.
func (k jobKey) check(ctx context.Context, data []byte, sig string) error {
	enc, ok := strings.CutPrefix(sig, "v1=")
	if sig == "" || !ok {
		return errJobUnsigned
	}
	got, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return fmt.Errorf("%w: not base64url", errJobBadSignature)
	}
	keys, err := k.keys(ctx)
	if err != nil {
		return err
	}
	for _, key := range keys {
		if hmac.Equal(got, jobMAC(key, data)) {
			return nil
		}
	}
	return fmt.Errorf("%w: no key of %d matched", errJobBadSignature, len(keys))
}
