package verify

import "github.com/cloudhooks/webhooks/shared/secrets"

// checkRef rejects a secret reference that does not parse, so a typo in
// the config file stops start-up instead of failing every request. An
// empty reference is checked by the caller, which knows if one is needed.
func checkRef(ref string) error {
	if ref == "" {
		return nil
	}
	_, err := secrets.ParseRef(ref)
	return err
}
