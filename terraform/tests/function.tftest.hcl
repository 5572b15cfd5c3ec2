# The function module alone (modules/function), planned against the real
# google provider's schema with its API mocked: its archive holds the
# function's files and nothing else, and it checks every function's
# runtime settings, once for all four.
#
#   terraform -chdir=terraform test -filter=tests/function.tftest.hcl

mock_provider "google" {}

variables {
  deployment = {
    project_id            = "tf-test"
    region                = "europe-west1"
    labels                = {}
    runtime               = "go126"
    build_service_account = "projects/tf-test/serviceAccounts/build@tf-test.iam.gserviceaccount.com"
    source_root           = "tests/testdata/clean"
    build_dir             = ".build/function-test/clean"
    source_bucket         = "tf-test-webhooks-source"
    build_environment     = {}
    runtime_environment   = {}
  }
  code = {
    root_files = ["webhooks.go", "store.go"]
    packages   = ["functions/store", "shared/config"]
  }
  name                  = "webhooks-store"
  entry_point           = "Store"
  description           = "Store"
  service_account_email = "store@tf-test.iam.gserviceaccount.com"
  public                = true
  settings = {
    memory          = "512Mi"
    cpu             = "1"
    concurrency     = 80
    min_instances   = 0
    max_instances   = 20
    timeout_seconds = 60
  }
}

# tests/testdata/clean holds exactly what the Store fixture compiles.
run "archive_of_the_function_files" {
  command = plan

  module {
    source = "./modules/function"
  }

  assert {
    condition     = output.files == tolist(["functions/store/schema.json", "functions/store/store.go", "go.mod", "go.sum", "shared/config/load.go", "store.go", "webhooks.go"])
    error_message = "The archive holds go.mod, go.sum, the root files and the packages' files."
  }
}

# The attack: the same source root with a vendor/ folder (which switches
# the buildpack to a vendored build), a stray top-level folder, docs/,
# .ci/, a README, another pattern's root file and package, a test and a
# testdata folder in a package the function compiles. The archive is
# byte for byte the one of the function's files alone.
run "archive_leaves_every_other_file_out" {
  command = plan

  module {
    source = "./modules/function"
  }

  variables {
    deployment = merge(var.deployment, { source_root = "tests/testdata/stray", build_dir = ".build/function-test/stray" })
  }

  assert {
    condition     = output.files == run.archive_of_the_function_files.files
    error_message = "Nothing outside the function's packages, go.mod, go.sum and its root files is in its archive."
  }
  assert {
    condition     = output.archive_md5 == run.archive_of_the_function_files.archive_md5
    error_message = "The archive built beside stray files (vendor/, docs/, tests, other packages) is the archive of the function's files alone."
  }
}

run "settings_refuse_concurrency_without_a_whole_cpu" {
  command = plan

  module {
    source = "./modules/function"
  }

  variables {
    settings = merge(var.settings, { cpu = "0.5" })
  }

  expect_failures = [var.settings]
}

run "settings_refuse_more_min_than_max_instances" {
  command = plan

  module {
    source = "./modules/function"
  }

  variables {
    settings = merge(var.settings, { min_instances = 5, max_instances = 2 })
  }

  expect_failures = [var.settings]
}

run "settings_refuse_concurrency_above_1000" {
  command = plan

  module {
    source = "./modules/function"
  }

  variables {
    settings = merge(var.settings, { concurrency = 1001 })
  }

  expect_failures = [var.settings]
}

run "settings_take_less_than_a_cpu_at_concurrency_1" {
  command = plan

  module {
    source = "./modules/function"
  }

  variables {
    settings = merge(var.settings, { cpu = "0.5", concurrency = 1 })
  }
}
