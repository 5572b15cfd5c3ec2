package condition

// Prepare is prepare, for the test that writes prepared.json.
var Prepare = prepare

// PreparedJSON is the prepared.json compiled in.
var PreparedJSON = preparedJSON

// RecordCompiled calls record with every expression a program is made
// for, until the returned function is called.
func RecordCompiled(record func(expr string)) (stop func()) {
	compiledHook = record
	return func() { compiledHook = nil }
}
