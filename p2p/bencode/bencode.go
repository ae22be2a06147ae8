// Package bencode is BitTorrent's serialisation format (BEP 3): integers
// (i42e), byte strings (4:spam), lists (l...e) and dictionaries (d...e).
//
// The API follows encoding/json: Marshal and Unmarshal map Go values to
// bencode, struct fields take their keys from `bencode:"key,omitempty"`
// tags (a field without one is keyed by its name; "-" skips it), and
// RawMessage keeps an encoded value as it was (the info dictionary, whose
// SHA-1 is a torrent's identity, must be hashed exactly as sent).
//
// Decoding is strict, because the same bytes must always mean the same
// value and re-encode to themselves: dictionary keys must be byte strings
// in strictly ascending order (sorted and unique), integers have no
// leading zeros and no "-0", string lengths have no leading zeros, nothing
// may follow the top-level value, nesting is bounded (MaxDepth) and so is
// the input (a Decoder's MaxSize). Marshal writes this canonical form.
package bencode

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// DefaultMaxDepth bounds the nesting of lists and dictionaries a Decoder
// accepts when its MaxDepth is zero.
const DefaultMaxDepth = 64

// DefaultMaxSize bounds the input a Decoder accepts when its MaxSize is
// zero: 64 MiB, far above any metainfo file or peer message.
const DefaultMaxSize = 64 << 20

// RawMessage is an encoded bencode value. Unmarshal stores the value's
// bytes in it unchanged (after checking them); Marshal writes it as is.
type RawMessage []byte

// A SyntaxError reports malformed or non-canonical input and where.
type SyntaxError struct {
	Offset int // byte offset in the input
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("bencode: %s at offset %d", e.Msg, e.Offset)
}

// An UnmarshalTypeError reports a value that does not fit the Go type it
// is decoded into.
type UnmarshalTypeError struct {
	Value  string // "integer", "string", "list" or "dictionary"
	Type   reflect.Type
	Offset int
	Field  string // the struct field's key path, if any
}

func (e *UnmarshalTypeError) Error() string {
	where := ""
	if e.Field != "" {
		where = " (key " + strconv.Quote(e.Field) + ")"
	}
	return fmt.Sprintf("bencode: cannot decode %s into Go value of type %s%s at offset %d", e.Value, e.Type, where, e.Offset)
}

// Marshal returns the canonical bencoding of v. Integers (all sizes),
// strings, []byte, slices and arrays, maps with string keys, structs,
// pointers, interfaces and RawMessage are encoded; a nil pointer or
// interface is an error unless it is an omitempty field. Booleans encode
// as i0e and i1e.
func Marshal(v any) ([]byte, error) {
	var b []byte
	b, err := appendValue(b, reflect.ValueOf(v))
	if err != nil {
		return nil, err
	}
	return b, nil
}

var rawType = reflect.TypeFor[RawMessage]()

