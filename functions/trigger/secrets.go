package trigger

import (
	"github.com/cloudhooks/webhooks/shared/secrets"
	"github.com/cloudhooks/webhooks/shared/verify"
)

// defaultSecrets is the secret source that signs HTTP actions: the
// process's resolver, shared with the pipeline (Secret Manager with a cache, env: and file:
// references for local runs). Only this file names package secrets;
// everything else takes the one-method verify.SecretSource.
func defaultSecrets() verify.SecretSource { return secrets.Process() }
