package trigger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"strings"
	"sync"

	"cloud.google.com/go/pubsub/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cloudhooks/webhooks/shared/event"
	"github.com/cloudhooks/webhooks/shared/render"
)

// AttrIdempotencyKey is the attribute of every pubsub action message that
// carries the action's OutgoingID, so that subscribers can dedupe Pub/Sub's
// at-least-once deliveries (and Trigger's own retries). An attribute
// template of that name is refused.
const AttrIdempotencyKey = "idempotency_key"

// pubsubAction publishes the event, or a templated message, to a topic.
type pubsubAction struct {
	topic      string
	message    *render.Template // nil: the event envelope as JSON
	attributes []namedTemplate
}

// topicRef is a topic as configured: a short id or a full resource name.
var topicRef = regexp.MustCompile(`^(projects/[a-z][-a-z0-9.:]{4,61}[a-z0-9]/topics/)?[A-Za-z][-A-Za-z0-9_.~+%]{2,254}$`)

// compilePubSub validates a pubsub action.
func compilePubSub(path string, s *actionSpec) (performer, error) {
	var errs []error
	a := &pubsubAction{topic: s.Topic}
	if s.Topic == "" {
		errs = append(errs, fmt.Errorf("%s.topic: missing", path))
	} else if !topicRef.MatchString(s.Topic) {
		errs = append(errs, fmt.Errorf("%s.topic: %q is neither a topic id nor projects/P/topics/T", path, s.Topic))
	}
	m, err := parseOptional("message", s.Message)
	if err != nil {
		errs = append(errs, fmt.Errorf("%s.message: %w", path, err))
	}
	a.message = m
	if _, ok := s.Attributes[AttrIdempotencyKey]; ok {
		errs = append(errs, fmt.Errorf("%s.attributes.%s: reserved: Trigger sets it to the action's scoped id", path, AttrIdempotencyKey))
	}
	attrs, aerrs := parseTemplates(path+".attributes", s.Attributes)
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
	return func(ctx context.Context, d *deps, inv invocation) error {
		m := &pubsub.Message{Data: data, Attributes: maps.Clone(attrs)}
		if m.Attributes == nil {
			m.Attributes = map[string]string{}
		}
		m.Attributes[AttrIdempotencyKey] = inv.idempotencyKey
		id, err := d.topics.publish(ctx, a.topic, m, inv)
		if err != nil {
			return classifyGRPC(fmt.Errorf("publish to %s: %w", a.topic, err))
		}
		d.log.Debug("trigger: published", "topic", a.topic, "message_id", id)
		return nil
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
