package ports

// WellKnownName returns the first name the built-in table gives port num
// of protocol p (the IANA name, or a de facto one), or "" when it has
// none. fingerprint uses it to name a port no probe identified.
func WellKnownName(num uint16, p Proto) string {
	want := onTCP
	if p == UDP {
		want = onUDP
	}
	for _, s := range wellKnown {
		if s.port == num && s.protos&want != 0 {
			return s.name
		}
	}
	return ""
}
