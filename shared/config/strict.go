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
				errs = append(errs, unknownField(path+"."+k, k, slices.Collect(maps.Keys(fields))))
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
// keys a configuration may use, to their types.
func fieldTypes(t reflect.Type) map[string]reflect.Type {
	fields := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.IsExported() && name != "" && name != "-" {
			fields[name] = f.Type
		}
	}
	return fields
}
