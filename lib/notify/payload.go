package notify

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Payload is the generic JSON form of an alert, sent by the webhook sink,
// appended by the file sink and given on stdin by the exec sink. Changes
// are the change events as read; Text is the rendered message.
type Payload struct {
	Type       string            `json:"type"` // always "alert"
	Key        string            `json:"key"`
	ScanID     string            `json:"scan_id,omitempty"`
	Digest     bool              `json:"digest,omitempty"`
	Incomplete bool              `json:"incomplete,omitempty"`
	Title      string            `json:"title"`
	Severity   string            `json:"severity"`
	Count      int               `json:"count"`
	Created    string            `json:"created"`
	Text       string            `json:"text,omitempty"`
	Changes    []json.RawMessage `json:"changes"`
}

// EncodePayload returns the one-line JSON of a's Payload with text.
func EncodePayload(a *Alert, text string) ([]byte, error) {
	p := Payload{
		Type: "alert", Key: a.Key, ScanID: a.ScanID, Digest: a.Digest, Incomplete: a.Incomplete,
		Title: Title(a), Severity: a.Severity(), Count: len(a.Changes),
		Created: a.Created.UTC().Format("2006-01-02T15:04:05.000000000Z"),
		Text:    text, Changes: a.Changes,
	}
	// No HTML escaping: the changes keep their bytes (only insignificant
	// whitespace is dropped).
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return nil, fmt.Errorf("encode alert %s: %w", a.Key, err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
