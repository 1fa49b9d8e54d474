//go:build !linux

package scan

import (
	"context"
	"net/netip"
)

func (c *Connect) dial(ctx context.Context, dst netip.AddrPort) Result {
	return c.dialPortable(ctx, dst)
}
