package provider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"

	"github.com/classhub/terraform-provider-jhub/internal/installer"
)

// sshConns keeps one SSH connection per droplet for the life of the provider
// process: a plan or an apply refreshes and then updates the same hub, and
// the droplet's firewall rate-limits new SSH connections (ufw limit 22/tcp).
var sshConns = &connPool{conns: map[string]*pooledConn{}}

type connPool struct {
	mu    sync.Mutex
	conns map[string]*pooledConn
}

// pooledConn is used by one caller at a time: an install is one conversation.
type pooledConn struct {
	mu sync.Mutex
	c  *installer.Client
}

// get returns a live connection to m's droplet, and the function that hands
// it back; pass true when the connection failed, so the next caller redials.
func (p *connPool) get(ctx context.Context, m *edgeModel) (*installer.Client, func(broken bool), error) {
	key := poolKey(m)
	p.mu.Lock()
	pc, ok := p.conns[key]
	if !ok {
		pc = &pooledConn{}
		p.conns[key] = pc
	}
	p.mu.Unlock()

	pc.mu.Lock()
	if pc.c != nil {
		// A droplet that rebooted or was replaced leaves a dead connection behind.
		alive, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := pc.c.Alive(alive)
		cancel()
		if err != nil {
			_ = pc.c.Close() // already dead; closing only frees it
			pc.c = nil
		}
	}
	if pc.c == nil {
		c, err := dialEdge(ctx, m)
		if err != nil {
			pc.mu.Unlock()
			return nil, nil, err
		}
		pc.c = c
	}
	return pc.c, func(broken bool) {
		if broken {
			_ = pc.c.Close() // dropped for a fresh one; nothing to report
			pc.c = nil
		}
		pc.mu.Unlock()
	}, nil
}

// poolKey names a connection by everything that makes it: the address, the
// user, the pinned host key and (hashed, never kept in clear) the private key.
func poolKey(m *edgeModel) string {
	h := sha256.New()
	for _, v := range []string{m.Host.ValueString(), m.SSHUser.ValueString(), m.HostPublicKey.ValueString(), m.SSHPrivateKey.ValueString()} {
		h.Write([]byte(v))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
