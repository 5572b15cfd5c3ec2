# Writes every function's deploy archive to terraform/.build/<EntryPoint>.zip
# exactly as an apply uploads it, and its build environment (the
# function's build_config.environment_variables) beside it as
# <EntryPoint>.build-env.zip. The buildpack test in the repository root
# (webhooks_test.go) runs this file, then builds each archive the way
# Google's Go buildpack does, with that environment.
#
#   terraform -chdir=terraform test -filter=tests/archives.tftest.hcl

mock_provider "google" {}

variables {
  project_id     = "tf-test"
  enable_store   = true
  enable_relay   = true
  enable_trigger = true
}

run "archives" {
  command = plan

  assert {
    condition = {
      for name, m in { Store = module.store[0], Relay = module.relay[0], Trigger = module.trigger[0], TriggerWorker = module.trigger_worker[0] } : name => basename(m.archive_path)
      } == {
      Store = "Store.zip", Relay = "Relay.zip", Trigger = "Trigger.zip", TriggerWorker = "TriggerWorker.zip"
    }
    error_message = "Each entry point has its archive, named after it."
  }
  assert {
    condition     = module.store[0].archive_md5 != module.relay[0].archive_md5 && module.trigger[0].archive_md5 == module.trigger_worker[0].archive_md5
    error_message = "Store and Relay compile different files; Trigger and TriggerWorker the same."
  }
  assert {
    condition = alltrue([
      for m in [module.store[0], module.relay[0], module.trigger[0], module.trigger_worker[0]] :
      m.build_environment == tomap({ GOOGLE_GOLDFLAGS = "-s -w", GOFLAGS = "-tags=disable_grpc_modules,grpcnotrace,nethttpomithttp2", CGO_ENABLED = "0" })
    ])
    error_message = "Every function builds stripped (GOOGLE_GOLDFLAGS, the buildpack's -ldflags) and without the Cloud Storage client's gRPC extras or gRPC's tracing pages or net/http's own HTTP/2 (GOFLAGS=-tags=disable_grpc_modules,grpcnotrace,nethttpomithttp2), and static (CGO_ENABLED=0)."
  }
  assert {
    condition = module.store[0].environment_variables["GOMEMLIMIT"] == "36MiB" && alltrue([
      for m in [module.store[0], module.relay[0], module.trigger[0], module.trigger_worker[0]] : !contains(keys(m.environment_variables), "GOGC")
      ]) && alltrue([
      for m in [module.relay[0], module.trigger[0], module.trigger_worker[0]] : !contains(keys(m.environment_variables), "GOMEMLIMIT")
    ])
    error_message = "Store runs with GOMEMLIMIT=36MiB (store.tf: its peak memory under load) and Go's default GOGC (its cold start); Relay, Trigger and TriggerWorker with Go's defaults."
  }
  assert {
    condition = {
      for name, m in { Store = module.store[0], Relay = module.relay[0], Trigger = module.trigger[0], TriggerWorker = module.trigger_worker[0] } : name => basename(m.build_environment_path)
      } == {
      Store = "Store.build-env.zip", Relay = "Relay.build-env.zip", Trigger = "Trigger.build-env.zip", TriggerWorker = "TriggerWorker.build-env.zip"
    }
    error_message = "Each entry point's build environment is written beside its archive for the buildpack test."
  }
}
