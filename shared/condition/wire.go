package condition

import (
	"errors"
	"fmt"
	"math"
	"unicode/utf8"

	"cel.dev/cel-go/common"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	celpb "cel.dev/expr"
	exprpb "google.golang.org/genproto/googleapis/api/expr/v1alpha1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// This file reads prepared.json's entries, CheckedExpr messages in
// protobuf's binary form, straight into cel's native AST. It builds what
// cel.CheckedExprToAstWithSource builds from proto.Unmarshal's message
// (cel-go's common/ast/conversion.go, ToAST, which this follows), but
// reads the wire with protowire instead of through protobuf's reflection:
// that reflection's first use, its message and descriptor tables for
// CheckedExpr, and cel-go's Marshal and Unmarshal of each constant and
// type between google.api.expr.v1alpha1 and cel.expr cost a cold start
// about 0.3 MB of heap, enough to make Relay's and Trigger's start-up
// collect garbage before their first answer (docs/performance.md).
//
// It reads a subset, on purpose: not a field given twice, two members of
// a oneof, a wire type the schema does not give, a syntax version or
// extensions (cel's parser and checker write neither here), a deprecated
// duration or timestamp constant, a function type, nesting deeper than
// cel loads. Anything outside it is an error, and its caller
// compiles the expression instead, so the subset costs time, never a
// check. Within it, FuzzCheckedFromWire holds the reader to cel's own
// conversion of the message proto.Unmarshal makes.

// maxWireDepth is how deep expressions and types may nest: cel's own
// limit for a loaded AST (defaultMaxASTDepth, cel/options.go).
const maxWireDepth = 250

var (
	errOutsideSubset = errors.New("outside the subset read here")
	errTooDeep       = errors.New("nested too deep")
)

// field is one field of a message: its number and wire type, and its
// value (payload for bytes, n for a varint or a fixed64).
type field struct {
	num     protowire.Number
	typ     protowire.Type
	payload []byte
	n       uint64
}

// fields calls read with each field of the message in b, in order. The
// numbers in singular (a bit per field number) are fields the message has
// once at most; one given twice is an error, not protobuf's merge.
func fields(b []byte, singular uint64, read func(field) error) error {
	var seen uint64
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		if num > protowire.MaxValidNumber { // ConsumeTag checks only the lower bound
			return fmt.Errorf("field number %d out of range", num)
		}
		b = b[n:]
		f := field{num: num, typ: typ}
		switch typ {
		case protowire.VarintType:
			f.n, n = protowire.ConsumeVarint(b)
		case protowire.Fixed64Type:
			f.n, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			f.payload, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if num < 64 && singular&(1<<num) != 0 {
			if seen&(1<<num) != 0 {
				return fmt.Errorf("field %d given twice: %w", num, errOutsideSubset)
			}
			seen |= 1 << num
		}
		if err := read(f); err != nil {
			return err
		}
	}
	return nil
}

// bits is the set of field numbers given, for fields' singular argument.
func bits(nums ...protowire.Number) uint64 {
	var s uint64
	for _, n := range nums {
		s |= 1 << n
	}
	return s
}

func (f field) wrongType() error {
	return fmt.Errorf("field %d has wire type %d: %w", f.num, f.typ, errOutsideSubset)
}

func (f field) bytes() ([]byte, error) {
	if f.typ != protowire.BytesType {
		return nil, f.wrongType()
	}
	return f.payload, nil
}

// str is a string field; proto3 strings are UTF-8, which proto.Unmarshal
// checks too.
func (f field) str() (string, error) {
	b, err := f.bytes()
	if err == nil && !utf8.Valid(b) {
		err = fmt.Errorf("field %d is not UTF-8", f.num)
	}
	return string(b), err
}

func (f field) varint() (uint64, error) {
	if f.typ != protowire.VarintType {
		return 0, f.wrongType()
	}
	return f.n, nil
}

// int32s appends a repeated int32 field, packed or not.
func (f field) int32s(to []int32) ([]int32, error) {
	switch f.typ {
	case protowire.VarintType:
		return append(to, int32(f.n)), nil
	case protowire.BytesType:
		for b := f.payload; len(b) > 0; {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return nil, protowire.ParseError(n)
			}
			to, b = append(to, int32(v)), b[n:]
		}
		return to, nil
	}
	return nil, f.wrongType()
}

