package condition

import (
	_ "embed"
	"encoding/json"
	"sync"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
)

// prepared.json holds every expression of the embedded webhooks.yaml
// already parsed and type-checked in this package's environment, as CEL's
// own CheckedExpr, so that a function's start-up skips CEL's parser for
// them: its first parse builds the parser's tables (about 1 ms and 0.6 MB
// of a cold start; docs/performance.md). An expression not in the file is
// compiled as before, so a file behind webhooks.yaml costs time, never a
// check: each entry is what the checker wrote for that exact text. Entries
// are read by checkedFromWire (wire.go), not by proto.Unmarshal, whose
// reflection's first use costs a start-up about 0.3 MB of heap of its own.
// TestPreparedHoldsTheEmbeddedConfigurationsExpressions fails when the
// file is not exactly what this environment makes of the embedded
// configuration, and rewrites it with -update.
//
//go:embed prepared.json
var preparedJSON []byte

// preparedFile is prepared.json: each expression's text, and its
// CheckedExpr in protobuf's binary form (base64 in JSON).
type preparedFile struct {
	About       string            `json:"about"`
	Expressions map[string][]byte `json:"expressions"`
}

var prepared = sync.OnceValue(func() map[string][]byte {
	var f preparedFile
	if err := json.Unmarshal(preparedJSON, &f); err != nil {
		return nil // then every expression is compiled
	}
	return f.Expressions
})

// preparedAST returns expr's checked AST from prepared.json, if it is
// there and in the subset checkedFromWire reads.
func preparedAST(expr string) (*celast.AST, bool) {
	data, ok := prepared()[expr]
	if !ok {
		return nil, false
	}
	checked, err := checkedFromWire(data)
	if err != nil {
		return nil, false
	}
	return checked, true
}

// compiledHook, when set (by the test that writes prepared.json), sees
// every expression a program is made for.
var compiledHook func(expr string)

// checkedAST returns expr parsed and type-checked in e: from prepared.json
// when it is there, compiled otherwise.
func checkedAST(e *cel.Env, expr string) (*celast.AST, error) {
	if compiledHook != nil {
		compiledHook(expr)
	}
	if ast, ok := preparedAST(expr); ok {
		return ast, nil
	}
	ast, iss := e.Compile(expr)
	if iss.Err() != nil {
		return nil, iss.Err()
	}
	return ast.NativeRep(), nil
}
