package trigger

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	cloudbuild "cloud.google.com/go/cloudbuild/apiv1/v2"
	"cloud.google.com/go/cloudbuild/apiv1/v2/cloudbuildpb"

	"github.com/cloudhooks/webhooks/shared/event"
	"github.com/cloudhooks/webhooks/shared/render"
)

// cloudBuildAction runs a Cloud Build trigger ("deploy staging on push to
// main") with substitutions taken from the event.
type cloudBuildAction struct {
	project, trigger, region string
	substitutions            []namedTemplate
	branch                   *render.Template
}

// substitutionChars are the characters of a value interpolated into a
// Cloud Build substitution or branch, as a regular expression character
// class: letters, digits and _.,:/@+=%- (commit SHAs, refs, repository
// names, versions, e-mail addresses). Cloud Build places substitutions in
// a build's steps as text, where a step may run them in a shell; none of
// these characters quotes, expands, globs, splits or ends a shell command.
// A value may not start with "-" either, which a step would read as an
// option.
const substitutionChars = `A-Za-z0-9_.,:/@+=%-`

// substitutionKey is Cloud Build's rule for user-defined substitutions.
var substitutionKey = regexp.MustCompile(`^_[A-Z0-9_]+$`)

// substitutionAlphabet checks a value's characters.
var substitutionAlphabet = render.Alphabet("the Cloud Build substitution alphabet", substitutionChars)

// checkSubstitution checks one value interpolated into a substitution or
// the branch.
func checkSubstitution(v string) error {
	if strings.HasPrefix(v, "-") {
		return fmt.Errorf("value %.64q starts with \"-\", which a build step would read as an option: a Cloud Build substitution value may not", v)
	}
	return substitutionAlphabet(v)
}

// compileCloudBuild validates a cloudbuild action. Every value an event
// interpolates into a substitution or the branch must keep to
// substitutionChars, or the event is unprocessable (422, or the job is
// dead-lettered) and no build starts: a pull request's title cannot become
// a command in a step that runs `bash -c "... $_TITLE"`. The keys listed
// in raw_substitutions are passed as they render instead, for a build
// whose steps read them only as data (an env: entry, a file), never as
// script text: an unchecked value there is whoever wrote the event's to
// choose.
func compileCloudBuild(path string, s *actionSpec) (performer, error) {
	var errs []error
	a := &cloudBuildAction{project: s.Project, trigger: s.Trigger, region: s.Region}
	if s.Trigger == "" {
		errs = append(errs, fmt.Errorf("%s.trigger: missing: the trigger's id or name", path))
	}
	if a.region == "" {
		a.region = "global"
	}
	raw := map[string]bool{}
	for i, k := range s.RawSubstitutions {
		switch _, ok := s.Substitutions[k]; {
		case !ok:
			errs = append(errs, fmt.Errorf("%s.raw_substitutions[%d]: %q is not a key of substitutions", path, i, k))
		case raw[k]:
			errs = append(errs, fmt.Errorf("%s.raw_substitutions[%d]: %q is listed twice", path, i, k))
		}
		raw[k] = true
	}
	for _, k := range slices.Sorted(maps.Keys(s.Substitutions)) {
		if !substitutionKey.MatchString(k) {
			errs = append(errs, fmt.Errorf("%s.substitutions.%s: a user-defined substitution is an underscore then upper-case letters, digits and underscores (_[A-Z0-9_]+)", path, k))
		}
	}
	subs, serrs := parseTemplates(path+".substitutions", s.Substitutions, func(key, name, text string) (*render.Template, error) {
		if raw[key] {
			return render.Parse(name, text)
		}
		return render.ParseChecked(name, text, checkSubstitution)
	})
	a.substitutions, errs = subs, append(errs, serrs...)
	var (
		b   *render.Template
		err error
	)
	if s.Branch != "" {
		b, err = render.ParseChecked("branch", s.Branch, checkSubstitution)
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("%s.branch: %w", path, err))
	}
	a.branch = b
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return a, nil
}

// prepare renders the RunBuildTrigger request of one event; the project
// defaults to the deployment's at call time.
func (a *cloudBuildAction) prepare(_ *event.Event, vars event.Vars) (call, error) {
	subs, err := renderMap(a.substitutions, vars)
	if err != nil {
		return nil, fmt.Errorf("substitutions.%w", err)
	}
	var branch string
	if a.branch != nil {
		if branch, err = a.branch.Execute(vars); err != nil {
			return nil, fmt.Errorf("branch: %w", err)
		}
	}
	return func(ctx context.Context, d *deps, inv invocation) (string, error) {
		project := a.project
		if project == "" {
			project = d.project
		}
		if project == "" {
			return "", permanent(fmt.Errorf("cloudbuild trigger %s: no project: set the action's project or GOOGLE_CLOUD_PROJECT", a.trigger))
		}
		req := &cloudbuildpb.RunBuildTriggerRequest{
			Name:      fmt.Sprintf("projects/%s/locations/%s/triggers/%s", project, a.region, a.trigger),
			ProjectId: project,
			TriggerId: a.trigger,
		}
		if len(subs) > 0 || branch != "" {
			req.Source = &cloudbuildpb.RepoSource{ProjectId: project, Substitutions: subs}
			if branch != "" {
				req.Source.Revision = &cloudbuildpb.RepoSource_BranchName{BranchName: branch}
			}
		}
		id, err := d.builds.runTrigger(ctx, req, inv)
		if err != nil {
			return "", classifyGRPC(fmt.Errorf("cloudbuild trigger %s: %w", a.trigger, err))
		}
		d.log.Info("trigger: build started", append(inv.logAttrs(), "build", id)...)
		return "build " + id, nil
	}, nil
}

// buildRunner starts Cloud Build triggers.
type buildRunner interface {
	// runTrigger starts the trigger and returns the build's id. It does not
	// wait for the build: a deploy outlasts any webhook's patience.
	runTrigger(ctx context.Context, req *cloudbuildpb.RunBuildTriggerRequest, inv invocation) (string, error)
}

// cloudBuildClient is the buildRunner of deployments.
type cloudBuildClient struct{ c *cloudbuild.Client }

func (b cloudBuildClient) runTrigger(ctx context.Context, req *cloudbuildpb.RunBuildTriggerRequest, _ invocation) (string, error) {
	op, err := b.c.RunBuildTrigger(ctx, req)
	if err != nil {
		return "", err
	}
	// The operation's metadata names the build as soon as it is queued.
	if md, err := op.Metadata(); err == nil && md.GetBuild() != nil {
		return md.GetBuild().GetId(), nil
	}
	return op.Name(), nil
}
