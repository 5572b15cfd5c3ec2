package trigger

import (
	"context"
	"errors"
	"fmt"

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

// compileCloudBuild validates a cloudbuild action.
func compileCloudBuild(path string, s *actionSpec) (performer, error) {
	var errs []error
	a := &cloudBuildAction{project: s.Project, trigger: s.Trigger, region: s.Region}
	if s.Trigger == "" {
		errs = append(errs, fmt.Errorf("%s.trigger: missing: the trigger's id or name", path))
	}
	if a.region == "" {
		a.region = "global"
	}
	subs, serrs := parseTemplates(path+".substitutions", s.Substitutions)
	a.substitutions, errs = subs, append(errs, serrs...)
	b, err := parseOptional("branch", s.Branch)
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
	return func(ctx context.Context, d *deps, inv invocation) error {
		project := a.project
		if project == "" {
			project = d.project
		}
		if project == "" {
			return permanent(fmt.Errorf("cloudbuild trigger %s: no project: set the action's project or GOOGLE_CLOUD_PROJECT", a.trigger))
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
			return classifyGRPC(fmt.Errorf("cloudbuild trigger %s: %w", a.trigger, err))
		}
		d.log.Info("trigger: build started", append(inv.logAttrs(), "build", id)...)
		return nil
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
