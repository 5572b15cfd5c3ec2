// Package strictjson is the one reading of a JSON payload that every
// function shares: what Store writes is what Relay and Trigger act on.
//
// It accepts RFC 8259 JSON with the restrictions of I-JSON (RFC 7493):
// strings are valid UTF-8 with no unpaired surrogate escapes, and no object
// has two members of the same name, at any depth ("\u0061" and "a" are the
// same name). encoding/json accepts both and reads them its own way (the
// last duplicate wins, bad bytes become U+FFFD), while the raw bytes keep
// the other reading; refusing them is what leaves one reading. Numbers,
// as I-JSON asks, are within float64's range: encoding/json cannot decode
// 1e400, which Store would otherwise keep and Relay and Trigger refuse.
//
// What every function accepts is bounded so that it can be stored and
// checked cheaply: arrays and objects nest at most MaxDepth (BigQuery's
// JSON limit), an object has at most MaxMembers members and the objects
// open at once MaxNames names together.
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
	"hash/maphash"
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
	// ErrTooManyNames: an object has more than MaxMembers members, or
	// the objects open at once more than MaxNames.
	ErrTooManyNames = errors.New("strictjson: too many member names")
	// ErrNumberRange: a number is beyond float64's range (1e400), which
	// encoding/json cannot decode: Store would keep what Relay and
	// Trigger cannot read.
	ErrNumberRange = errors.New("strictjson: number outside float64's range")
)

// The bounds of what Validate accepts, which bound what it holds.
const (
	// MaxDepth is how deeply arrays and objects may nest: the limit of
	// BigQuery's JSON type, where Store keeps the payload, so that what
	// every function accepts can be stored.
	MaxDepth = 500
	// MaxMembers is the most members one object may have, far above any
	// provider's payload (GitHub's largest objects hold a few hundred).
	MaxMembers = 10_000
	// MaxNames is the most member names the objects open at once may
	// hold together: the duplicate check keeps a hash of each, so it
	// holds at most 400 KiB.
	MaxNames = 5 * MaxMembers
)

// Span is a range of bytes, data[Start:End].
type Span struct{ Start, End int }

