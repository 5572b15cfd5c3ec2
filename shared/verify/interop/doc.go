// Package interop proves package verify against the providers' official Go
// SDKs: a request signed by verify.Sign passes the SDK's verifier, and a
// request signed by the SDK (where it ships a signer) passes verify.New's
// verifier.
//
// It is a module of its own (go.mod beside this file, with a replace of
// the root module), so that the SDKs are neither requirements of the root
// module nor files of the functions' deploy archives. Run it from here:
//
//	go test -count=1 ./...
//	go test -run '^$' -bench . -benchmem   # ours beside the SDKs' verifiers
//
// The tests for the asymmetric presets (SendGrid, Discord) are behind the
// asymmetric build tag until their catalogue rows exist:
//
//	go test -count=1 -tags asymmetric ./...
package interop