func appendValue(b []byte, v reflect.Value) ([]byte, error) {
	if !v.IsValid() {
		return nil, errors.New("bencode: cannot encode nil")
	}
	if v.Type() == rawType {
		if len(v.Bytes()) == 0 {
			return nil, errors.New("bencode: empty RawMessage")
		}
		return append(b, v.Bytes()...), nil
	}
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		b = append(b, 'i')
		b = strconv.AppendInt(b, v.Int(), 10)
		return append(b, 'e'), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		b = append(b, 'i')
		b = strconv.AppendUint(b, v.Uint(), 10)
		return append(b, 'e'), nil
	case reflect.Bool:
		if v.Bool() {
			return append(b, "i1e"...), nil
		}
		return append(b, "i0e"...), nil
	case reflect.String:
		return appendString(b, v.String()), nil
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			if v.Kind() == reflect.Slice {
				return appendBytes(b, v.Bytes()), nil
			}
			buf := make([]byte, v.Len())
			reflect.Copy(reflect.ValueOf(buf), v)
			return appendBytes(b, buf), nil
		}
		b = append(b, 'l')
		for i := range v.Len() {
			var err error
			if b, err = appendValue(b, v.Index(i)); err != nil {
				return nil, err
			}
		}
		return append(b, 'e'), nil
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return nil, fmt.Errorf("bencode: cannot encode map with %s keys", v.Type().Key())
		}
		keys := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			keys = append(keys, k.String())
		}
		slices.Sort(keys)
		b = append(b, 'd')
		for _, k := range keys {
			b = appendString(b, k)
			var err error
			if b, err = appendValue(b, v.MapIndex(reflect.ValueOf(k).Convert(v.Type().Key()))); err != nil {
				return nil, err
			}
		}
		return append(b, 'e'), nil
	case reflect.Struct:
		b = append(b, 'd')
		for _, f := range fieldsOf(v.Type()) {
			fv := v.FieldByIndex(f.index)
			if f.omitEmpty && isEmpty(fv) {
				continue
			}
			b = appendString(b, f.key)
			var err error
			if b, err = appendValue(b, fv); err != nil {
				return nil, fmt.Errorf("%w (key %q)", err, f.key)
			}
		}
		return append(b, 'e'), nil
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil, errors.New("bencode: cannot encode nil " + v.Type().String())
		}
		return appendValue(b, v.Elem())
	}
	return nil, fmt.Errorf("bencode: cannot encode %s", v.Type())
}

func appendString(b []byte, s string) []byte {
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, ':')
	return append(b, s...)
}

func appendBytes(b, s []byte) []byte {
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, ':')
	return append(b, s...)
}

func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Slice, reflect.Map, reflect.String, reflect.Array:
		return v.Len() == 0
	case reflect.Pointer, reflect.Interface:
		return v.IsNil()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint() == 0
	case reflect.Bool:
		return !v.Bool()
	}
	return false
}

// field is one encodable struct field.
type field struct {
	key       string
	index     []int
	omitEmpty bool
}

var fieldCache sync.Map // reflect.Type to []field, sorted by key

// fieldsOf lists t's fields in key order (the canonical order).
func fieldsOf(t reflect.Type) []field {
	if f, ok := fieldCache.Load(t); ok {
		return f.([]field)
	}
	var fs []field
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		tag := sf.Tag.Get("bencode")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = sf.Name
		}
		fs = append(fs, field{key: name, index: sf.Index, omitEmpty: opts == "omitempty"})
	}
	slices.SortFunc(fs, func(a, b field) int { return strings.Compare(a.key, b.key) })
	fieldCache.Store(t, fs)
	return fs
}

// Unmarshal decodes data, one complete bencoded value, into v (a non-nil
// pointer) with the default limits. Dictionary keys a struct has no field
// for are checked and skipped. Into an interface, integers decode as
// int64, strings as string, lists as []any and dictionaries as
// map[string]any.
func Unmarshal(data []byte, v any) error {
	return (&Decoder{}).Unmarshal(data, v)
}

// A Decoder holds the limits of decoding; the zero value uses the
// defaults.
type Decoder struct {
	// MaxDepth bounds the nesting of lists and dictionaries (default
	// DefaultMaxDepth).
	MaxDepth int
	// MaxSize bounds the input's length in bytes (default DefaultMaxSize).
	MaxSize int
}

// Unmarshal decodes data into v with d's limits.
func (d *Decoder) Unmarshal(data []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return errors.New("bencode: Unmarshal needs a non-nil pointer")
	}
	maxSize := d.MaxSize
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	if len(data) > maxSize {
		return &SyntaxError{maxSize, fmt.Sprintf("input of %d bytes exceeds the limit of %d", len(data), maxSize)}
	}
	maxDepth := d.MaxDepth
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	s := &decodeState{data: data, maxDepth: maxDepth}
	if err := s.value(rv.Elem(), 0); err != nil {
		return err
	}
	if s.off != len(data) {
		return &SyntaxError{s.off, "data after the top-level value"}
	}
	return nil
}

