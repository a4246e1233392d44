//go:build !(linux || darwin || freebsd)

package uds

import "context"

// dialPlain is Dial's stream dial for a plain Dialer (see plain): here the
// same as the general path, which with no timeout only validates a.
func (d *Dialer) dialPlain(ctx context.Context, a Addr) (*Conn, error) {
	if err := validateTarget(a); err != nil {
		return nil, opError("dial", a, err)
	}
	c, err := d.dialStream(ctx, a)
	if err != nil {
		return nil, opError("dial", a, err)
	}
	return c, nil
}
