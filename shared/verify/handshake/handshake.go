// Package handshake answers the ownership checks ("handshakes") that webhook
// providers make when a URL is registered, and some of them periodically
// afterwards: the provider sends a challenge and registers the URL only if
// the reply proves that whoever runs it holds the shared secret, or at least
// that the URL answers on purpose.
//
// A source lists the kinds it answers in its configuration (verify.handshakes);
// the request pipeline (shared/pipeline) calls Answer for each of them:
//
//	if handshake.BeforeVerification(kind) { ... answered before the signature is checked }
//	reply, err := handshake.Answer(kind, r, body, keys)
//	switch {
//	case errors.Is(err, handshake.ErrRefused):   // 403: wrong token
//	case errors.Is(err, handshake.ErrMalformed): // 400: a handshake missing its challenge
//	case err != nil:                             // 503: no key to sign the reply with
//	case reply == nil:                           // not a handshake: an ordinary event
//	default:                                     // write reply.Status, reply.Header, reply.Body
//	}
//
// Providers that sign their handshake like any event (Slack, Zoom) are
// answered only after the signature checked out; providers whose handshake
// is an unsigned GET (Meta, Twitter/X, Dropbox) or an unsigned POST
// (Microsoft Graph) are answered before, which BeforeVerification reports.
//
// Every handshake echoes a value taken from the request, which makes the
// endpoint a reflector for whoever can reach it. Echoed values are therefore
// bounded (MaxEcho; longer is ErrMalformed) and always served as text/plain
// or JSON with "X-Content-Type-Options: nosniff", so that no browser renders
// them as HTML.
//
// keys are the source's keys, one per line of its secret (rotation): a
// verify token matches when it equals any key, compared in constant time;
// a reply that is signed (Twitter/X CRC, Zoom) is signed with the first key,
// the current one.
package handshake

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
)

// The handshake kinds, as written in a source's verify.handshakes.
const (
	// Challenge is the generic handshake of Google's guide "Hosting webhook
	// targets" (https://cloud.google.com/run/docs/triggering/webhooks):
	// POST {"challenge": "…"}, answered with JSON {"challenge": "…"}.
	//
	// It is answered after verification. The guide's example returns the
	// challenge to anyone, but it then asks for authorization on every
	// request; a sender following it signs or tokens its challenge like any
	// event, and answering only verified senders keeps an unauthenticated
	// client from using the endpoint as a JSON reflector.
	Challenge = "challenge"
	// Slack is the Events API url_verification event
	// (https://api.slack.com/events/url_verification): POST
	// {"type": "url_verification", "token": …, "challenge": …}, answered
	// with JSON {"challenge": …}, which Slack accepts. Slack signs it
	// (X-Slack-Signature), so it is answered after verification; its
	// "token" is Slack's deprecated verification token and is not checked,
	// the signature having proved more.
	Slack = "slack"
	// Meta is the verification request of Meta's Webhooks (Facebook,
	// Instagram, WhatsApp;
	// https://developers.facebook.com/docs/graph-api/webhooks/getting-started):
	// GET ?hub.mode=subscribe&hub.verify_token=T&hub.challenge=C, answered
	// with C as text/plain when T equals a key; a wrong T is ErrRefused.
	// The GET is unsigned, so it is answered before verification.
	Meta = "meta"
	// CRC is the challenge-response check of the Twitter/X Account Activity
	// API (https://developer.twitter.com/en/docs/twitter-api/enterprise/account-activity-api/guides/securing-webhooks):
	// GET ?crc_token=X, answered with JSON
	// {"response_token": "sha256=" + base64(HMAC-SHA256(consumer secret, X))}.
	// The GET is unsigned, so it is answered before verification.
	//
	// Its reply is, by X's design, the signature X puts on an event whose
	// body is X: whoever can reach the URL can have any token signed. So a
	// token is answered only when ValidCRCToken (X's alphabet and length,
	// which no JSON event matches), and package verify answers crc only for
	// its twitter scheme, which refuses every body ValidCRCToken accepts,
	// and only behind an address allowlist.
	CRC = "crc"
	// Zoom is Zoom's endpoint URL validation
	// (https://developers.zoom.us/docs/api/webhooks/#validate-your-webhook-endpoint):
	// POST {"event": "endpoint.url_validation", "payload": {"plainToken": "…"}},
	// answered with JSON {"plainToken": …, "encryptedToken":
	// hex(HMAC-SHA256(secret token, plainToken))}. Zoom signs it
	// (x-zm-signature), so it is answered after verification.
	Zoom = "zoom"
	// Dropbox is the verification request of Dropbox webhooks
	// (https://www.dropbox.com/developers/reference/webhooks): GET
	// ?challenge=X, answered with X as text/plain and
	// "X-Content-Type-Options: nosniff", as Dropbox asks. Unsigned, so
	// answered before verification.
	Dropbox = "dropbox"
	// Graph is the validation request of Microsoft Graph change
	// notifications
	// (https://learn.microsoft.com/graph/change-notifications-delivery-webhooks,
	// "notificationUrl validation"):
	// POST ?validationToken=X, answered within 10 seconds with X, URL-decoded,
	// as text/plain. Unsigned, so answered before verification.
	Graph = "graph"
	// Discord is the PING of Discord's interactions endpoint
	// (https://discord.com/developers/docs/interactions/receiving-and-responding#receiving-an-interaction):
	// POST {"type": 1, …}, answered with JSON {"type": 1}. Discord signs it
	// (X-Signature-Ed25519), so it is answered after verification; Discord
	// also sends it with a bad signature and expects a 401.
	Discord = "discord"
	// Twitch is EventSub's webhook_callback_verification
	// (https://dev.twitch.tv/docs/eventsub/handling-webhook-events/#responding-to-a-challenge-request):
	// Twitch-Eventsub-Message-Type: webhook_callback_verification with
	// {"challenge": "…"} in the body, answered with the challenge as
	// text/plain. Signed like any notification, answered after verification.
	Twitch = "twitch"
	// Front is the challenge of Front's application webhooks
	// (https://dev.frontapp.com/docs/webhooks-1#validating-application-webhooks):
	// a signed POST with an X-Front-Challenge header, answered with the
	// header's value as text/plain, after verification.
	Front = "front"
	// EventGrid is Azure Event Grid's synchronous endpoint validation
	// (https://learn.microsoft.com/azure/event-grid/end-point-validation-event-grid-events-schema):
	// a POST with aeg-event-type: SubscriptionValidation whose body is
	// [{"eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
	// "data": {"validationCode": "…"}}], answered with JSON
	// {"validationResponse": "…"}. Unsigned, so answered before
	// verification.
	EventGrid = "eventgrid"
	// Okta is the one-time verification of an Okta event hook
	// (https://developer.okta.com/docs/concepts/event-hooks/#one-time-verification-request):
	// a GET with X-Okta-Verification-Challenge, answered with JSON
	// {"verification": "…"}. It carries the hook's authorization header,
	// so it is answered after verification.
	Okta = "okta"
)