// UnmarshalPrefix decodes the bencoded value at the start of data into v
// and returns the bytes after it, for messages that carry raw bytes after
// a dictionary (BEP 9's metadata pieces).
func UnmarshalPrefix(data []byte, v any) (rest []byte, err error) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return nil, errors.New("bencode: Unmarshal needs a non-nil pointer")
	}
	if len(data) > DefaultMaxSize {
		return nil, &SyntaxError{DefaultMaxSize, "input over the size limit"}
	}
	s := &decodeState{data: data, maxDepth: DefaultMaxDepth}
	if err := s.value(rv.Elem(), 0); err != nil {
		return nil, err
	}
	return data[s.off:], nil
}

// Valid reports whether data is one canonical bencoded value.
func Valid(data []byte) bool {
	var r RawMessage
	return Unmarshal(data, &r) == nil
}

type decodeState struct {
	data     []byte
	off      int
	maxDepth int
	path     []string // keys of the dictionaries being decoded
}

func (s *decodeState) syntax(msg string) error { return &SyntaxError{s.off, msg} }

func (s *decodeState) typeError(what string, t reflect.Type, off int) error {
	return &UnmarshalTypeError{Value: what, Type: t, Offset: off, Field: strings.Join(s.path, ".")}
}

// integer reads the digits of an integer up to the terminator end,
// rejecting leading zeros and "-0".
func (s *decodeState) integer(end byte, allowNeg bool) (neg bool, mag uint64, err error) {
	start := s.off
	if s.off < len(s.data) && s.data[s.off] == '-' && allowNeg {
		neg = true
		s.off++
	}
	digits := s.off
	for s.off < len(s.data) && s.data[s.off] >= '0' && s.data[s.off] <= '9' {
		d := uint64(s.data[s.off] - '0')
		if mag > (1<<64-1-d)/10 {
			return false, 0, s.syntax("integer overflows 64 bits")
		}
		mag = mag*10 + d
		s.off++
	}
	n := s.off - digits
	switch {
	case n == 0:
		return false, 0, s.syntax("expected a digit")
	case s.off >= len(s.data):
		return false, 0, s.syntax("unexpected end of input in an integer")
	case s.data[s.off] != end:
		return false, 0, s.syntax(fmt.Sprintf("expected %q after an integer", end))
	case n > 1 && s.data[digits] == '0':
		return false, 0, &SyntaxError{start, "integer with a leading zero"}
	case neg && mag == 0:
		return false, 0, &SyntaxError{start, "negative zero"}
	}
	s.off++ // end
	return neg, mag, nil
}

// str reads a byte string; the result aliases the input.
func (s *decodeState) str() ([]byte, error) {
	_, n, err := s.integer(':', false)
	if err != nil {
		return nil, err
	}
	if n > uint64(len(s.data)-s.off) {
		return nil, s.syntax(fmt.Sprintf("string of %d bytes runs past the end of input", n))
	}
	b := s.data[s.off : s.off+int(n)]
	s.off += int(n)
	return b, nil
}

// skip checks and passes over one value.
func (s *decodeState) skip(depth int) error {
	if s.off >= len(s.data) {
		return s.syntax("unexpected end of input")
	}
	switch c := s.data[s.off]; {
	case c == 'i':
		s.off++
		_, _, err := s.integer('e', true)
		return err
	case c >= '0' && c <= '9':
		_, err := s.str()
		return err
	case c == 'l':
		if depth >= s.maxDepth {
			return s.syntax("nesting deeper than the limit")
		}
		s.off++
		for {
			if s.off >= len(s.data) {
				return s.syntax("unexpected end of input in a list")
			}
			if s.data[s.off] == 'e' {
				s.off++
				return nil
			}
			if err := s.skip(depth + 1); err != nil {
				return err
			}
		}
	case c == 'd':
		if depth >= s.maxDepth {
			return s.syntax("nesting deeper than the limit")
		}
		s.off++
		var prev []byte
		first := true
		for {
			if s.off >= len(s.data) {
				return s.syntax("unexpected end of input in a dictionary")
			}
			if s.data[s.off] == 'e' {
				s.off++
				return nil
			}
			k, err := s.key(prev, first)
			if err != nil {
				return err
			}
			prev, first = k, false
			if err := s.skip(depth + 1); err != nil {
				return err
			}
		}
	default:
		return s.syntax(fmt.Sprintf("unexpected byte %q", c))
	}
}

