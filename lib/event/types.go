package event

import "time"

// SchemaVersion is the version of the event contract written by Picket's
// stages. It increases only when a field changes meaning or is removed;
// new fields may appear at any time and readers must ignore those they do
// not know.
const SchemaVersion = 1

// Event types. Later stages add their own (fingerprint enriches "port"
// lines with a "service" object; ndiff emits "change" lines).
const (
	TypeScan   = "scan"
	TypeHost   = "host"
	TypePort   = "port"
	TypeChange = "change"
	TypeRun    = "run" // written by watch for each run of its command
	// TypeScope continues a scan start's scope when it is too long for
	// one line (see ScopePart).
	TypeScope = "scope"
)

// Scan phases carried by "scan" events.
const (
	PhaseStart = "start"
	PhaseEnd   = "end"
)

// TimeLayout is RFC 3339 in UTC with a fixed nine-digit fraction, so that
// timestamps sort as strings as they do in time.
const TimeLayout = "2006-01-02T15:04:05.000000000Z"

// FormatTime renders t in TimeLayout, converted to UTC.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// Tool names the program that wrote an event and its version.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Shard says which slice of a split scan this run covered: shard Index of
// Count, counting from 1 as masscan and Nmap do.
type Shard struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

// Scope is what a scan set out to cover. ndiff relies on it to tell a
// port that went away from a port that was not looked at this time.
type Scope struct {
	// Targets are the target specifications as given, including those
	// read from -iL files, in order.
	Targets []string `json:"targets"`
	// Exclude are the exclusion specifications as given.
	Exclude []string `json:"exclude,omitempty"`
	// Ports is the port specification in canonical form, e.g. "T:22,80,443".
	Ports string `json:"ports"`
	// Method is the probe method, e.g. "connect".
	Method string `json:"method"`
	// Discovery is the host discovery used: "none" when every target was
	// treated as up (-Pn), otherwise a short description such as
	// "tcp-connect:80,443".
	Discovery string `json:"discovery"`
	// Shard is set when the scan covered one shard of a split run.
	Shard *Shard `json:"shard,omitempty"`
}

// ScanStart opens a scan. Every event of the scan carries its ScanID.
type ScanStart struct {
	Type   string `json:"type"`
	Time   string `json:"time"`
	ScanID string `json:"scan_id"`
	Phase  string `json:"phase"`
	Tool   Tool   `json:"tool"`
	Schema int    `json:"schema"`
	Scope  Scope  `json:"scope"`
	// Seed keys the scan's probe order: the same seed over the same
	// scope probes in the same order. It is below 2^53 unless the user
	// chose a larger one, so it survives readers that hold numbers as
	// doubles.
	Seed *uint64 `json:"seed,omitempty"`
	// ScopeParts is how many "scope" events (ScopePart, Seq 1 to
	// ScopeParts) follow the start to continue a scope too long for one
	// line; absent when the start holds the whole scope. They come
	// before any other event of the scan, so a reader that meets a host,
	// port or end event of the scan with fewer parts read knows the
	// scope it holds is incomplete.
	ScopeParts int `json:"scope_parts,omitempty"`
}

// ScopePart continues the scope of a scan start that announced
// ScopeParts parts: its Targets and Exclude are appended, in Seq order
// (from 1), to those of the start's scope. Each part carries at most
// MaxScopeBytes of specifications (see SplitScope).
type ScopePart struct {
	Type    string   `json:"type"`
	Time    string   `json:"time"`
	ScanID  string   `json:"scan_id"`
	Seq     int      `json:"seq"`
	Targets []string `json:"targets,omitempty"`
	Exclude []string `json:"exclude,omitempty"`
}

// Stats counts what a scan did; it is carried by the scan end event.
type Stats struct {
	HostsTotal uint64  `json:"hosts_total"`
	HostsUp    uint64  `json:"hosts_up"`
	Excluded   uint64  `json:"excluded"`
	Probes     uint64  `json:"probes"`
	Retries    uint64  `json:"retries"`
	Open       uint64  `json:"open"`
	Closed     uint64  `json:"closed"`
	Filtered   uint64  `json:"filtered"`
	Errors     uint64  `json:"errors"`
	ElapsedMS  float64 `json:"elapsed_ms"`
	// HostsThrottled counts hosts that dropped probes sent fast and
	// answered once probe slowed down for them; HostsGaveUp counts hosts
	// that kept dropping probes however slowly they were sent (see
	// Host.Throttle).
	HostsThrottled uint64 `json:"hosts_throttled,omitempty"`
	HostsGaveUp    uint64 `json:"hosts_gave_up,omitempty"`
}

