package app

import (
	"encoding/json"
	"strings"

	"github.com/urfave/cli/v2"
)

// List is the value of a repeatable flag whose values are kept whole
// (use it in a cli.GenericFlag): urfave/cli's StringSliceFlag cuts each
// value at commas, which would cut a command line, a path or a pattern.
type List []string

var _ cli.Serializer = (*List)(nil)

// listCopy marks a whole list in Serialize: urfave/cli copies a flag's
// value to its aliases (-w for --path) with Set(Serialize()), and without
// the mark that copy would be taken for one more value, all the values
// joined. No command-line argument can hold a NUL byte.
const listCopy = "\x00list:"

// Set appends v, or restores the whole list from Serialize's form.
func (l *List) Set(v string) error {
	if whole, ok := strings.CutPrefix(v, listCopy); ok {
		return json.Unmarshal([]byte(whole), (*[]string)(l))
	}
	*l = append(*l, v)
	return nil
}

// String returns the values separated by spaces, for help output.
func (l *List) String() string { return strings.Join(*l, " ") }

// Serialize returns the whole list in a form that Set takes back whole.
func (l *List) Serialize() string {
	data, _ := json.Marshal([]string(*l))
	return listCopy + string(data)
}
