package trigger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"cloud.google.com/go/pubsub/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cloudhooks/webhooks/shared/event"
	"github.com/cloudhooks/webhooks/shared/render"
)

// attrIdempotencyKey is the attribute of every pubsub action message that
// carries the action's outgoingID, so that subscribers can dedupe Pub/Sub's
// at-least-once deliveries (and Trigger's own retries). An attribute
// template of that name is refused.
const attrIdempotencyKey = "idempotency_key"

// pubsubAction publishes the event, or a templated message, to a topic.
type pubsubAction struct {
	topic      string
	message    *render.Template // nil: the event envelope as JSON
	attributes []namedTemplate
}

// topicRef is a topic as configured: a short id or a full resource name.
// It is compiled on first use, by a source with a pubsub action: its
// counted repetitions cost a quarter of a megabyte to compile.
var topicRef = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(projects/[a-z][-a-z0-9.:]{4,61}[a-z0-9]/topics/)?[A-Za-z][-A-Za-z0-9_.~+%]{2,254}$`)
})

// Pub/Sub's limits on a message's attributes
// (https://cloud.google.com/pubsub/quotas#resource_limits).
const (
	maxAttributes     = 100
	maxAttributeKey   = 256  // bytes
	maxAttributeValue = 1024 // bytes
)

// checkAttributeKey checks a literal attribute key at start-up.
func checkAttributeKey(k string) error {
	switch {
	case len(k) > maxAttributeKey:
		return fmt.Errorf("longer than Pub/Sub's %d bytes", maxAttributeKey)
	case strings.HasPrefix(k, "goog"):
		return errors.New(`keys starting "goog" are reserved by Pub/Sub`)
	case !utf8.ValidString(k):
		return errors.New("not UTF-8")
	}
	return nil
}

// checkAttributeValue checks a filled attribute value: what Pub/Sub
// accepts, so that an event whose value it would refuse fails before
// anything is claimed or published (the emulator does not enforce it).
func checkAttributeValue(v string) error {
	switch {
	case len(v) > maxAttributeValue:
		return fmt.Errorf("rendered %d bytes, more than Pub/Sub's %d for an attribute value", len(v), maxAttributeValue)
	case !utf8.ValidString(v):
		return errors.New("rendered a value that is not UTF-8")
	}
	return nil
}

// compilePubSub validates a pubsub action. Attribute keys are literal and
// checked here; attribute values are templates whose filled text is an
// opaque Pub/Sub attribute value, checked against Pub/Sub's limits once
// filled (checkAttributeValue).
func compilePubSub(path string, s *actionSpec) (performer, error) {
	var errs []error
	a := &pubsubAction{topic: s.Topic}
	if len(s.Attributes) > maxAttributes {
		errs = append(errs, fmt.Errorf("%s.attributes: %d attributes, more than Pub/Sub's %d", path, len(s.Attributes), maxAttributes))
	}
	for _, k := range slices.Sorted(maps.Keys(s.Attributes)) {
		if err := checkAttributeKey(k); err != nil {
			errs = append(errs, fmt.Errorf("%s.attributes.%s: %w", path, k, err))
		}
	}
	if s.Topic == "" {
		errs = append(errs, fmt.Errorf("%s.topic: missing", path))
	} else if !topicRef().MatchString(s.Topic) {
		errs = append(errs, fmt.Errorf("%s.topic: %q is neither a topic id nor projects/P/topics/T", path, s.Topic))
	}
	m, err := parseOptional("message", s.Message)
	if err != nil {
		errs = append(errs, fmt.Errorf("%s.message: %w", path, err))
	}
	a.message = m
	if _, ok := s.Attributes[attrIdempotencyKey]; ok {
		errs = append(errs, fmt.Errorf("%s.attributes.%s: reserved: Trigger sets it to the action's scoped id", path, attrIdempotencyKey))
	}
	attrs, aerrs := parseTemplates(path+".attributes", s.Attributes, nil)
	a.attributes, errs = attrs, append(errs, aerrs...)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return a, nil
}

// prepare renders the message of one event.
func (a *pubsubAction) prepare(ev *event.Event, vars event.Vars) (call, error) {
	var data []byte
	if a.message != nil {
		s, err := a.message.Execute(vars)
		if err != nil {
			return nil, fmt.Errorf("message: %w", err)
		}
		data = []byte(s)
	} else {
		b, err := json.Marshal(ev)
		if err != nil {
			return nil, fmt.Errorf("message: encode event: %w", err)
		}
		data = b
	}
	attrs, err := renderMap(a.attributes, vars)
	if err != nil {
		return nil, fmt.Errorf("attributes.%w", err)
	}
	for _, nt := range a.attributes {
		if err := checkAttributeValue(attrs[nt.key]); err != nil {
			return nil, fmt.Errorf("attributes.%s: %w: %w", nt.key, render.ErrRender, err)
		}
	}
	return func(ctx context.Context, d *deps, inv invocation) (string, error) {
		m := &pubsub.Message{Data: data, Attributes: maps.Clone(attrs)}
		if m.Attributes == nil {
			m.Attributes = map[string]string{}
		}
		m.Attributes[attrIdempotencyKey] = inv.idempotencyKey
		id, err := d.topics.publish(ctx, a.topic, m, inv)
		if err != nil {
			return "", classifyGRPC(fmt.Errorf("publish to %s: %w", a.topic, err))
		}
		d.log.Debug("trigger: published", "topic", a.topic, "message_id", id)
		return "message " + id + " on " + a.topic, nil
	}, nil
}

// topicPublisher publishes action messages.
type topicPublisher interface {
	publish(ctx context.Context, topic string, m *pubsub.Message, inv invocation) (string, error)
}

// clientPublisher publishes with the process's Pub/Sub client, one
// Publisher per topic (each batches and keeps its own goroutines).
type clientPublisher struct {
	client *pubsub.Client
	mu     sync.Mutex
	byName map[string]*pubsub.Publisher
}

func (p *clientPublisher) publish(ctx context.Context, topic string, m *pubsub.Message, _ invocation) (string, error) {
	p.mu.Lock()
	pub := p.byName[topic]
	if pub == nil {
		if p.byName == nil {
			p.byName = map[string]*pubsub.Publisher{}
		}
		pub = p.client.Publisher(topic)
		p.byName[topic] = pub
	}
	p.mu.Unlock()
	return pub.Publish(ctx, m).Get(ctx)
}

// classifyGRPC marks the gRPC failures that no retry fixes as permanent: a
// missing or forbidden resource, a malformed request.
func classifyGRPC(err error) error {
	var se interface{ GRPCStatus() *status.Status }
	if !errors.As(err, &se) {
		return err
	}
	switch se.GRPCStatus().Code() {
	case codes.NotFound, codes.PermissionDenied, codes.InvalidArgument, codes.FailedPrecondition, codes.Unauthenticated:
		return permanent(err)
	}
	return err
}

// fullTopic returns projects/P/topics/T for a topic id in project.
func fullTopic(project, topic string) string {
	if strings.HasPrefix(topic, "projects/") {
		return topic
	}
	return "projects/" + project + "/topics/" + topic
}