// MaxEcho is the longest value a handshake echoes, in bytes. Providers send
// challenges of a few dozen bytes (Graph's validation token, the longest,
// is a sentence); a longer one is ErrMalformed rather than reflected.
const MaxEcho = 1024

// MaxCRCToken is the longest crc_token answered, in bytes. X's tokens are
// the base64 of a UUID, 48 bytes; the bound leaves room for a change.
const MaxCRCToken = 128

// ValidCRCToken reports whether token has the form of X's CRC tokens:
// 1 to MaxCRCToken characters of the base64 or base64url alphabet, with at
// most two trailing "=". Only such tokens are signed by the crc handshake,
// and package verify's twitter scheme refuses a body of this form: the set
// of strings the handshake signs and the set of bodies that verify are
// disjoint.
func ValidCRCToken[T ~string | ~[]byte](token T) bool {
	n := len(token)
	for n > 0 && len(token)-n < 2 && token[n-1] == '=' {
		n--
	}
	if n == 0 || len(token) > MaxCRCToken {
		return false
	}
	for i := range n {
		switch c := token[i]; {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '+', c == '/', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// Errors of Answer, matched with errors.Is.
var (
	// ErrRefused means the handshake carried a token that matches no key:
	// the pipeline answers 403.
	ErrRefused = errors.New("handshake: token refused")
	// ErrMalformed means the request is a handshake but lacks what it must
	// carry (its challenge, or a token), carries it twice or too long: the
	// pipeline answers 400.
	ErrMalformed = errors.New("handshake: malformed handshake")
	// ErrNoKey means a handshake whose reply is signed arrived while the
	// source has no key: a configuration fault of ours, which the pipeline
	// answers 503 so that the provider retries once a key is set.
	ErrNoKey = errors.New("handshake: no key to sign the reply with")
)

// Reply is the answer to a handshake, written as it is.
type Reply struct {
	Status int
	Header http.Header
	Body   []byte
}

// ParamVerifyToken is the query parameter of Meta's verification request
// that carries the verify token: the handshake secret itself.
const ParamVerifyToken = "hub.verify_token"

// kind describes one handshake.
type kind struct {
	// early: the provider sends the handshake unsigned.
	early bool
	// get: a handshake answered after verification that comes as a GET.
	get bool
	// secretParams are the query parameters compared with a key.
	secretParams []string
	answer       func(r *http.Request, body []byte, keys [][]byte) (*Reply, error)
}

var kinds = map[string]kind{
	Challenge: {early: false, answer: answerChallenge},
	Slack:     {early: false, answer: answerSlack},
	Meta:      {early: true, secretParams: []string{ParamVerifyToken}, answer: answerMeta},
	CRC:       {early: true, answer: answerCRC},
	Zoom:      {early: false, answer: answerZoom},
	Dropbox:   {early: true, answer: answerDropbox},
	Graph:     {early: true, answer: answerGraph},
	Discord:   {early: false, answer: answerDiscord},
	Twitch:    {early: false, answer: answerTwitch},
	Front:     {early: false, answer: answerFront},
	EventGrid: {early: true, answer: answerEventGrid},
	Okta:      {early: false, get: true, answer: answerOkta},
}

// Kinds returns every handshake kind, sorted, for messages and docs.
func Kinds() []string {
	names := make([]string, 0, len(kinds))
	for name := range kinds {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Valid reports whether kind names a handshake this package answers.
func Valid(kind string) bool {
	_, ok := kinds[kind]
	return ok
}

// BeforeVerification reports whether the provider sends this handshake
// unsigned, so the pipeline must answer it before checking signatures
// (others are answered after the signature checked out). It is false for
// an unknown kind.
func BeforeVerification(kind string) bool {
	return kinds[kind].early
}

// SecretParams returns the query parameters of the kind's request whose
// value is compared with a key, the secret itself when it matches (Meta's
// hub.verify_token): whatever keeps or shows requests must not keep them.
// Echoed challenges are not secrets and are not listed.
func SecretParams(kind string) []string {
	return slices.Clone(kinds[kind].secretParams)
}

// VerifiedGET reports whether kind is answered after verification but
// comes as a GET (Okta's verification request, with the hook's token), so
// the pipeline verifies a GET to such a source instead of refusing it.
func VerifiedGET(kind string) bool { return kinds[kind].get }

// Answer returns (nil, nil) when r is not this kind of handshake (an
// ordinary event, or a GET without the handshake's parameter: the pipeline
// goes on), a Reply to send when it is, or an error: ErrRefused for a wrong
// token, ErrMalformed for a handshake missing what it must carry, ErrNoKey
// when a reply must be signed and keys is empty.
//
// body is the request body, already read; r.Body is not touched. keys are
// the source's secret keys: a token matches if it equals any key
// (constant-time); where a key signs the reply, the first key (current) is
// used.
func Answer(kind string, r *http.Request, body []byte, keys [][]byte) (*Reply, error) {
	k, ok := kinds[kind]
	if !ok {
		return nil, fmt.Errorf("handshake: unknown kind %q", kind)
	}
	if r == nil || r.URL == nil {
		return nil, nil
	}
	reply, err := k.answer(r, body, keys)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	return reply, nil
}

func answerChallenge(r *http.Request, body []byte, _ [][]byte) (*Reply, error) {
	if r.Method != http.MethodPost {
		return nil, nil
	}
	obj, ok := jsonObject(body)
	if !ok {
		return nil, nil
	}
	if _, present := obj["challenge"]; !present {
		return nil, nil
	}
	challenge, err := echoField(obj, "challenge")
	if err != nil {
		return nil, err
	}
	return jsonReply(map[string]string{"challenge": challenge})
}

func answerSlack(r *http.Request, body []byte, _ [][]byte) (*Reply, error) {
	if r.Method != http.MethodPost {
		return nil, nil
	}
	obj, ok := jsonObject(body)
	if !ok || stringField(obj, "type") != "url_verification" {
		return nil, nil
	}
	challenge, err := echoField(obj, "challenge")
	if err != nil {
		return nil, err
	}
	return jsonReply(map[string]string{"challenge": challenge})
}

func answerMeta(r *http.Request, _ []byte, keys [][]byte) (*Reply, error) {
	if r.Method != http.MethodGet {
		return nil, nil
	}
	q := r.URL.Query()
	mode, present, err := param(q, "hub.mode")
	if !present {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if mode != "subscribe" {
		return nil, fmt.Errorf("%w: hub.mode is not subscribe", ErrMalformed)
	}
	token, present, err := param(q, ParamVerifyToken)
	switch {
	case err != nil:
		return nil, err
	case !present || token == "":
		return nil, fmt.Errorf("%w: no %s", ErrMalformed, ParamVerifyToken)
	}
	challenge, err := echoParam(q, "hub.challenge")
	if err != nil {
		return nil, err
	}
	if !anyKeyEquals(keys, token) {
		return nil, ErrRefused
	}
	return textReply(challenge), nil
}

func answerCRC(r *http.Request, _ []byte, keys [][]byte) (*Reply, error) {
	if r.Method != http.MethodGet || !r.URL.Query().Has("crc_token") {
		return nil, nil
	}
	token, err := echoParam(r.URL.Query(), "crc_token")
	if err != nil {
		return nil, err
	}
	if !ValidCRCToken(token) {
		return nil, fmt.Errorf("%w: crc_token is not base64 of at most %d bytes", ErrMalformed, MaxCRCToken)
	}
	if len(keys) == 0 {
		return nil, ErrNoKey
	}
	mac := hmac.New(sha256.New, keys[0])
	mac.Write([]byte(token))
	return jsonReply(map[string]string{"response_token": "sha256=" + base64.StdEncoding.EncodeToString(mac.Sum(nil))})
}

func answerZoom(r *http.Request, body []byte, keys [][]byte) (*Reply, error) {
	if r.Method != http.MethodPost {
		return nil, nil
	}
	obj, ok := jsonObject(body)
	if !ok || stringField(obj, "event") != "endpoint.url_validation" {
		return nil, nil
	}
	payload, ok := jsonObject(obj["payload"])
	if !ok {
		return nil, fmt.Errorf("%w: no payload object", ErrMalformed)
	}
	plain, err := echoField(payload, "plainToken")
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, ErrNoKey
	}
	mac := hmac.New(sha256.New, keys[0])
	mac.Write([]byte(plain))
	return jsonReply(map[string]string{"plainToken": plain, "encryptedToken": hex.EncodeToString(mac.Sum(nil))})
}

func answerDropbox(r *http.Request, _ []byte, _ [][]byte) (*Reply, error) {
	if r.Method != http.MethodGet || !r.URL.Query().Has("challenge") {
		return nil, nil
	}
	challenge, err := echoParam(r.URL.Query(), "challenge")
	if err != nil {
		return nil, err
	}
	return textReply(challenge), nil
}

func answerGraph(r *http.Request, _ []byte, _ [][]byte) (*Reply, error) {
	if r.Method != http.MethodPost || !r.URL.Query().Has("validationToken") {
		return nil, nil
	}
	// Query values are URL-decoded, as Graph asks of the echo.
	token, err := echoParam(r.URL.Query(), "validationToken")
	if err != nil {
		return nil, err
	}
	return textReply(token), nil
}

func answerDiscord(r *http.Request, body []byte, _ [][]byte) (*Reply, error) {
	if r.Method != http.MethodPost {
		return nil, nil
	}
	obj, ok := jsonObject(body)
	if !ok || string(obj["type"]) != "1" {
		return nil, nil
	}
	return &Reply{Status: http.StatusOK, Header: safeHeader("application/json"), Body: []byte(`{"type":1}`)}, nil
}

func answerTwitch(r *http.Request, body []byte, _ [][]byte) (*Reply, error) {
	if r.Method != http.MethodPost || r.Header.Get("Twitch-Eventsub-Message-Type") != "webhook_callback_verification" {
		return nil, nil
	}
	obj, ok := jsonObject(body)
	if !ok {
		return nil, fmt.Errorf("%w: the verification body is not a JSON object", ErrMalformed)
	}
	challenge, err := echoField(obj, "challenge")
	if err != nil {
		return nil, err
	}
	return textReply(challenge), nil
}

func answerFront(r *http.Request, _ []byte, _ [][]byte) (*Reply, error) {
	vs := r.Header.Values("X-Front-Challenge")
	switch {
	case r.Method != http.MethodPost || len(vs) == 0:
		return nil, nil
	case len(vs) > 1 || vs[0] == "":
		return nil, fmt.Errorf("%w: X-Front-Challenge given %d times", ErrMalformed, len(vs))
	case len(vs[0]) > MaxEcho:
		return nil, fmt.Errorf("%w: X-Front-Challenge longer than %d bytes", ErrMalformed, MaxEcho)
	}
	return textReply(vs[0]), nil
}

func answerEventGrid(r *http.Request, body []byte, _ [][]byte) (*Reply, error) {
	if r.Method != http.MethodPost || r.Header.Get("Aeg-Event-Type") != "SubscriptionValidation" {
		return nil, nil
	}
	var events []struct {
		EventType string `json:"eventType"`
		Data      struct {
			ValidationCode string `json:"validationCode"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &events); err != nil || len(events) != 1 ||
		events[0].EventType != "Microsoft.EventGrid.SubscriptionValidationEvent" {
		return nil, fmt.Errorf("%w: not one SubscriptionValidationEvent", ErrMalformed)
	}
	code := events[0].Data.ValidationCode
	switch {
	case code == "":
		return nil, fmt.Errorf("%w: no validationCode", ErrMalformed)
	case len(code) > MaxEcho:
		return nil, fmt.Errorf("%w: validationCode longer than %d bytes", ErrMalformed, MaxEcho)
	}
	return jsonReply(map[string]string{"validationResponse": code})
}

func answerOkta(r *http.Request, _ []byte, _ [][]byte) (*Reply, error) {
	vs := r.Header.Values("X-Okta-Verification-Challenge")
	switch {
	case r.Method != http.MethodGet || len(vs) == 0:
		return nil, nil
	case len(vs) > 1 || vs[0] == "":
		return nil, fmt.Errorf("%w: X-Okta-Verification-Challenge given %d times", ErrMalformed, len(vs))
	case len(vs[0]) > MaxEcho:
		return nil, fmt.Errorf("%w: X-Okta-Verification-Challenge longer than %d bytes", ErrMalformed, MaxEcho)
	}
	return jsonReply(map[string]string{"verification": vs[0]})
}

// param returns the single value of a query parameter; present is false
// when it is absent. A parameter given twice is ambiguous (which one would
// the provider check?) and ErrMalformed.
func param(q url.Values, name string) (value string, present bool, err error) {
	vs, present := q[name]
	switch {
	case !present:
		return "", false, nil
	case len(vs) != 1:
		return "", true, fmt.Errorf("%w: %s given %d times", ErrMalformed, name, len(vs))
	}
	return vs[0], true, nil
}

// echoParam returns a query parameter that will be echoed: present once,
// not empty, at most MaxEcho bytes.
func echoParam(q url.Values, name string) (string, error) {
	v, present, err := param(q, name)
	switch {
	case err != nil:
		return "", err
	case !present || v == "":
		return "", fmt.Errorf("%w: no %s", ErrMalformed, name)
	case len(v) > MaxEcho:
		return "", fmt.Errorf("%w: %s longer than %d bytes", ErrMalformed, name, MaxEcho)
	}
	return v, nil
}

// jsonObject decodes a JSON object into its raw members; ok is false for
// anything else.
func jsonObject(data []byte) (map[string]json.RawMessage, bool) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil || obj == nil {
		return nil, false
	}
	return obj, true
}

// stringField returns a member that is a JSON string, "" otherwise.
func stringField(obj map[string]json.RawMessage, name string) string {
	var s string
	if err := json.Unmarshal(obj[name], &s); err != nil {
		return ""
	}
	return s
}

// echoField returns a member that will be echoed: a non-empty JSON string
// of at most MaxEcho bytes.
func echoField(obj map[string]json.RawMessage, name string) (string, error) {
	s := stringField(obj, name)
	switch {
	case s == "":
		return "", fmt.Errorf("%w: no %s string", ErrMalformed, name)
	case len(s) > MaxEcho:
		return "", fmt.Errorf("%w: %s longer than %d bytes", ErrMalformed, name, MaxEcho)
	}
	return s, nil
}

// anyKeyEquals compares token with every key in constant time. It compares
// SHA-256 digests, so neither the keys' lengths nor which key matched leak
// through timing.
func anyKeyEquals(keys [][]byte, token string) bool {
	sum := sha256.Sum256([]byte(token))
	match := 0
	for _, key := range keys {
		k := sha256.Sum256(key)
		match |= subtle.ConstantTimeCompare(sum[:], k[:])
	}
	return match == 1
}

// safeHeader is the header of every reply: an echo must never be sniffed
// into HTML.
func safeHeader(contentType string) http.Header {
	return http.Header{
		"Content-Type":           {contentType},
		"X-Content-Type-Options": {"nosniff"},
		"Cache-Control":          {"no-store"},
	}
}

func textReply(s string) *Reply {
	return &Reply{Status: http.StatusOK, Header: safeHeader("text/plain; charset=utf-8"), Body: []byte(s)}
}

func jsonReply(v map[string]string) (*Reply, error) {
	// json.Marshal escapes <, > and & as \u003c..., so not even a sniffing
	// client finds markup in the echo.
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode reply: %w", err)
	}
	return &Reply{Status: http.StatusOK, Header: safeHeader("application/json"), Body: b}, nil
}
