// Package strictjson is the one reading of a JSON payload that every
// function shares: what Store writes is what Relay and Trigger act on.
//
// It accepts RFC 8259 JSON with the restrictions of I-JSON (RFC 7493):
// strings are valid UTF-8 with no unpaired surrogate escapes, and no object
// has two members of the same name, at any depth ("\u0061" and "a" are the
// same name). encoding/json accepts both and reads them its own way (the
// last duplicate wins, bad bytes become U+FFFD), while the raw bytes keep
// the other reading; refusing them is what leaves one reading.
//
// Everything here is one pass over the bytes that builds no values, so it
// is cheap enough for the request path and safe before authentication:
//
//	err := strictjson.Validate(body, func(name, value []byte) {
//		// each member of a top-level object, value as raw JSON
//	})
//	token, member, err := strictjson.Find(body, []string{"auth", "token"})
package strictjson

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"unicode/utf16"
	"unicode/utf8"
)

// Errors of Validate and Find, matched with errors.Is.
var (
	// ErrSyntax: the bytes are not JSON.
	ErrSyntax = errors.New("strictjson: not JSON")
	// ErrInvalidUTF8: a string holds bytes that are not UTF-8 or an
	// unpaired surrogate escape (\ud800).
	ErrInvalidUTF8 = errors.New("strictjson: string is not valid UTF-8")
	// ErrDuplicateName: an object has two members of the same name.
	ErrDuplicateName = errors.New("strictjson: duplicate member name")
	// ErrTooDeep: arrays and objects nest deeper than MaxDepth.
	ErrTooDeep = errors.New("strictjson: nested too deep")
)

// MaxDepth is how deeply arrays and objects may nest: encoding/json's own
// limit, so that nothing it reads is refused for depth alone.
const MaxDepth = 10000

// Span is a range of bytes, data[Start:End].
type Span struct{ Start, End int }

// Validate checks that data is one strict JSON value (see the package
// comment) and, when data is an object and member is not nil, calls member
// with the name (unescaped) and raw value of each of its members. The
// slices passed to member are only valid during the call.
func Validate(data []byte, member func(name, value []byte)) error {
	var s scanner
	s.data = data
	// Names of the open objects, innermost last: frames[i] is where the
	// names of the i-th open object start in names.
	var namesBuf [32]nameRef
	var framesBuf [16]int
	names, frames := namesBuf[:0], framesBuf[:0]
	var arena []byte // unescaped text of names written with escapes
	// The member of a top-level object being read: its name, and where
	// its value starts when that is an array or object.
	var topName []byte
	topObject, pending, topStart := false, false, -1
	for first := true; ; first = false {
		k, err := s.next()
		if err != nil {
			return err
		}
		switch k {
		case tokEnd:
			return nil
		case tokObjectStart:
			frames = append(frames, len(names))
			topObject = topObject || first
		case tokObjectEnd:
			n := frames[len(frames)-1]
			if dupNames(data, arena, names[n:]) {
				return s.errorf(ErrDuplicateName, s.start)
			}
			names, frames = names[:n], frames[:len(frames)-1]
		case tokName:
			ref := nameRef{start: s.start + 1, end: s.end - 1}
			if s.escaped {
				ref.start = len(arena)
				arena = appendUnquoted(arena, data[s.start:s.end])
				ref.end, ref.inArena = len(arena), true
			}
			names = append(names, ref)
			if topObject && s.depth == 1 && member != nil {
				topName = ref.text(data, arena)
				if ref.inArena {
					topName = bytes.Clone(topName) // arena moves as it grows
				}
				pending = true
			}
			continue
		}
		switch {
		case pending && (k == tokObjectStart || k == tokArrayStart):
			pending, topStart = false, s.start
		case pending:
			pending = false
			member(topName, data[s.start:s.pos])
		case topStart >= 0 && s.depth == 1:
			member(topName, data[topStart:s.pos])
			topStart = -1
		}
	}
}

// Find returns the raw value at path (member names from the top-level
// object down) and the span of its member, name through value. It reads
// data only as far as that member, checking the syntax of what it skips
// without building anything, so its cost is one pass and no allocation
// whatever the body holds: fit for a request not yet authenticated.
// found is false when some object on the path lacks the name or a value on
// the path is not an object. A caller must still Validate data before
// acting on it: Find stops at the first member of a name.
func Find(data []byte, path []string) (value []byte, member Span, found bool, err error) {
	var s scanner
	s.data = data
	var scratch [64]byte
	for i, want := range path {
		k, err := s.next()
		if err != nil || k != tokObjectStart {
			return nil, Span{}, false, err
		}
		depth := s.depth
		for {
			k, err := s.next()
			if err != nil {
				return nil, Span{}, false, err
			}
			if k == tokObjectEnd {
				return nil, Span{}, false, nil
			}
			name := data[s.start+1 : s.end-1]
			start := s.start
			if s.escaped {
				name = appendUnquoted(scratch[:0], data[s.start:s.end])
			}
			if string(name) == want {
				if i < len(path)-1 {
					break
				}
				v, err := s.skipValue(depth)
				if err != nil {
					return nil, Span{}, false, err
				}
				return data[v:s.pos], Span{start, s.pos}, true, nil
			}
			if _, err := s.skipValue(depth); err != nil {
				return nil, Span{}, false, err
			}
		}
	}
	return nil, Span{}, false, nil
}

