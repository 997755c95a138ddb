package sqlstore

import (
	"encoding/json"
	"fmt"

	"github.com/cordon-dev/cordon/internal/stored"
)

// InStrings is the condition that expr is one of the strings of the list
// bound at param (a value of Strings): one parameter however many values.
func (d Dialect) InStrings(expr, param string) string {
	if d.JSONLists {
		return expr + " IN (SELECT value FROM json_each(" + param + "))"
	}
	return expr + " = ANY(" + param + ")"
}

// Strings is ss as InStrings binds it: a JSON array on SQLite, a text[]
// on PostgreSQL.
func (d Dialect) Strings(ss []string) any {
	if d.JSONLists {
		b, _ := json.Marshal(stored.NonNilStrings(ss)) // strings always encode
		return string(b)
	}
	return stored.NonNilStrings(ss)
}

// StringsDest is where Scan puts a list of strings stored as Strings
// binds it (a TEXT column of a JSON array on SQLite, a text[] on
// PostgreSQL).
func (d Dialect) StringsDest(p *[]string) any {
	if d.JSONLists {
		return jsonStrings{p}
	}
	return p
}

// jsonStrings scans a JSON array of strings.
type jsonStrings struct{ p *[]string }

func (j jsonStrings) Scan(src any) error {
	switch v := src.(type) {
	case string:
		return json.Unmarshal([]byte(v), j.p)
	case []byte:
		return json.Unmarshal(v, j.p)
	}
	return fmt.Errorf("sqlstore: a list of strings stored as %T", src)
}
