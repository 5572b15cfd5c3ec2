# What Trigger's cloudbuild actions may do in Cloud Build, applied against
# the google provider's schema with its API mocked. The attack: Trigger (or
# TriggerWorker) is made to call Cloud Build with requests of its
# attacker's choosing, to start a build of its own steps, or to run another
# trigger (the deploy pipeline) as a more powerful service account. What it
# holds must limit that to starting builds, which run as one identity that
# has only the roles the rules' triggers need.
#
#   terraform -chdir=terraform test -filter=tests/builds.tftest.hcl

mock_provider "google" {
  mock_resource "google_service_account" {
    defaults = {
      email = "mock-account@tf-test.iam.gserviceaccount.com"
      name  = "projects/tf-test/serviceAccounts/mock-account@tf-test.iam.gserviceaccount.com"
      id    = "projects/tf-test/serviceAccounts/mock-account@tf-test.iam.gserviceaccount.com"
    }
  }
  # A custom role's id is projects/PROJECT/roles/ROLE_ID.
  mock_resource "google_project_iam_custom_role" {
    defaults = {
      id   = "projects/tf-test/roles/mock_role"
      name = "projects/tf-test/roles/mock_role"
    }
  }
}

# Each identity its own address, so that a grant to the wrong one shows.
override_resource {
  target = google_service_account.trigger
  values = {
    email = "webhooks-trigger@tf-test.iam.gserviceaccount.com"
    name  = "projects/tf-test/serviceAccounts/webhooks-trigger@tf-test.iam.gserviceaccount.com"
    id    = "projects/tf-test/serviceAccounts/webhooks-trigger@tf-test.iam.gserviceaccount.com"
  }
}

override_resource {
  target = google_service_account.trigger_worker
  values = {
    email = "webhooks-trigger-worker@tf-test.iam.gserviceaccount.com"
    name  = "projects/tf-test/serviceAccounts/webhooks-trigger-worker@tf-test.iam.gserviceaccount.com"
    id    = "projects/tf-test/serviceAccounts/webhooks-trigger-worker@tf-test.iam.gserviceaccount.com"
  }
}

override_resource {
  target = google_service_account.trigger_builds
  values = {
    email = "webhooks-trigger-builds@tf-test.iam.gserviceaccount.com"
    name  = "projects/tf-test/serviceAccounts/webhooks-trigger-builds@tf-test.iam.gserviceaccount.com"
    id    = "projects/tf-test/serviceAccounts/webhooks-trigger-builds@tf-test.iam.gserviceaccount.com"
  }
}

variables {
  project_id              = "tf-test"
  log_metric_wait_seconds = 0
  enable_store            = true
  enable_relay            = true
  enable_trigger          = true
}

