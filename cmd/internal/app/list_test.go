package app

import (
	"slices"
	"testing"

	"github.com/urfave/cli/v2"
)

// TestList parses repeated flags, with and without an alias, and checks
// that each value is kept whole, once, in order.
func TestList(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		want []string
	}{
		{"none", nil, nil},
		{"one", []string{"-w", "a"}, []string{"a"}},
		{"commas and spaces kept", []string{"--path", "a,b c"}, []string{"a,b c"}},
		{"alias repeated", []string{"-w", "a", "-w", "b", "-w", "c"}, []string{"a", "b", "c"}},
		{"name repeated", []string{"--path", "a", "--path", "b"}, []string{"a", "b"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			a := &cli.App{
				Flags: []cli.Flag{&cli.GenericFlag{Name: "path", Aliases: []string{"w"}, Value: &List{}}},
				Action: func(c *cli.Context) error {
					got = *c.Generic("path").(*List)
					return nil
				},
			}
			if err := a.Run(append([]string{"x"}, tt.args...)); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
