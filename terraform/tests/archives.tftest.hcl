# Writes every function's deploy archive to terraform/.build/<EntryPoint>.zip
# exactly as an apply uploads it. The buildpack test in the repository root
# (webhooks_test.go) runs this file, then builds each archive the way
# Google's Go buildpack does.
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
}