// key reads a dictionary key and checks that it sorts after prev.
func (s *decodeState) key(prev []byte, first bool) ([]byte, error) {
	start := s.off
	if c := s.data[s.off]; c < '0' || c > '9' {
		return nil, s.syntax("dictionary key is not a string")
	}
	k, err := s.str()
	if err != nil {
		return nil, err
	}
	if !first {
		switch c := bytes.Compare(prev, k); {
		case c == 0:
			return nil, &SyntaxError{start, fmt.Sprintf("duplicate key %q", k)}
		case c > 0:
			return nil, &SyntaxError{start, fmt.Sprintf("key %q out of order after %q", k, prev)}
		}
	}
	return k, nil
}

func (s *decodeState) value(v reflect.Value, depth int) error {
	if s.off >= len(s.data) {
		return s.syntax("unexpected end of input")
	}
	start := s.off
	if v.Type() == rawType {
		if err := s.skip(depth); err != nil {
			return err
		}
		v.SetBytes(bytes.Clone(s.data[start:s.off]))
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		return s.value(v.Elem(), depth)
	case reflect.Interface:
		if v.NumMethod() != 0 {
			return s.typeError(kindAt(s.data[start]), v.Type(), start)
		}
		x, err := s.generic(depth)
		if err != nil {
			return err
		}
		v.Set(reflect.ValueOf(x))
		return nil
	}
	switch c := s.data[s.off]; {
	case c == 'i':
		s.off++
		neg, mag, err := s.integer('e', true)
		if err != nil {
			return err
		}
		return s.setInt(v, neg, mag, start)
	case c >= '0' && c <= '9':
		b, err := s.str()
		if err != nil {
			return err
		}
		switch {
		case v.Kind() == reflect.String:
			v.SetString(string(b))
		case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8:
			v.SetBytes(bytes.Clone(b))
		case v.Kind() == reflect.Array && v.Type().Elem().Kind() == reflect.Uint8:
			if len(b) != v.Len() {
				return s.typeError(fmt.Sprintf("string of %d bytes", len(b)), v.Type(), start)
			}
			reflect.Copy(v, reflect.ValueOf(b))
		default:
			return s.typeError("string", v.Type(), start)
		}
		return nil
	case c == 'l':
		if depth >= s.maxDepth {
			return s.syntax("nesting deeper than the limit")
		}
		if v.Kind() != reflect.Slice || v.Type().Elem().Kind() == reflect.Uint8 {
			return s.typeError("list", v.Type(), start)
		}
		s.off++
		v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		for {
			if s.off >= len(s.data) {
				return s.syntax("unexpected end of input in a list")
			}
			if s.data[s.off] == 'e' {
				s.off++
				return nil
			}
			e := reflect.New(v.Type().Elem()).Elem()
			if err := s.value(e, depth+1); err != nil {
				return err
			}
			v.Set(reflect.Append(v, e))
		}
	case c == 'd':
		if depth >= s.maxDepth {
			return s.syntax("nesting deeper than the limit")
		}
		switch v.Kind() {
		case reflect.Map:
			if v.Type().Key().Kind() != reflect.String {
				return s.typeError("dictionary", v.Type(), start)
			}
			v.Set(reflect.MakeMap(v.Type()))
		case reflect.Struct:
		default:
			return s.typeError("dictionary", v.Type(), start)
		}
		var fields []field
		if v.Kind() == reflect.Struct {
			fields = fieldsOf(v.Type())
		}
		s.off++
		var prev []byte
		first := true
		for {
			if s.off >= len(s.data) {
				return s.syntax("unexpected end of input in a dictionary")
			}
			if s.data[s.off] == 'e' {
				s.off++
				return nil
			}
			k, err := s.key(prev, first)
			if err != nil {
				return err
			}
			prev, first = k, false
			s.path = append(s.path, string(k))
			if v.Kind() == reflect.Map {
				e := reflect.New(v.Type().Elem()).Elem()
				if err := s.value(e, depth+1); err != nil {
					return err
				}
				v.SetMapIndex(reflect.ValueOf(string(k)).Convert(v.Type().Key()), e)
			} else {
				i, found := slices.BinarySearchFunc(fields, string(k), func(f field, k string) int { return strings.Compare(f.key, k) })
				if found {
					err = s.value(v.FieldByIndex(fields[i].index), depth+1)
				} else {
					err = s.skip(depth + 1)
				}
				if err != nil {
					return err
				}
			}
			s.path = s.path[:len(s.path)-1]
		}
	default:
		return s.syntax(fmt.Sprintf("unexpected byte %q", c))
	}
}

