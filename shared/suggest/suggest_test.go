package suggest

import "testing"

func TestClosestFindsTheWordATypoMeant(t *testing.T) {
	keys := []string{"scheme", "secret", "header", "handshakes", "handshake_secret", "allow_cidrs", "tolerance"}
	tests := []struct{ word, want string }{
		{"secert", "secret"},          // swapped letters
		{"shceme", "scheme"},          // swapped letters
		{"handshake", "handshakes"},   // a letter missing
		{"Secret", "secret"},          // case
		{"allow_cidr", "allow_cidrs"}, // a letter missing
		{"tolerence", "tolerance"},    // a letter replaced
		{"colour", ""},                // nothing like any key
		{"", ""},
	}
	for _, tt := range tests {
		if got := Closest(tt.word, keys); got != tt.want {
			t.Errorf("Closest(%q) = %q, want %q", tt.word, got, tt.want)
		}
	}
	if got := Closest("githib", []string{"github", "gitlab", "hmac"}); got != "github" {
		t.Errorf("Closest(githib) = %q, want github", got)
	}
}

func FuzzClosestNeverPanics(f *testing.F) {
	f.Add("secert", "secret")
	f.Fuzz(func(t *testing.T, word, candidate string) {
		if got := Closest(word, []string{candidate}); got != "" && got != candidate {
			t.Fatalf("Closest returned %q, not a candidate", got)
		}
	})
}
