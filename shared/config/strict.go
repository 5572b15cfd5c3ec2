package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// DecodeStrict decodes data into v, a pointer to a struct, rejecting
// fields that v does not have. Functions decode their Source.Rules with it. Unlike json.Decoder.DisallowUnknownFields it
// reports every unknown field and names each by its path from path
// ("rules[1].notification.titel: unknown field"), which is what a person
// fixing webhooks.yaml needs. Field names match exactly, as written in the
// struct tags.
func DecodeStrict(path string, data []byte, v any) error {
	errs := unknownFields(path, data, reflect.TypeOf(v))
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if err := json.Unmarshal(data, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			field := path
			if te.Field != "" {
				field += "." + te.Field
			}
			return fmt.Errorf("%s: want %s, got %s", field, te.Type, te.Value)
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// unknownFields walks data along t and returns an error for every object
// key that t has no field for. Values of the wrong JSON type are left to
// json.Unmarshal, which reports them.
func unknownFields(path string, data []byte, t reflect.Type) []error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		var obj map[string]json.RawMessage
		if json.Unmarshal(data, &obj) != nil {
			return nil
		}
		fields := fieldTypes(t)
		var errs []error
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			ft, ok := fields[k]
			if !ok {
				errs = append(errs, unknownField(path+"."+k, k, structFields(t)))
				continue
			}
			errs = append(errs, unknownFields(path+"."+k, obj[k], ft)...)
		}
		return errs
	case reflect.Slice:
		var items []json.RawMessage
		if json.Unmarshal(data, &items) != nil {
			return nil
		}
		var errs []error
		for i, item := range items {
			errs = append(errs, unknownFields(fmt.Sprintf("%s[%d]", path, i), item, t.Elem())...)
		}
		return errs
	case reflect.Map:
		var obj map[string]json.RawMessage
		if json.Unmarshal(data, &obj) != nil {
			return nil
		}
		var errs []error
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			errs = append(errs, unknownFields(path+"."+k, obj[k], t.Elem())...)
		}
		return errs
	}
	return nil
}

// fieldTypes maps the JSON names of struct type t's exported fields, the
// keys a configuration may use, to their types. The fields of an embedded
// struct without a JSON name are t's own, as encoding/json promotes them.
func fieldTypes(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for _, f := range structFields(t) {
		fields[f.name] = f.typ
	}
	return fields
}

// field is one key of a configuration struct.
type field struct {
	name string
	typ  reflect.Type
	// was lists the keys this one was once spelled as (its `was` tag,
	// comma-separated), which get "did you mean" however far they are from
	// the name.
	was []string
}

// structFields lists the keys of struct type t in order, promoting the
// fields of embedded structs without a JSON name.
func structFields(t reflect.Type) []field {
	var out []field
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			out = append(out, structFields(f.Type)...)
			continue
		}
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		fl := field{name: name, typ: f.Type}
		if was := f.Tag.Get("was"); was != "" {
			fl.was = strings.Split(was, ",")
		}
		out = append(out, fl)
	}
	return out
}