// Validate checks that data is one strict JSON value (see the package
// comment) and, when data is an object and member is not nil, calls member
// with the name (unescaped) and raw value of each of its members. The
// slices passed to member are only valid during the call.
//
// What Validate holds is bounded whatever data holds: a 64-bit hash of
// each name of the objects open at once, at most MaxNames of them, so a
// body of millions of names costs a few hundred KiB at most, not ten
// times its size (ErrTooManyNames).
func Validate(data []byte, member func(name, value []byte)) error {
	var s scanner
	s.data = data
	// Hashes of the names of the open objects, innermost last;
	// frames[i] is the i-th open object.
	var namesBuf [32]uint64
	var framesBuf [16]frame
	names, frames := namesBuf[:0], framesBuf[:0]
	var h maphash.Hash
	h.SetSeed(seed)
	// The member of a top-level object being read: its name, and where
	// its value starts when that is an array or object.
	var topName, topBuf []byte
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
			frames = append(frames, frame{names: len(names), start: s.start})
			topObject = topObject || first
		case tokObjectEnd:
			f := frames[len(frames)-1]
			if at, name, err := duplicate(data, f.start, names[f.names:]); err != nil {
				return s.errorf(ErrDuplicateName, s.start)
			} else if at >= 0 {
				return &Error{err: ErrDuplicateName, Offset: at, Name: quoteName(name)}
			}
			names, frames = names[:f.names], frames[:len(frames)-1]
		case tokName:
			if len(names)-frames[len(frames)-1].names == MaxMembers || len(names) == MaxNames {
				return s.errorf(ErrTooManyNames, s.start)
			}
			if len(names) == cap(names) {
				// Doubling: append's 1.25× growth of a large slice
				// would allocate five times what is held.
				names = slices.Grow(names, len(names))
			}
			quoted := data[s.start:s.end]
			names = append(names, hashName(&h, quoted, s.escaped))
			if topObject && s.depth == 1 && member != nil {
				topName = quoted[1 : len(quoted)-1]
				if s.escaped {
					topBuf = appendUnquoted(topBuf[:0], quoted)
					topName = topBuf
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

// frame is an open object: where its names start in Validate's hashes,
// and where its opening brace is in data.
type frame struct{ names, start int }

// seed keys the name hashes: chosen at random for each process, so that
// no sender can choose names whose hashes collide.
var seed = maphash.MakeSeed()

// hashName hashes the text of the member name quoted (escapes replaced,
// so that "\u0061" and "a" hash alike) without building it.
func hashName(h *maphash.Hash, quoted []byte, escaped bool) uint64 {
	b := quoted[1 : len(quoted)-1]
	if !escaped {
		return maphash.Bytes(seed, b)
	}
	h.Reset()
	var buf [utf8.UTFMax]byte
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\\')
		if i < 0 {
			_, _ = h.Write(b)
			break
		}
		_, _ = h.Write(b[:i])
		text, n := unescape(buf[:0], b[i:])
		_, _ = h.Write(text)
		b = b[i+n:]
	}
	return h.Sum64()
}

// duplicate reports whether two of the names of the object that starts
// at data[start] are the same, given their hashes (which it reorders): the
// offset of the second one and the name, or -1. Small objects, the common
// case, compare every pair; large ones sort, so that a body of many names
// costs n log n, not n². Equal hashes are confirmed by the names' text: a
// collision is not a duplicate.
func duplicate(data []byte, start int, hashes []uint64) (int, []byte, error) {
	if len(hashes) <= 16 {
		for i := 1; i < len(hashes); i++ {
			for _, b := range hashes[:i] {
				if hashes[i] == b {
					if at, name, err := sameNames(data, start, b); err != nil || at >= 0 {
						return at, name, err
					}
				}
			}
		}
		return -1, nil, nil
	}
	slices.Sort(hashes)
	for i := 1; i < len(hashes); i++ {
		if hashes[i] == hashes[i-1] && (i == 1 || hashes[i] != hashes[i-2]) {
			if at, name, err := sameNames(data, start, hashes[i]); err != nil || at >= 0 {
				return at, name, err
			}
		}
	}
	return -1, nil, nil
}

// sameNames reads again the object that starts at data[start] and
// returns the offset and text of the second of two of its names of hash h
// that have the same text, or -1.
func sameNames(data []byte, start int, h uint64) (int, []byte, error) {
	s := scanner{data: data, pos: start}
	if _, err := s.next(); err != nil {
		return -1, nil, err
	}
	var hh maphash.Hash
	hh.SetSeed(seed)
	var seen [][]byte // the text of each name of hash h so far
	for {
		k, err := s.next()
		if err != nil || k == tokObjectEnd {
			return -1, nil, err
		}
		quoted := data[s.start:s.end]
		if hashName(&hh, quoted, s.escaped) == h {
			text := quoted[1 : len(quoted)-1]
			if s.escaped {
				text = appendUnquoted(nil, quoted)
			}
			for _, t := range seen {
				if bytes.Equal(t, text) {
					return s.start, text, nil
				}
			}
			seen = append(seen, text)
		}
		if _, err := s.skipValue(1); err != nil {
			return -1, nil, err
		}
	}
}

// maxNameInError is the most of a duplicate name an Error quotes.
const maxNameInError = 64

// quoteName is a duplicate name as an Error shows it: quoted, and cut
// after maxNameInError bytes.
func quoteName(name []byte) string {
	if len(name) > maxNameInError {
		return fmt.Sprintf("%q…", name[:maxNameInError])
	}
	return fmt.Sprintf("%q", name)
}

// appendUnquoted appends the text of the string token quoted, which the
// scanner has checked, with its escapes replaced.
func appendUnquoted(dst, quoted []byte) []byte {
	b := quoted[1 : len(quoted)-1]
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\\')
		if i < 0 {
			return append(dst, b...)
		}
		dst = append(dst, b[:i]...)
		var n int
		dst, n = unescape(dst, b[i:])
		b = b[i+n:]
	}
	return dst
}

// unescape appends the text of the escape that starts b, which the
// scanner has checked, and returns the escape's length.
func unescape(dst, b []byte) ([]byte, int) {
	switch e := b[1]; e {
	case 'b':
		return append(dst, '\b'), 2
	case 'f':
		return append(dst, '\f'), 2
	case 'n':
		return append(dst, '\n'), 2
	case 'r':
		return append(dst, '\r'), 2
	case 't':
		return append(dst, '\t'), 2
	case 'u':
		r := rune(hex4(b[2:]))
		if utf16.IsSurrogate(r) {
			return utf8.AppendRune(dst, utf16.DecodeRune(r, rune(hex4(b[8:])))), 12
		}
		return utf8.AppendRune(dst, r), 6
	default: // " \ /
		return append(dst, e), 2
	}
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
	// Name is the member name of ErrDuplicateName, quoted (and cut after
	// 64 bytes): which member the sender wrote twice.
	Name string
}

func (e *Error) Error() string {
	if e.Name != "" {
		return fmt.Sprintf("%v %s at byte %d", e.err, e.Name, e.Offset)
	}
	return fmt.Sprintf("%v at byte %d", e.err, e.Offset)
}
func (e *Error) Unwrap() error { return e.err }