// message checks that a field holds a well-formed message, as
// proto.Unmarshal does for one it keeps (google.protobuf.Empty).
func (f field) message() error {
	b, err := f.bytes()
	if err != nil {
		return err
	}
	return fields(b, 0, func(field) error { return nil })
}

// entry reads the entry a map field holds, keyed by an int64: its key,
// and its value field if given.
func entry(f field) (key int64, value field, ok bool, err error) {
	b, err := f.bytes()
	if err != nil {
		return 0, field{}, false, err
	}
	err = fields(b, bits(1, 2), func(f field) error {
		switch f.num {
		case 1:
			n, err := f.varint()
			key = int64(n)
			return err
		case 2:
			value, ok = f, true
		}
		return nil
	})
	return key, value, ok, err
}

// messageEntry is entry for a map of messages: the value's bytes, nil when
// not given (read as the empty message protobuf makes of it).
func messageEntry(f field) (key int64, value []byte, err error) {
	key, v, ok, err := entry(f)
	if err != nil || !ok {
		return key, nil, err
	}
	value, err = v.bytes()
	return key, value, err
}

// checkedFromWire reads a CheckedExpr (google.api.expr.v1alpha1, as
// cel.AstToCheckedExpr writes it) into cel's native AST.
func checkedFromWire(b []byte) (*ast.AST, error) {
	r := wireReader{fac: ast.NewExprFactory()}
	refs := map[int64]*ast.ReferenceInfo{}
	typeMap := map[int64]*types.Type{}
	var exprField, infoField []byte
	err := fields(b, bits(4, 5, 6), func(f field) error {
		switch f.num {
		case 2, 3:
			id, val, err := messageEntry(f)
			if err != nil {
				return err
			}
			if f.num == 2 {
				refs[id], err = reference(val)
			} else {
				typeMap[id], err = typeOf(val)
			}
			return err
		case 4:
			var err error
			exprField, err = f.bytes()
			return err
		case 5:
			var err error
			infoField, err = f.bytes()
			return err
		case 6:
			_, err := f.str()
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	info, err := r.sourceInfo(infoField)
	if err != nil {
		return nil, err
	}
	root, err := r.expr(exprField, 0)
	if err != nil {
		return nil, err
	}
	checked := ast.NewCheckedAST(ast.NewAST(root, info), typeMap, refs)
	if ast.ExceedsDepth(checked, maxWireDepth) {
		return nil, errTooDeep
	}
	return checked, nil
}

// wireReader builds expressions with one factory, as ast.ProtoToExpr does.
type wireReader struct{ fac ast.ExprFactory }

// expr reads an Expr; an absent one (nil) is an unspecified expression,
// as ToAST makes of a missing message.
func (r wireReader) expr(b []byte, depth int) (ast.Expr, error) {
	if depth > maxWireDepth {
		return nil, errTooDeep
	}
	var id int64
	var kind protowire.Number
	var body []byte
	err := fields(b, bits(2, 3, 4, 5, 6, 7, 8, 9), func(f field) error {
		switch f.num {
		case 2:
			n, err := f.varint()
			id = int64(n)
			return err
		case 3, 4, 5, 6, 7, 8, 9:
			if kind != 0 {
				return fmt.Errorf("expression kinds %d and %d: %w", kind, f.num, errOutsideSubset)
			}
			var err error
			kind = f.num
			body, err = f.bytes()
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	depth++
	switch kind {
	case 3:
		v, err := constant(body)
		if err != nil {
			return nil, err
		}
		return r.fac.NewLiteral(id, v), nil
	case 4:
		var name string
		err := fields(body, bits(1), func(f field) (err error) {
			if f.num == 1 {
				name, err = f.str()
			}
			return err
		})
		return r.fac.NewIdent(id, name), err
	case 5:
		return r.selection(id, body, depth)
	case 6:
		return r.call(id, body, depth)
	case 7:
		return r.list(id, body, depth)
	case 8:
		return r.structure(id, body, depth)
	case 9:
		return r.comprehension(id, body, depth)
	}
	return r.fac.NewUnspecifiedExpr(id), nil
}

func (r wireReader) selection(id int64, b []byte, depth int) (ast.Expr, error) {
	var operand []byte
	var name string
	var test bool
	err := fields(b, bits(1, 2, 3), func(f field) (err error) {
		switch f.num {
		case 1:
			operand, err = f.bytes()
		case 2:
			name, err = f.str()
		case 3:
			var n uint64
			n, err = f.varint()
			test = n != 0
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	op, err := r.expr(operand, depth)
	if err != nil {
		return nil, err
	}
	if test {
		return r.fac.NewPresenceTest(id, op, name), nil
	}
	return r.fac.NewSelect(id, op, name), nil
}

func (r wireReader) call(id int64, b []byte, depth int) (ast.Expr, error) {
	var target []byte
	var member bool
	var function string
	var args []ast.Expr
	err := fields(b, bits(1, 2), func(f field) (err error) {
		switch f.num {
		case 1:
			target, err = f.bytes()
			member = true
		case 2:
			function, err = f.str()
		case 3:
			var arg []byte
			if arg, err = f.bytes(); err != nil {
				return err
			}
			var e ast.Expr
			e, err = r.expr(arg, depth)
			args = append(args, e)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if !member {
		return r.fac.NewCall(id, function, args...), nil
	}
	t, err := r.expr(target, depth)
	if err != nil {
		return nil, err
	}
	return r.fac.NewMemberCall(id, function, t, args...), nil
}

func (r wireReader) list(id int64, b []byte, depth int) (ast.Expr, error) {
	var elems []ast.Expr
	var optional []int32
	err := fields(b, 0, func(f field) (err error) {
		switch f.num {
		case 1:
			var elem []byte
			if elem, err = f.bytes(); err != nil {
				return err
			}
			var e ast.Expr
			e, err = r.expr(elem, depth)
			elems = append(elems, e)
		case 2:
			optional, err = f.int32s(optional)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if elems == nil {
		elems = []ast.Expr{}
	}
	return r.fac.NewList(id, elems, optional), nil
}

// structure reads a CreateStruct: a message when it names one, a map
// otherwise, as ToAST tells them apart.
func (r wireReader) structure(id int64, b []byte, depth int) (ast.Expr, error) {
	var name string
	var raw [][]byte
	err := fields(b, bits(1), func(f field) (err error) {
		switch f.num {
		case 1:
			name, err = f.str()
		case 2:
			var e []byte
			e, err = f.bytes()
			raw = append(raw, e)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	entries := make([]ast.EntryExpr, len(raw))
	for i, e := range raw {
		if entries[i], err = r.entry(e, name != "", depth); err != nil {
			return nil, err
		}
	}
	if name != "" {
		return r.fac.NewStruct(id, name, entries), nil
	}
	return r.fac.NewMap(id, entries), nil
}

// entry reads a CreateStruct entry: a message field when inMessage, a map
// entry otherwise.
func (r wireReader) entry(b []byte, inMessage bool, depth int) (ast.EntryExpr, error) {
	var id int64
	var fieldKey string
	var mapKey, value []byte
	var keys int
	var optional bool
	err := fields(b, bits(1, 2, 3, 4, 5), func(f field) (err error) {
		switch f.num {
		case 1:
			var n uint64
			n, err = f.varint()
			id = int64(n)
		case 2:
			keys++
			fieldKey, err = f.str()
		case 3:
			keys++
			mapKey, err = f.bytes()
		case 4:
			value, err = f.bytes()
		case 5:
			var n uint64
			n, err = f.varint()
			optional = n != 0
		}
		return err
	})
	if err == nil && keys > 1 {
		err = fmt.Errorf("entry with a field key and a map key: %w", errOutsideSubset)
	}
	if err != nil {
		return nil, err
	}
	v, err := r.expr(value, depth)
	if err != nil {
		return nil, err
	}
	if inMessage {
		return r.fac.NewStructField(id, fieldKey, v, optional), nil
	}
	k, err := r.expr(mapKey, depth)
	if err != nil {
		return nil, err
	}
	return r.fac.NewMapEntry(id, k, v, optional), nil
}

func (r wireReader) comprehension(id int64, b []byte, depth int) (ast.Expr, error) {
	var iterVar, iterVar2, accuVar string
	var iterRange, accuInit, loopCondition, loopStep, result []byte
	err := fields(b, bits(1, 2, 3, 4, 5, 6, 7, 8), func(f field) (err error) {
		switch f.num {
		case 1:
			iterVar, err = f.str()
		case 2:
			iterRange, err = f.bytes()
		case 3:
			accuVar, err = f.str()
		case 4:
			accuInit, err = f.bytes()
		case 5:
			loopCondition, err = f.bytes()
		case 6:
			loopStep, err = f.bytes()
		case 7:
			result, err = f.bytes()
		case 8:
			iterVar2, err = f.str()
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	var e [5]ast.Expr
	for i, part := range [5][]byte{iterRange, accuInit, loopCondition, loopStep, result} {
		if e[i], err = r.expr(part, depth); err != nil {
			return nil, err
		}
	}
	return r.fac.NewComprehensionTwoVar(id, e[0], iterVar, iterVar2, accuVar, e[1], e[2], e[3], e[4]), nil
}

// constant reads a Constant into cel.expr's message, and that into a
// value as ast.ProtoConstantAsVal turns it.
func constant(b []byte) (ref.Val, error) {
	c := &celpb.Constant{}
	err := fields(b, bits(1, 2, 3, 4, 5, 6, 7, 8, 9), func(f field) error {
		if f.num < 1 || f.num > 9 {
			return nil
		}
		if c.ConstantKind != nil {
			return fmt.Errorf("constant kinds twice: %w", errOutsideSubset)
		}
		switch f.num {
		case 1, 2, 3, 4:
			n, err := f.varint()
			if err != nil {
				return err
			}
			switch f.num {
			case 1:
				c.ConstantKind = &celpb.Constant_NullValue{NullValue: structpb.NullValue(int32(n))}
			case 2:
				c.ConstantKind = &celpb.Constant_BoolValue{BoolValue: n != 0}
			case 3:
				c.ConstantKind = &celpb.Constant_Int64Value{Int64Value: int64(n)}
			case 4:
				c.ConstantKind = &celpb.Constant_Uint64Value{Uint64Value: n}
			}
		case 5:
			if f.typ != protowire.Fixed64Type {
				return f.wrongType()
			}
			c.ConstantKind = &celpb.Constant_DoubleValue{DoubleValue: math.Float64frombits(f.n)}
		case 6:
			s, err := f.str()
			c.ConstantKind = &celpb.Constant_StringValue{StringValue: s}
			return err
		case 7:
			v, err := f.bytes()
			c.ConstantKind = &celpb.Constant_BytesValue{BytesValue: append([]byte{}, v...)}
			return err
		default: // the deprecated duration and timestamp constants
			return fmt.Errorf("constant field %d: %w", f.num, errOutsideSubset)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ast.ProtoConstantAsVal(c)
}

// reference reads a Reference; a nil one is the empty reference.
func reference(b []byte) (*ast.ReferenceInfo, error) {
	info := &ast.ReferenceInfo{}
	var value []byte
	var hasValue bool
	err := fields(b, bits(1, 4), func(f field) (err error) {
		switch f.num {
		case 1:
			info.Name, err = f.str()
		case 3:
			var id string
			id, err = f.str()
			info.OverloadIDs = append(info.OverloadIDs, id)
		case 4:
			value, err = f.bytes()
			hasValue = true
		}
		return err
	})
	if err != nil || !hasValue {
		return info, err
	}
	info.Value, err = constant(value)
	if err != nil {
		return nil, err
	}
	return info, nil
}

// typeOf reads a Type into cel.expr's message, which types.ProtoAsType
// turns into cel's type, as ToAST does after converting it.
func typeOf(b []byte) (*types.Type, error) {
	t, err := typeMessage(b, 0)
	if err != nil {
		return nil, err
	}
	return types.ProtoAsType(t)
}

func typeMessage(b []byte, depth int) (*celpb.Type, error) {
	if depth > maxWireDepth {
		return nil, errTooDeep
	}
	depth++
	t := &celpb.Type{}
	err := fields(b, bits(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14), func(f field) error {
		if f.num < 1 || f.num > 14 || f.num == 13 {
			return nil
		}
		if t.TypeKind != nil {
			return fmt.Errorf("type kinds twice: %w", errOutsideSubset)
		}
		switch f.num {
		case 1, 12:
			if err := f.message(); err != nil {
				return err
			}
			if f.num == 1 {
				t.TypeKind = &celpb.Type_Dyn{Dyn: &emptypb.Empty{}}
			} else {
				t.TypeKind = &celpb.Type_Error{Error: &emptypb.Empty{}}
			}
		case 2, 3, 4, 5:
			n, err := f.varint()
			if err != nil {
				return err
			}
			switch v := int32(n); f.num {
			case 2:
				t.TypeKind = &celpb.Type_Null{Null: structpb.NullValue(v)}
			case 3:
				t.TypeKind = &celpb.Type_Primitive{Primitive: celpb.Type_PrimitiveType(v)}
			case 4:
				t.TypeKind = &celpb.Type_Wrapper{Wrapper: celpb.Type_PrimitiveType(v)}
			case 5:
				t.TypeKind = &celpb.Type_WellKnown{WellKnown: celpb.Type_WellKnownType(v)}
			}
		case 6, 7, 14:
			v, err := f.bytes()
			if err != nil {
				return err
			}
			c, err := composite(v, depth, f.num == 14)
			if err != nil {
				return err
			}
			switch f.num {
			case 6:
				t.TypeKind = &celpb.Type_ListType_{ListType: &celpb.Type_ListType{ElemType: c.first}}
			case 7:
				t.TypeKind = &celpb.Type_MapType_{MapType: &celpb.Type_MapType{KeyType: c.first, ValueType: c.second}}
			case 14:
				t.TypeKind = &celpb.Type_AbstractType_{AbstractType: &celpb.Type_AbstractType{Name: c.name, ParameterTypes: c.params}}
			}
		case 11:
			v, err := f.bytes()
			if err != nil {
				return err
			}
			of, err := typeMessage(v, depth)
			t.TypeKind = &celpb.Type_Type{Type: of}
			return err
		case 9, 10:
			s, err := f.str()
			if f.num == 9 {
				t.TypeKind = &celpb.Type_MessageType{MessageType: s}
			} else {
				t.TypeKind = &celpb.Type_TypeParam{TypeParam: s}
			}
			return err
		default: // 8, a function type, which cel does not load as a value's type
			return fmt.Errorf("type field %d: %w", f.num, errOutsideSubset)
		}
		return nil
	})
	return t, err
}

// compositeType is what a list type (first: the element type), a map type
// (first, second: the key and value types) or an abstract type (name,
// params) holds; a type not given is nil, as its getter returns.
type compositeType struct {
	name          string
	first, second *celpb.Type
	params        []*celpb.Type
}

// composite reads a list's or map's type (fields 1 and 2 hold types) or
// an abstract type's (field 1 its name, 2 its repeated parameters).
func composite(b []byte, depth int, abstract bool) (c compositeType, err error) {
	singular := bits(1, 2)
	if abstract {
		singular = bits(1)
	}
	err = fields(b, singular, func(f field) error {
		if f.num != 1 && f.num != 2 {
			return nil
		}
		if abstract && f.num == 1 {
			var err error
			c.name, err = f.str()
			return err
		}
		v, err := f.bytes()
		if err != nil {
			return err
		}
		t, err := typeMessage(v, depth)
		switch {
		case abstract:
			c.params = append(c.params, t)
		case f.num == 1:
			c.first = t
		default:
			c.second = t
		}
		return err
	})
	return c, err
}

// sourceInfo reads a SourceInfo into the native one: cel's SourceInfo is
// built from a Source (common.NewInfoSource, as for a proto's), with the
// positions and macro calls ProtoToSourceInfo sets.
func (r wireReader) sourceInfo(b []byte) (*ast.SourceInfo, error) {
	var pb exprpb.SourceInfo
	positions := map[int64]int32{}
	macros := map[int64][]byte{}
	err := fields(b, bits(1, 2), func(f field) (err error) {
		switch f.num {
		case 1:
			pb.SyntaxVersion, err = f.str()
		case 2:
			pb.Location, err = f.str()
		case 3:
			pb.LineOffsets, err = f.int32s(pb.LineOffsets)
		case 4:
			id, value, ok, err := entry(f)
			var n uint64
			if err == nil && ok {
				n, err = value.varint()
			}
			positions[id] = int32(n)
			return err
		case 5:
			var id int64
			var call []byte
			id, call, err = messageEntry(f)
			macros[id] = call
		case 6: // cel's parser and checker write none here
			err = fmt.Errorf("source info extensions: %w", errOutsideSubset)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	// NewSourceInfo leaves the syntax version unset, and measures lines
	// from the source's offset 0: the same as ProtoToSourceInfo only when
	// the first line offset is past it.
	if pb.SyntaxVersion != "" || len(pb.LineOffsets) > 0 && pb.LineOffsets[0] <= 0 {
		return nil, fmt.Errorf("source info: %w", errOutsideSubset)
	}
	info := ast.NewSourceInfo(common.NewInfoSource(&pb))
	for id, offset := range positions {
		info.SetOffsetRange(id, ast.OffsetRange{Start: offset, Stop: offset})
	}
	for id, call := range macros {
		e, err := r.expr(call, 0)
		if err != nil {
			return nil, err
		}
		info.SetMacroCall(id, e)
	}
	return info, nil
}