# shared/config/webhooks.yaml has a cloudbuild action (trigger
# deploy-staging): the grants it needs, and nothing else.
run "trigger_runs_builds_with_one_permission_as_one_identity" {
  command = apply

  assert {
    condition     = google_project_iam_custom_role.trigger_run_builds[0].permissions == toset(["cloudbuild.builds.create"])
    error_message = "RunBuildTrigger needs cloudbuild.builds.create on the trigger, and Trigger's role holds that one permission: no get, list, update or delete of builds or triggers, no approvals, no worker pools."
  }
  assert {
    condition = ({ for k, m in google_project_iam_member.trigger_run_builds : k => [m.role, m.member] } == {
      trigger        = [google_project_iam_custom_role.trigger_run_builds[0].id, "serviceAccount:webhooks-trigger@tf-test.iam.gserviceaccount.com"]
      trigger_worker = [google_project_iam_custom_role.trigger_run_builds[0].id, "serviceAccount:webhooks-trigger-worker@tf-test.iam.gserviceaccount.com"]
    })
    error_message = "Trigger and TriggerWorker, which both run actions, hold the run-builds role, and nobody else through this binding."
  }
  assert {
    condition = length([
      for m in concat(values(google_project_iam_member.build), values(google_project_iam_member.claims_user), google_project_iam_member.relay_fcm,
      values(google_project_iam_member.trigger_run_builds), values(google_project_iam_member.trigger_builds)) : m
      if contains(["serviceAccount:webhooks-trigger@tf-test.iam.gserviceaccount.com", "serviceAccount:webhooks-trigger-worker@tf-test.iam.gserviceaccount.com"], m.member)
      && (startswith(m.role, "roles/cloudbuild.") || contains(["roles/iam.serviceAccountUser", "roles/iam.serviceAccountTokenCreator", "roles/editor", "roles/owner"], m.role))
    ]) == 0
    error_message = "No predefined Cloud Build role (builds.editor submits any build and edits any trigger) and no project-wide actAs for the function identities: they could then run builds as any service account of the project, the deployer's included."
  }
  assert {
    condition = ({ for k, m in google_service_account_iam_member.trigger_builds_user : k => [m.service_account_id, m.role, m.member] } == {
      trigger        = [google_service_account.trigger_builds[0].name, "roles/iam.serviceAccountUser", "serviceAccount:webhooks-trigger@tf-test.iam.gserviceaccount.com"]
      trigger_worker = [google_service_account.trigger_builds[0].name, "roles/iam.serviceAccountUser", "serviceAccount:webhooks-trigger-worker@tf-test.iam.gserviceaccount.com"]
    })
    error_message = "The function identities may act as the build identity, granted on that one service account."
  }
  assert {
    condition = length([
      for m in [google_service_account_iam_member.push_token_creator[0]] : m
      if strcontains(m.member, "webhooks-trigger@") || strcontains(m.member, "webhooks-trigger-worker@")
    ]) == 0
    error_message = "The function identities may act as no other service account."
  }
  assert {
    condition = ({ for k, m in google_project_iam_member.trigger_builds : k => [m.role, m.member] } == {
      "roles/logging.logWriter" = ["roles/logging.logWriter", "serviceAccount:webhooks-trigger-builds@tf-test.iam.gserviceaccount.com"]
    })
    error_message = "By default the build identity may write its build logs and nothing else."
  }
  assert {
    condition     = output.trigger_build_service_account == "projects/tf-test/serviceAccounts/webhooks-trigger-builds@tf-test.iam.gserviceaccount.com"
    error_message = "The build identity is an output: the operator sets it as the service account of each trigger the rules name."
  }
}

# What the triggers' own builds need is the operator's to say, and only that
# is granted.
run "build_identity_holds_exactly_the_roles_given" {
  command = apply

  variables {
    trigger_build_roles = ["roles/logging.logWriter", "roles/run.developer"]
  }

  assert {
    condition     = toset(keys(google_project_iam_member.trigger_builds)) == toset(["roles/logging.logWriter", "roles/run.developer"])
    error_message = "trigger_build_roles are the build identity's roles, one binding each."
  }
}

# The attack on the roles themselves: handing the build identity a role that
# lets it act as, or grant itself, anything else would give every build it
# runs (and so Trigger) the project.
run "build_identity_refuses_roles_that_escape_it" {
  command = plan

  variables {
    trigger_build_roles = ["roles/logging.logWriter", "roles/iam.serviceAccountUser"]
  }

  expect_failures = [var.trigger_build_roles]
}

run "build_identity_refuses_the_basic_roles" {
  command = plan

  variables {
    trigger_build_roles = ["roles/editor"]
  }

  expect_failures = [var.trigger_build_roles]
}

# With Trigger off nothing of this exists.
run "no_trigger_no_build_grants" {
  command = plan

  variables {
    enable_trigger = false
  }

  assert {
    condition = (length(google_project_iam_custom_role.trigger_run_builds) + length(google_project_iam_member.trigger_run_builds)
      + length(google_service_account.trigger_builds) + length(google_service_account_iam_member.trigger_builds_user)
    + length(google_project_iam_member.trigger_builds)) == 0
    error_message = "Trigger off: no run-builds role, no build identity, no grants."
  }
}
