# tflint with only the terraform ruleset bundled into the tflint binary:
# nothing is downloaded (no `tflint --init`, no registry), so the check runs
# offline in CI and on a laptop alike.
config {
  call_module_type = "none"
}

plugin "terraform" {
  enabled = true
  preset  = "recommended"
}
