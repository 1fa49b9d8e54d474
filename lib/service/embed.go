package service

import _ "embed"

// embeddedProbes is Picket's own probe file, in Nmap's format.
//
//go:embed picket-service-probes
var embeddedProbes []byte

// EmbeddedName is the name errors give the embedded probe file.
const EmbeddedName = "picket-service-probes"

// Embedded returns the bytes of Picket's own probe file.
func Embedded() []byte { return embeddedProbes }