// Remove returns data without the member at path, and whether there was
// one: the member and one comma beside it, so that what is left is JSON.
// data is not modified; the result is a copy when a member was removed.
// data should have passed Validate: only the first member of the name is
// removed.
func Remove(data []byte, path []string) ([]byte, bool, error) {
	_, m, found, err := Find(data, path)
	if err != nil || !found {
		return data, false, err
	}
	start, end := m.Start, m.End
	if i := skipSpaceBack(data, start); i > 0 && data[i-1] == ',' {
		start = i - 1 // a member before it: take the comma that precedes it
	} else if j := skipSpace(data, end); j < len(data) && data[j] == ',' {
		end = j + 1 // the first member: take the comma that follows it
	}
	out := make([]byte, 0, len(data)-(end-start))
	return append(append(out, data[:start]...), data[end:]...), true, nil
}

// Unquote returns the text of a raw JSON string token, with escapes
// replaced; ok is false when raw is not a string. The text shares raw's
// memory when the string holds no escapes.
func Unquote(raw []byte) (text []byte, ok bool) {
	var s scanner
	s.data = raw
	if k, err := s.next(); err != nil || k != tokString {
		return nil, false
	}
	if k, err := s.next(); err != nil || k != tokEnd {
		return nil, false
	}
	if !s.escaped {
		return raw[1 : len(raw)-1], true
	}
	return appendUnquoted(nil, raw), true
}

// nameRef is a member name: data[start:end], or arena[start:end] when it
// was written with escapes.
type nameRef struct {
	start, end int
	inArena    bool
}

func (n nameRef) text(data, arena []byte) []byte {
	if n.inArena {
		return arena[n.start:n.end]
	}
	return data[n.start:n.end]
}

// dupNames reports whether two of the names of one object are the same.
// Small objects, the common case, compare every pair; large ones sort, so
// that a body of many names costs n log n, not n².
func dupNames(data, arena []byte, names []nameRef) bool {
	if len(names) <= 16 {
		for i := 1; i < len(names); i++ {
			a := names[i].text(data, arena)
			for _, b := range names[:i] {
				if bytes.Equal(a, b.text(data, arena)) {
					return true
				}
			}
		}
		return false
	}
	slices.SortFunc(names, func(a, b nameRef) int {
		return bytes.Compare(a.text(data, arena), b.text(data, arena))
	})
	for i := 1; i < len(names); i++ {
		if bytes.Equal(names[i-1].text(data, arena), names[i].text(data, arena)) {
			return true
		}
	}
	return false
}

// appendUnquoted appends the text of the string token quoted, which the
// scanner has checked, with its escapes replaced.
func appendUnquoted(dst, quoted []byte) []byte {
	b := quoted[1 : len(quoted)-1]
	for i := 0; i < len(b); {
		c := b[i]
		if c != '\\' {
			dst = append(dst, c)
			i++
			continue
		}
		switch e := b[i+1]; e {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := rune(hex4(b[i+2:]))
			if utf16.IsSurrogate(r) {
				r = utf16.DecodeRune(r, rune(hex4(b[i+8:])))
				i += 6
			}
			dst = utf8.AppendRune(dst, r)
			i += 6
			continue
		default: // " \ /
			dst = append(dst, e)
		}
		i += 2
	}
	return dst
}

// hex4 decodes four hex digits; -1 when b does not start with four.
func hex4(b []byte) int {
	if len(b) < 4 {
		return -1
	}
	n := 0
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		n = n<<4 | int(c)
	}
	return n
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(data []byte, i int) int {
	for i < len(data) && isSpace(data[i]) {
		i++
	}
	return i
}

func skipSpaceBack(data []byte, i int) int {
	for i > 0 && isSpace(data[i-1]) {
		i--
	}
	return i
}

// Error is where and why data was refused; it matches one of the package's
// sentinel errors with errors.Is.
type Error struct {
	err    error
	Offset int // byte offset in data
}

func (e *Error) Error() string { return fmt.Sprintf("%v at byte %d", e.err, e.Offset) }
func (e *Error) Unwrap() error { return e.err }
