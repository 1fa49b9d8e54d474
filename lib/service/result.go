package service

import (
	"context"
	"math"

	"github.com/picketscan/picket/lib/event"
	"github.com/picketscan/picket/lib/ports"
	svchttp "github.com/picketscan/picket/lib/service/http"
	svcssh "github.com/picketscan/picket/lib/service/ssh"
)

// result turns what the session found into the service object, adding
// what the protocol packages read (SSH host key, HTTP headers).
func (s *session) result(ctx context.Context) Result {
	var svc event.Service
	var hit *Hit
	switch {
	case s.hard != nil:
		hit = s.hard
		svc.Conf = confHard
	case s.soft != nil:
		hit = s.soft
		svc.Conf = confSoft
	}
	switch {
	case hit != nil:
		svc.Name = hit.Match.Service
		svc.Method = "probed"
		in := hit.Info
		svc.Product, svc.Version, svc.ExtraInfo = in.Product, in.Version, in.Info
		svc.Hostname, svc.OSType, svc.DeviceType = in.Hostname, in.OS, in.Device
		svc.CPE = in.CPE
		if hit.Match.SSL {
			svc.Tunnel = "ssl"
		}
	case s.wrapped:
		svc.Name, svc.Method, svc.Conf = "tcpwrapped", "probed", confTCPWrapped
	default:
		p := ports.TCP
		if s.t.Proto == UDP {
			p = ports.UDP
		}
		if name := ports.WellKnownName(s.t.Port, p); name != "" {
			svc.Name, svc.Method, svc.Conf = name, "table", confTable
		} else {
			svc.Name, svc.Method = "unknown", "probed"
		}
		if s.excluded {
			svc.Method = "table"
		}
	}
	if s.tunnel {
		svc.Tunnel = "ssl"
	}
	if svc.Name == "ssl" && s.tunnel {
		// The TLS layer is described by the tls object; what runs
		// inside it is unknown.
		svc.Name = "unknown"
		if name := ports.WellKnownName(s.t.Port, ports.TCP); name != "" {
			svc.Name, svc.Method, svc.Conf = name, "table", confTable
		}
	}
	s.addSSH(ctx, &svc)
	s.addHTTP(ctx, &svc)
	if len(s.banner) > 0 {
		svc.Banner = EscapeBanner(s.banner)
	}
	return Result{Service: svc, TLS: s.tls}
}

// addSSH fills in the banner's product when no match line did and fetches
// the host key fingerprint.
func (s *session) addSSH(ctx context.Context, svc *event.Service) {
	if svc.Name != "ssh" || s.t.Proto != TCP || ctx.Err() != nil {
		return
	}
	if b, err := svcssh.ParseBanner(s.banner); err == nil && svc.Product == "" {
		if name, ver, ok := cutUnderscore(b.Software); ok {
			svc.Product, svc.Version = name, ver
		}
		if svc.ExtraInfo == "" {
			svc.ExtraInfo = "protocol " + b.Proto
		}
	}
	cctx, cancel := context.WithTimeout(ctx, s.e.cfg.Timeout)
	defer cancel()
	conn, err := s.dial(cctx)
	if err != nil {
		return
	}
	defer conn.Close()
	if hk, err := svcssh.FetchHostKey(cctx, conn, s.addr); err == nil {
		svc.HostKey = hk.Fingerprint
	}
}

func cutUnderscore(sw string) (name, version string, ok bool) {
	for i := 0; i < len(sw); i++ {
		if sw[i] == '_' {
			return sw[:i], sw[i+1:], i > 0 && i+1 < len(sw)
		}
	}
	return "", "", false
}

// addHTTP reads the status, Server header and title of an HTTP answer,
// sending a GET when no answer so far was HTTP, and fills in the product
// and version when no match line did.
func (s *session) addHTTP(ctx context.Context, svc *event.Service) {
	if svc.Name != "http" && svc.Name != "https" && svc.Name != "http-proxy" && svc.Name != "http-alt" {
		return
	}
	if s.http == nil && s.e.getProbe != nil && ctx.Err() == nil && svc.Method == "probed" {
		s.exchange(ctx, s.e.getProbe, nil, math.MaxInt)
	}
	resp := s.http
	if resp == nil {
		return
	}
	svc.HTTP = &event.HTTP{Status: resp.Status, Server: resp.Server, Title: resp.Title, PoweredBy: resp.PoweredBy}
	if svc.Product == "" {
		svc.Product, svc.Version, svc.ExtraInfo = svchttp.Product(resp.Server)
	}
}
