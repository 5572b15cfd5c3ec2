package strictjson

import (
	"strconv"
	"unicode/utf8"
)

// kind is the kind of a token.
type kind uint8

const (
	tokEnd         kind = iota // the end of data, after the top-level value
	tokObjectStart             // {
	tokObjectEnd               // }
	tokArrayStart              // [
	tokArrayEnd                // ]
	tokName                    // a member name, with its colon
	tokString
	tokNumber
	tokLiteral // true, false, null
)

// What the grammar allows next.
const (
	stValue      = iota // a value (the start, after a colon or an array's comma)
	stValueOrEnd        // after [: a value or ]
	stNameOrEnd         // after {: a name or }
	stCommaOrEnd        // after a value: a comma or the container's end
)

// scanner reads data one token at a time, checking the grammar and the
// strict rules as it goes. It keeps no token: a token is the span
// data[start:pos] of the last one read.
type scanner struct {
	data       []byte
	pos        int // where the next token starts, or the space before it
	start, end int // the last token: data[start:end]
	state      uint8
	escaped    bool // the last string token holds escapes
	depth      int  // arrays and objects open
	// objects has bit i set when the container open at depth i+1 is an
	// object: a fixed stack, so that no input makes it grow.
	objects [MaxDepth/64 + 1]uint64
}

func (s *scanner) errorf(err error, offset int) error { return &Error{err: err, Offset: offset} }

func (s *scanner) eof() error { return s.errorf(ErrSyntax, len(s.data)) }

// next reads the next token.
func (s *scanner) next() (kind, error) {
	k, err := s.token()
	if k != tokName {
		s.end = s.pos
	}
	return k, err
}

func (s *scanner) token() (kind, error) {
	s.pos = skipSpace(s.data, s.pos)
	s.start = s.pos
	switch s.state {
	case stValueOrEnd:
		if s.pos < len(s.data) && s.data[s.pos] == ']' {
			return s.close(tokArrayEnd), nil
		}
	case stNameOrEnd:
		if s.pos < len(s.data) && s.data[s.pos] == '}' {
			return s.close(tokObjectEnd), nil
		}
		return s.name()
	case stCommaOrEnd:
		if s.depth == 0 {
			if s.pos < len(s.data) {
				return 0, s.errorf(ErrSyntax, s.pos)
			}
			return tokEnd, nil
		}
		if s.pos == len(s.data) {
			return 0, s.eof()
		}
		inObject := s.inObject()
		switch c := s.data[s.pos]; {
		case c == ',':
			s.pos = skipSpace(s.data, s.pos+1)
			s.start = s.pos
			if inObject {
				return s.name()
			}
		case c == '}' && inObject:
			return s.close(tokObjectEnd), nil
		case c == ']' && !inObject:
			return s.close(tokArrayEnd), nil
		default:
			return 0, s.errorf(ErrSyntax, s.pos)
		}
	}
	return s.value()
}

func (s *scanner) inObject() bool {
	d := s.depth - 1
	return s.objects[d/64]&(1<<(d%64)) != 0
}

// close closes the innermost container, whose closing byte is at pos.
func (s *scanner) close(k kind) kind {
	s.pos++
	s.depth--
	s.state = stCommaOrEnd
	return k
}

// open opens a container, whose opening byte is at pos.
func (s *scanner) open(object bool) error {
	if s.depth == MaxDepth {
		return s.errorf(ErrTooDeep, s.pos)
	}
	bit := uint64(1) << (s.depth % 64)
	if object {
		s.objects[s.depth/64] |= bit
		s.state = stNameOrEnd
	} else {
		s.objects[s.depth/64] &^= bit
		s.state = stValueOrEnd
	}
	s.depth++
	s.pos++
	return nil
}

// name reads a member name and its colon.
func (s *scanner) name() (kind, error) {
	if s.pos == len(s.data) || s.data[s.pos] != '"' {
		return 0, s.errorf(ErrSyntax, s.pos)
	}
	if err := s.str(); err != nil {
		return 0, err
	}
	s.end = s.pos
	s.pos = skipSpace(s.data, s.pos)
	if s.pos == len(s.data) || s.data[s.pos] != ':' {
		return 0, s.errorf(ErrSyntax, s.pos)
	}
	s.pos++
	s.state = stValue
	return tokName, nil
}

// value reads the value that starts at pos.
func (s *scanner) value() (kind, error) {
	if s.pos == len(s.data) {
		return 0, s.eof()
	}
	switch c := s.data[s.pos]; {
	case c == '{':
		return tokObjectStart, s.open(true)
	case c == '[':
		return tokArrayStart, s.open(false)
	case c == '"':
		s.state = stCommaOrEnd
		return tokString, s.str()
	case c == '-' || ('0' <= c && c <= '9'):
		s.state = stCommaOrEnd
		return tokNumber, s.number()
	case c == 't':
		return tokLiteral, s.literal("true")
	case c == 'f':
		return tokLiteral, s.literal("false")
	case c == 'n':
		return tokLiteral, s.literal("null")
	}
	return 0, s.errorf(ErrSyntax, s.pos)
}