// ScanEnd closes a scan. Complete is false when the scan was interrupted
// or when some probes ended without a result (see Stats.Errors), so a
// missing port in such a scan proves nothing.
type ScanEnd struct {
	Type     string `json:"type"`
	Time     string `json:"time"`
	ScanID   string `json:"scan_id"`
	Phase    string `json:"phase"`
	Complete bool   `json:"complete"`
	// Interrupted names the signal that stopped the scan, if any.
	Interrupted string `json:"interrupted,omitempty"`
	Stats       Stats  `json:"stats"`
}

// Host reports the state of one target address.
type Host struct {
	Type     string  `json:"type"`
	Time     string  `json:"time"`
	ScanID   string  `json:"scan_id"`
	IP       string  `json:"ip"`
	Hostname string  `json:"hostname,omitempty"`
	State    string  `json:"state"`
	Reason   string  `json:"reason"`
	RTTms    float64 `json:"rtt_ms"`
	// Throttle says how probe had to pace the host: "slowed" when it
	// dropped probes sent fast and answered slower ones, "gave-up" when
	// it kept dropping probes however slowly they were sent, so its
	// unanswered ports are filtered after the retries. Absent when the
	// host took probes at full speed.
	Throttle string `json:"throttle,omitempty"`
}

// Port reports the state of one port of one address. States and reasons
// use Nmap's vocabulary: open, closed, filtered, open|filtered; syn-ack,
// conn-refused, no-response, host-unreach and so on.
type Port struct {
	Type     string  `json:"type"`
	Time     string  `json:"time"`
	ScanID   string  `json:"scan_id"`
	IP       string  `json:"ip"`
	Hostname string  `json:"hostname,omitempty"`
	Port     uint16  `json:"port"`
	Proto    string  `json:"proto"`
	State    string  `json:"state"`
	Reason   string  `json:"reason"`
	TTL      *int    `json:"ttl,omitempty"`
	RTTms    float64 `json:"rtt_ms"`
	// Service and TLS are added by fingerprint; probe never sets them.
	Service *Service `json:"service,omitempty"`
	TLS     *TLS     `json:"tls,omitempty"`
}

// Service is what fingerprint learns about the program behind an open
// port, in Nmap's vocabulary. Every field but Name is optional.
type Service struct {
	Name       string   `json:"name"`
	Product    string   `json:"product,omitempty"`
	Version    string   `json:"version,omitempty"`
	ExtraInfo  string   `json:"extrainfo,omitempty"`
	OSType     string   `json:"ostype,omitempty"`
	DeviceType string   `json:"devicetype,omitempty"`
	Tunnel     string   `json:"tunnel,omitempty"` // "ssl" when spoken over TLS
	CPE        []string `json:"cpe,omitempty"`
	Conf       int      `json:"conf,omitempty"` // confidence, 0 to 10
	Hostname   string   `json:"hostname,omitempty"`
	// Method is "probed" when a probe's answer matched, "table" when the
	// name only comes from the port number.
	Method string `json:"method,omitempty"`
	// Banner is the raw answer, at most 2 KiB, control bytes escaped.
	Banner string `json:"banner,omitempty"`
	// HostKey is an SSH server's host key fingerprint ("SHA256:…").
	HostKey string `json:"hostkey,omitempty"`
	// HTTP is what a web server's answer said, on plain and TLS ports.
	HTTP *HTTP `json:"http,omitempty"`
}

// HTTP is what fingerprint reads from a web server's answer to GET /.
type HTTP struct {
	Status    int    `json:"status,omitempty"`
	Server    string `json:"server,omitempty"`
	PoweredBy string `json:"powered_by,omitempty"`
	Title     string `json:"title,omitempty"`
}

// Change kinds written by ndiff, hyphenated like Nmap's reasons.
const (
	KindHostUp          = "host-up"
	KindHostDown        = "host-down"
	KindPortOpened      = "port-opened"
	KindPortClosed      = "port-closed"
	KindPortState       = "port-state" // any other state transition, e.g. open→filtered
	KindServiceChanged  = "service-changed"
	KindServiceMoved    = "service-moved"
	KindTLSChanged      = "tls-changed"
	KindTLSExpiring     = "tls-expiring"
	KindPolicyViolation = "policy-violation"
	KindUnknown         = "unknown" // not covered by the current scan; only with --report-unknown
)

// Severities of a change, from least to most urgent.
const (
	SeverityInfo     = "info"
	SeverityWarning  = "warning"
	SeverityCritical = "critical"
)

