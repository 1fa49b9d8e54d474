// Package methods lists Picket's probe methods in one place: the table
// a command hands to scan.Setup. A new method is one more line here and
// a package of its own under lib/scan/.
package methods

import (
	"github.com/picketscan/picket/lib/ports"
	"github.com/picketscan/picket/lib/scan"
	"github.com/picketscan/picket/lib/scan/connect"
)

// List returns the probe methods, the default first.
func List() []scan.MethodSpec {
	return []scan.MethodSpec{
		{Name: "connect", Proto: ports.TCP, New: connect.New,
			Doc: "a full TCP handshake through the kernel; needs no privileges"},
	}
}
