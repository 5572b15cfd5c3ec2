package condition

import (
	"errors"
	"fmt"
	"testing"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	exprpb "google.golang.org/genproto/googleapis/api/expr/v1alpha1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// wireExpressions cover every kind of node, constant and type the reader
// builds, as cel's parser and checker write them.
var wireExpressions = []string{
	`source == "github"`,                                  // ident, call, string
	`payload.ref.startsWith("refs/")`,                     // select, member call
	`has(payload.data.fcm_tokens)`,                        // presence test, macro call
	`headers["x-a"] == "b" && received_at > timestamp(0)`, // map(string, string), timestamp, int
	`payload.n == 1u || payload.n == 1.5 || payload.b == b"\x00" || payload.z == null || true`,
	`[1, 2].exists(x, x > 1)`, // list, comprehension
	`payload.items.all(i, i.ok) && payload.items.map(i, i.n).size() > 0`,
	`{"a": 1, ?"b": payload.?b}.size() > 0`,     // map, optional entry
	`[?payload.?a, 1].size() > 0`,               // optional list index
	`payload.?a.orValue("x") == "x"`,            // optional type (abstract)
	`google.protobuf.Int64Value{value: 1} == 1`, // message creation, wrapper
	`type(payload) == map`,                      // type of type
	`type(payload.x) == list`,
	`-9223372036854775808 < 0 && "é" != "e"`,
}

func marshalChecked(t testing.TB, expr string) []byte {
	t.Helper()
	e, err := environment()
	if err != nil {
		t.Fatal(err)
	}
	compiled, iss := e.Compile(expr)
	if iss.Err() != nil {
		t.Fatalf("%s: %v", expr, iss.Err())
	}
	checked, err := cel.AstToCheckedExpr(compiled)
	if err != nil {
		t.Fatal(err)
	}
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(checked)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// What cel writes of an expression, the reader reads back as the AST cel
// made: converted back by cel, the same CheckedExpr.
func TestCheckedFromWireReadsWhatCelWrites(t *testing.T) {
	for _, expr := range wireExpressions {
		t.Run(expr, func(t *testing.T) {
			data := marshalChecked(t, expr)
			got, err := checkedFromWire(data)
			if err != nil {
				t.Fatalf("checkedFromWire: %v", err)
			}
			var want exprpb.CheckedExpr
			if err := proto.Unmarshal(data, &want); err != nil {
				t.Fatal(err)
			}
			back, err := celast.ToProto(got)
			if err != nil {
				t.Fatalf("ToProto: %v", err)
			}
			if !proto.Equal(back, &want) {
				t.Fatalf("read back:\n%v\nwant:\n%v", back, &want)
			}
		})
	}
}

// Outside the subset the reader refuses, and the expression is compiled:
// what protobuf would merge or overwrite, what cel would not load, and
// broken wire.
func TestCheckedFromWireRefusesOutsideItsSubset(t *testing.T) {
	valid := marshalChecked(t, `source == "github"`)
	expr := func(body []byte) []byte { // a CheckedExpr holding only expr
		return protowire.AppendBytes(protowire.AppendTag(nil, 4, protowire.BytesType), body)
	}
	ident := func(name string) []byte { // Expr{id: 1, ident_expr: {name}}
		b := protowire.AppendVarint(protowire.AppendTag(nil, 2, protowire.VarintType), 1)
		in := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), name)
		return protowire.AppendBytes(protowire.AppendTag(b, 4, protowire.BytesType), in)
	}
	nest := func(depth int) []byte { // select upon select, depth deep
		e := ident("x")
		for range depth {
			sel := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), e)
			sel = protowire.AppendString(protowire.AppendTag(sel, 2, protowire.BytesType), "f")
			e = protowire.AppendBytes(protowire.AppendTag(nil, 5, protowire.BytesType), sel)
		}
		return e
	}
	constant := func(num protowire.Number, body []byte) []byte { // Expr{const_expr: {num: body}}
		c := protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), body)
		return protowire.AppendBytes(protowire.AppendTag(nil, 3, protowire.BytesType), c)
	}
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"the expression given twice", append(expr(ident("a")), expr(ident("b"))...), errOutsideSubset},
		{"two kinds of expression", expr(append(ident("a"), constant(6, []byte("s"))...)), errOutsideSubset},
		{"an id as bytes", expr(protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), nil)), errOutsideSubset},
		{"a timestamp constant", expr(constant(9, nil)), errOutsideSubset},
		{"a syntax version", protowire.AppendBytes(protowire.AppendTag(valid, 5, protowire.BytesType),
			protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "cel1")), errOutsideSubset},
		{"source info extensions", protowire.AppendBytes(protowire.AppendTag(valid, 5, protowire.BytesType),
			protowire.AppendBytes(protowire.AppendTag(nil, 6, protowire.BytesType), nil)), errOutsideSubset},
		{"nesting deeper than cel loads", expr(nest(maxWireDepth + 1)), errTooDeep},
		{"a name not UTF-8", expr(ident("\xff")), nil},
		{"a truncated message", valid[:len(valid)-1], nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := checkedFromWire(tc.data)
			if err == nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("checkedFromWire = %v, want %v", err, cmpOr(tc.want, "an error"))
			}
		})
	}
}

func cmpOr(err error, otherwise string) string {
	if err != nil {
		return err.Error()
	}
	return otherwise
}

// Whatever the reader accepts, protobuf and cel read to the same AST:
// proto.Unmarshal then ast.ToAST, the path the reader replaces.
func FuzzCheckedFromWire(f *testing.F) {
	for _, data := range prepared() {
		f.Add(data)
	}
	for _, expr := range wireExpressions {
		f.Add(marshalChecked(f, expr))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := checkedFromWire(data)
		if err != nil {
			return
		}
		var msg exprpb.CheckedExpr
		if err := proto.Unmarshal(data, &msg); err != nil {
			t.Fatalf("read what proto.Unmarshal refuses (%v)", err)
		}
		want, err := celast.ToAST(&msg)
		if err != nil {
			t.Fatalf("read what cel refuses (%v)", err)
		}
		a, errA := celast.ToProto(got)
		b, errB := celast.ToProto(want)
		if fmt.Sprint(errA) != fmt.Sprint(errB) || errA == nil && !proto.Equal(a, b) {
			t.Fatalf("read as\n%v (%v)\ncel reads\n%v (%v)", a, errA, b, errB)
		}
		if celast.ExceedsDepth(want, maxWireDepth) {
			t.Fatal("read an AST deeper than cel loads")
		}
	})
}
