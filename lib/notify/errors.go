package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DeliveryError is an error from a sink that says how to go on: whether
// trying again can help, and how long the receiver asked us to wait.
type DeliveryError struct {
	Err error
	// Permanent is true when retrying cannot help (a 400 or 404: the
	// payload or the URL is wrong). The alert stays in the spool.
	Permanent bool
	// RetryAfter is the receiver's requested wait (HTTP Retry-After), or 0.
	RetryAfter time.Duration
}

func (e *DeliveryError) Error() string { return e.Err.Error() }
func (e *DeliveryError) Unwrap() error { return e.Err }

// Permanent marks err as not worth retrying.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &DeliveryError{Err: err, Permanent: true}
}

// IsPermanent reports whether err was marked Permanent.
func IsPermanent(err error) bool {
	var de *DeliveryError
	return errors.As(err, &de) && de.Permanent
}

// retryAfter returns the wait a receiver asked for, or 0.
func retryAfter(err error) time.Duration {
	var de *DeliveryError
	if errors.As(err, &de) {
		return de.RetryAfter
	}
	return 0
}

// RedactURL hides everything of a URL that may be a secret (the path,
// query, fragment and user info of a webhook URL carry its token),
// keeping the scheme and host so that an error still says where.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(url redacted)"
	}
	return u.Scheme + "://" + u.Host + "/…"
}

// redactErr replaces every occurrence of secret in err's message.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// Redact returns err with every occurrence of each secret in its message
// replaced by "…". It keeps err's chain for errors.Is and errors.As.
func Redact(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	changed := false
	for _, s := range secrets {
		if s != "" && strings.Contains(msg, s) {
			msg = strings.ReplaceAll(msg, s, "…")
			changed = true
		}
	}
	if !changed {
		return err
	}
	return &redactedError{msg: msg, err: err}
}

// urlSecrets lists the parts of a URL that may carry its token: the
// whole URL, its path and query, and every longer path segment, so that
// a receiver that echoes any of them back does not put it in our logs.
func urlSecrets(raw string) []string {
	out := []string{raw}
	u, err := url.Parse(raw)
	if err != nil {
		return out
	}
	parts := append([]string{u.RawQuery, u.Path}, strings.Split(u.Path, "/")...)
	if u.User != nil {
		parts = append(parts, u.User.String())
	}
	for _, p := range parts {
		// Short parts ("/", "api") are no secret, and hiding them would
		// garble the message.
		if len(p) >= 8 {
			out = append(out, p)
		}
	}
	return out
}

// maxResponse bounds how much of a receiver's answer is read.
const maxResponse = 64 << 10

// maxRetryAfter caps a Retry-After, so that a hostile receiver cannot
// park an alert for a year; the retry budget caps it again.
const maxRetryAfter = time.Hour

// Post sends body to the URL with the given headers and classifies the
// answer: 2xx is success; 408, 425, 429 and 5xx are worth retrying (with
// the Retry-After the receiver gave); other statuses are permanent.
// Errors never contain the URL's secret parts. name names the sink in
// errors.
func Post(ctx context.Context, client *http.Client, name, rawURL string, header http.Header, body []byte, now func() time.Time) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return Permanent(fmt.Errorf("%s: bad URL %s", name, RedactURL(rawURL)))
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := client.Do(req)
	if err != nil {
		// *url.Error carries the whole URL: say only where.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return Redact(fmt.Errorf("%s: post to %s: %w", name, RedactURL(rawURL), err), urlSecrets(rawURL)...)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	snippet := OneLine(string(answer))
	if len(snippet) > 200 {
		snippet = snippet[:200] + "…"
	}
	err = Redact(fmt.Errorf("%s: %s answered %s: %s", name, RedactURL(rawURL), resp.Status, snippet), urlSecrets(rawURL)...)
	switch {
	case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusRequestTimeout,
		resp.StatusCode == http.StatusTooEarly, resp.StatusCode >= 500:
		return &DeliveryError{Err: err, RetryAfter: ParseRetryAfter(resp.Header.Get("Retry-After"), now)}
	default:
		return Permanent(err)
	}
}

// ParseRetryAfter reads an HTTP Retry-After value (seconds or an HTTP
// date) and returns the wait, capped at an hour; 0 when absent or bad.
func ParseRetryAfter(v string, now func() time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 || secs != secs {
			return 0
		}
		if secs > maxRetryAfter.Seconds() {
			return maxRetryAfter
		}
		d = time.Duration(secs * float64(time.Second))
	} else if t, err := http.ParseTime(v); err == nil {
		if now == nil {
			now = time.Now
		}
		d = t.Sub(now())
	}
	if d < 0 {
		return 0
	}
	return min(d, maxRetryAfter)
}