func (s *scanner) literal(word string) error {
	if len(s.data)-s.pos < len(word) || string(s.data[s.pos:s.pos+len(word)]) != word {
		return s.errorf(ErrSyntax, s.pos)
	}
	s.pos += len(word)
	s.state = stCommaOrEnd
	return nil
}

// number reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? and checks
// that float64 can hold it.
func (s *scanner) number() error {
	d, i := s.data, s.pos
	if d[i] == '-' {
		i++
	}
	intStart := i
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && '1' <= d[i] && d[i] <= '9':
		i = digits(d, i)
	default:
		return s.errorf(ErrSyntax, i)
	}
	intEnd, fracStart, fracEnd := i, i, i
	if i < len(d) && d[i] == '.' {
		j := digits(d, i+1)
		if j == i+1 {
			return s.errorf(ErrSyntax, j)
		}
		fracStart, fracEnd, i = i+1, j, j
	}
	exp := 0
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		neg := i < len(d) && d[i] == '-'
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := digits(d, i)
		if j == i {
			return s.errorf(ErrSyntax, j)
		}
		for _, c := range d[i:j] {
			if exp < 1e9 { // beyond, the number is 0 or out of range anyway
				exp = exp*10 + int(c-'0')
			}
		}
		if neg {
			exp = -exp
		}
		i = j
	}
	if !inRange(d[s.pos:i], d[intStart:intEnd], d[fracStart:fracEnd], exp) {
		return s.errorf(ErrNumberRange, s.pos)
	}
	s.pos = i
	return nil
}

// inRange reports whether float64 holds the number literal, of integer
// digits intPart, fraction digits frac and exponent exp: whether its
// magnitude is below float64's largest, 1.797…e308. Numbers too small
// round to zero, as strconv.ParseFloat and encoding/json read them.
func inRange(literal, intPart, frac []byte, exp int) bool {
	// The number is d.ddd…×10^e10 with a first digit d that is not zero.
	var e10 int
	switch {
	case intPart[0] != '0':
		e10 = len(intPart) - 1 + exp
	default:
		z := 0
		for z < len(frac) && frac[z] == '0' {
			z++
		}
		if z == len(frac) {
			return true // zero
		}
		e10 = exp - z - 1
	}
	switch {
	case e10 < 308:
		return true
	case e10 > 308:
		return false
	}
	// Only a number of 1e308 up to 1e309 needs ParseFloat to decide.
	_, err := strconv.ParseFloat(string(literal), 64)
	return err == nil
}

func digits(d []byte, i int) int {
	for i < len(d) && '0' <= d[i] && d[i] <= '9' {
		i++
	}
	return i
}

// plain marks the bytes a string holds as themselves: printable ASCII
// other than the quote and the backslash.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str reads the string that starts at pos, checking its escapes and that
// its text is UTF-8 with no unpaired surrogate.
func (s *scanner) str() error {
	d, i := s.data, s.pos+1
	s.escaped = false
	for {
		for i < len(d) && plain[d[i]] {
			i++
		}
		if i == len(d) {
			return s.eof()
		}
		switch c := d[i]; {
		case c == '"':
			s.pos = i + 1
			return nil
		case c == '\\':
			s.escaped = true
			if i+1 == len(d) {
				return s.eof()
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
				continue
			case 'u':
			default:
				return s.errorf(ErrSyntax, i)
			}
			r := hex4(d[i+2:])
			switch {
			case r < 0:
				return s.errorf(ErrSyntax, i)
			case 0xD800 <= r && r < 0xDC00:
				// A high surrogate must be followed by a low one.
				if len(d)-i < 12 || d[i+6] != '\\' || d[i+7] != 'u' {
					return s.errorf(ErrInvalidUTF8, i)
				}
				if lo := hex4(d[i+8:]); lo < 0xDC00 || lo > 0xDFFF {
					return s.errorf(ErrInvalidUTF8, i)
				}
				i += 12
			case 0xDC00 <= r && r <= 0xDFFF:
				return s.errorf(ErrInvalidUTF8, i)
			default:
				i += 6
			}
		case c < 0x20:
			return s.errorf(ErrSyntax, i)
		default:
			r, size := utf8.DecodeRune(d[i:])
			if r == utf8.RuneError && size == 1 {
				return s.errorf(ErrInvalidUTF8, i)
			}
			i += size
		}
	}
}

// skipValue reads the value that follows a name of the object open at
// depth, to its end, and returns where it starts.
func (s *scanner) skipValue(depth int) (int, error) {
	k, err := s.next()
	if err != nil {
		return 0, err
	}
	start := s.start
	if k == tokObjectStart || k == tokArrayStart {
		for s.depth > depth {
			if _, err := s.next(); err != nil {
				return 0, err
			}
		}
	}
	return start, nil
}