func kindAt(c byte) string {
	switch {
	case c == 'i':
		return "integer"
	case c == 'l':
		return "list"
	case c == 'd':
		return "dictionary"
	}
	return "string"
}

func (s *decodeState) setInt(v reflect.Value, neg bool, mag uint64, start int) error {
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if mag > 1<<63 || (!neg && mag == 1<<63) {
			return s.typeError("integer "+signed(neg, mag), v.Type(), start)
		}
		n := int64(mag)
		if neg {
			n = -n
		}
		if v.OverflowInt(n) {
			return s.typeError("integer "+signed(neg, mag), v.Type(), start)
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if neg || v.OverflowUint(mag) {
			return s.typeError("integer "+signed(neg, mag), v.Type(), start)
		}
		v.SetUint(mag)
	case reflect.Bool:
		if neg || mag > 1 {
			return s.typeError("integer "+signed(neg, mag), v.Type(), start)
		}
		v.SetBool(mag == 1)
	default:
		return s.typeError("integer", v.Type(), start)
	}
	return nil
}

func signed(neg bool, mag uint64) string {
	if neg {
		return "-" + strconv.FormatUint(mag, 10)
	}
	return strconv.FormatUint(mag, 10)
}

// generic decodes a value into the types an interface receives.
func (s *decodeState) generic(depth int) (any, error) {
	if s.off >= len(s.data) {
		return nil, s.syntax("unexpected end of input")
	}
	start := s.off
	switch c := s.data[s.off]; {
	case c == 'i':
		s.off++
		neg, mag, err := s.integer('e', true)
		if err != nil {
			return nil, err
		}
		if mag > 1<<63 || (!neg && mag == 1<<63) {
			return nil, &SyntaxError{start, "integer out of the range of int64"}
		}
		n := int64(mag)
		if neg {
			n = -n
		}
		return n, nil
	case c >= '0' && c <= '9':
		b, err := s.str()
		return string(b), err
	case c == 'l':
		if depth >= s.maxDepth {
			return nil, s.syntax("nesting deeper than the limit")
		}
		s.off++
		l := []any{}
		for {
			if s.off >= len(s.data) {
				return nil, s.syntax("unexpected end of input in a list")
			}
			if s.data[s.off] == 'e' {
				s.off++
				return l, nil
			}
			x, err := s.generic(depth + 1)
			if err != nil {
				return nil, err
			}
			l = append(l, x)
		}
	case c == 'd':
		if depth >= s.maxDepth {
			return nil, s.syntax("nesting deeper than the limit")
		}
		s.off++
		m := map[string]any{}
		var prev []byte
		first := true
		for {
			if s.off >= len(s.data) {
				return nil, s.syntax("unexpected end of input in a dictionary")
			}
			if s.data[s.off] == 'e' {
				s.off++
				return m, nil
			}
			k, err := s.key(prev, first)
			if err != nil {
				return nil, err
			}
			prev, first = k, false
			x, err := s.generic(depth + 1)
			if err != nil {
				return nil, err
			}
			m[string(k)] = x
		}
	default:
		return nil, s.syntax(fmt.Sprintf("unexpected byte %q", c))
	}
}
