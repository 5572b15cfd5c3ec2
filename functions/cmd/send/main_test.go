package main

import "testing"

// Sending to this machine signs with make run's development keys; any
// other URL is a deployment, whose secrets live in Secret Manager.
func TestLocalURLsSignWithTheDevelopmentKeys(t *testing.T) {
	tests := []struct {
		url  string
		want bool
	}{
		{"", true},
		{"http://localhost:8080/store", true},
		{"http://127.0.0.1:18080/store", true},
		{"http://[::1]:8080/store", true},
		{"https://store-abc-ew.a.run.app", false},
		{"http://10.0.0.7:8080/store", false},
		{"://bad", false},
	}
	for _, tt := range tests {
		if got := isLocal(tt.url); got != tt.want {
			t.Errorf("isLocal(%q) = %v, want %v", tt.url, got, tt.want)
		}
	}
}
