// Package suggest finds the word a misspelt one probably is, for the
// "did you mean" of configuration errors: a key ("secert" → "secret"), a
// scheme ("githib" → "github"), a handshake.
//
//	if m := suggest.Closest("secert", []string{"scheme", "secret"}); m != "" {
//		// did you mean "secret"?
//	}
package suggest

import "strings"

// Closest returns the candidate nearest to word by edit distance (letters
// inserted, deleted, replaced or two neighbours swapped, case ignored),
// when it is near enough to be a typo of it: at most two edits, or a third
// of the word's letters for long words. It returns "" when none is.
func Closest(word string, candidates []string) string {
	w := strings.ToLower(word)
	if w == "" {
		return ""
	}
	best, bestD := "", max(2, len(w)/3)+1
	for _, c := range candidates {
		if d := distance(w, strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// distance is the optimal string alignment distance of a and b: the
// Levenshtein distance with adjacent transpositions ("secert"), the
// commonest typo, counted as one edit.
func distance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range len(b) + 1 {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