// Change is written by ndiff for each difference between a scan and its
// baseline. Kind says what changed; IP, Port and Proto locate it (Port is
// absent for host changes); Before and After hold the port or host as the
// baseline and the current scan saw it (state, reason, service, tls), so a
// reader needs no other line to describe the change. Severity is one of
// info, warning and critical. Notify keys its alerts on ScanID, Kind, IP,
// Port and Proto.
type Change struct {
	Type           string `json:"type"`
	Time           string `json:"time"`
	ScanID         string `json:"scan_id"`
	BaselineScanID string `json:"baseline_scan_id,omitempty"`
	Kind           string `json:"kind"`
	Severity       string `json:"severity"`
	IP             string `json:"ip,omitempty"`
	Hostname       string `json:"hostname,omitempty"`
	Port           uint16 `json:"port,omitempty"`
	Proto          string `json:"proto,omitempty"`
	// FromPort is set for service-moved: the port the service left.
	FromPort uint16 `json:"from_port,omitempty"`
	// Before and After are the baseline's and the current scan's view,
	// absent when there was none (a new port has no Before).
	Before *Observed `json:"before,omitempty"`
	After  *Observed `json:"after,omitempty"`
	// FirstSeen is when the baseline first saw what changed.
	FirstSeen string `json:"first_seen,omitempty"`
	// Summary is a short human line such as "+443/tcp open https nginx 1.22".
	Summary string `json:"summary,omitempty"`
	// Rule names the policy rule behind a policy-violation.
	Rule string `json:"rule,omitempty"`
}

// Observed is one side of a change: what a scan saw of a host or port.
type Observed struct {
	State   string   `json:"state,omitempty"`
	Reason  string   `json:"reason,omitempty"`
	Service *Service `json:"service,omitempty"`
	TLS     *TLS     `json:"tls,omitempty"`
}

// TLS is what fingerprint learns from a TLS handshake; it is carried as
// the "tls" object of a port event.
type TLS struct {
	Version    string   `json:"version,omitempty"`
	Cipher     string   `json:"cipher,omitempty"`
	ALPN       string   `json:"alpn,omitempty"`
	SubjectCN  string   `json:"subject_cn,omitempty"`
	SANs       []string `json:"sans,omitempty"`
	Issuer     string   `json:"issuer,omitempty"`
	NotBefore  string   `json:"not_before,omitempty"`
	NotAfter   string   `json:"not_after,omitempty"`
	SelfSigned bool     `json:"self_signed,omitempty"`
	SHA256     string   `json:"sha256,omitempty"`
	KeyType    string   `json:"key_type,omitempty"`
	KeyBits    int      `json:"key_bits,omitempty"`
}

// Run phases and trigger kinds carried by "run" events, which watch
// writes for each run of its command.
const (
	TriggerFiles    = "files"    // files changed under a watched path
	TriggerInterval = "interval" // the --every schedule came due
	TriggerInitial  = "initial"  // the run at start (--initial)
)

// Change kinds of a watched path, as carried in a run's trigger.
const (
	PathCreate   = "create"
	PathWrite    = "write"
	PathRemove   = "remove"
	PathRename   = "rename"
	PathChmod    = "chmod"
	PathOverflow = "overflow" // the kernel dropped events: anything under the path may have changed
)

// Run is written by watch when it starts its command (phase "start") and
// when the command has ended (phase "end"). Both carry what triggered the
// run; the end adds how it ended: ExitStatus when the command exited,
// Signal when a signal ended it, Stopped when watch itself stopped it
// ("restart" for a newer change, "shutdown" when watch was told to end),
// and Error when the command could not be started at all.
type Run struct {
	Type  string `json:"type"`
	Time  string `json:"time"`
	Phase string `json:"phase"`
	// Seq numbers the runs of one watch process from 1.
	Seq     uint64     `json:"seq"`
	Trigger RunTrigger `json:"trigger"`
	Command []string   `json:"command"`
	PID     int        `json:"pid,omitempty"`
	Start   string     `json:"start"`
	End     string     `json:"end,omitempty"`
	// ExitStatus is absent when the command did not exit by itself.
	ExitStatus *int    `json:"exit_status,omitempty"`
	Signal     string  `json:"signal,omitempty"`
	Stopped    string  `json:"stopped,omitempty"`
	DurationMS float64 `json:"duration_ms,omitempty"`
	Error      string  `json:"error,omitempty"`
}

// RunTrigger says why a run started. Kind is TriggerFiles when any path
// changed (Paths lists them, at most a bounded number; MorePaths counts
// the rest), otherwise TriggerInterval or TriggerInitial.
type RunTrigger struct {
	Kind      string       `json:"kind"`
	Paths     []PathChange `json:"paths,omitempty"`
	MorePaths int          `json:"more_paths,omitempty"`
}

// PathChange is one changed path and the kinds of change seen on it
// (PathCreate, PathWrite, …) since the previous run.
type PathChange struct {
	Path  string   `json:"path"`
	Kinds []string `json:"kinds"`
}
