package revocation

import (
	"errors"
	"net"
	"regexp"
	"sync"
)

// faultProxy sits between one replica's Redis client and Redis, and models
// the network between them under the scheduler's control. Bytes keep their
// order in each direction, as on a TCP connection:
//
//   - holdUp: commands wait before Redis reads them; released, Redis runs
//     them then, long after the client gave up (a write the client counts
//     as failed lands late).
//   - holdDown: replies (and Redis' invalidation messages) wait after Redis
//     ran the command; the client times out on a command that took effect.
//   - holdWrite, holdReply: the same, from the n-th next write command
//     (SET, DEL, EVAL, EVALSHA) on: the commands before it go through. A client whose
//     read timed out closes its connection, and no later command would
//     reach Redis; these hold exactly the write.
//   - cut: every connection is closed at once; bytes still held are lost.
//   - down: new connections are accepted and closed at once, so the client
//     fails fast (and its circuit breaker opens after a few failures).
type faultProxy struct {
	target string
	ln     net.Listener
	addr   string

	mu       sync.Mutex
	cond     *sync.Cond
	holdUp   bool
	holdDown bool
	// armed: hold from the n-th next write command on (0: not armed)
	holdWrite, holdReply int
	onHoldDown           func(on bool) // told when holdDown changes; p.mu is held
	down                 bool
	closed               bool
	conns                map[*proxyConn]struct{}
	wg                   sync.WaitGroup
}

// pipe is one direction of one connection: what was read from src and not
// yet written to dst.
type pipe struct {
	queue   [][]byte
	eof     bool // src ended: close dst once the queue is written
	writing bool
}

type proxyConn struct {
	client, server net.Conn
	up, down       pipe
	dead           bool
}

func newFaultProxy(target string) (*faultProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &faultProxy{target: target, ln: ln, addr: ln.Addr().String(), conns: map[*proxyConn]struct{}{}}
	p.cond = sync.NewCond(&p.mu)
	p.wg.Go(p.accept)
	return p, nil
}

func (p *faultProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down || p.closed {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.mu.Unlock()
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		pc := &proxyConn{client: c, server: s}
		p.mu.Lock()
		if p.down || p.closed {
			p.mu.Unlock()
			c.Close()
			s.Close()
			continue
		}
		p.conns[pc] = struct{}{}
		p.mu.Unlock()
		p.wg.Go(func() { p.read(pc, c, &pc.up) })
		p.wg.Go(func() { p.write(pc, s, &pc.up, true) })
		p.wg.Go(func() { p.read(pc, s, &pc.down) })
		p.wg.Go(func() { p.write(pc, c, &pc.down, false) })
	}
}

func (p *faultProxy) read(pc *proxyConn, src net.Conn, q *pipe) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		p.mu.Lock()
		if n > 0 && !pc.dead {
			if q == &pc.up && (p.holdWrite > 0 || p.holdReply > 0) {
				writes := len(writeCommand.FindAllIndex(buf[:n], -1))
				if p.holdWrite > 0 && writes >= p.holdWrite {
					p.holdWrite, p.holdUp = 0, true
				} else if p.holdWrite > 0 {
					p.holdWrite -= writes
				}
				if p.holdReply > 0 && writes >= p.holdReply {
					p.holdReply = 0
					p.setHoldDownLocked(true)
				} else if p.holdReply > 0 {
					p.holdReply -= writes
				}
			}
			q.queue = append(q.queue, append([]byte(nil), buf[:n]...))
		}
		if err != nil {
			q.eof = true
		}
		p.cond.Broadcast()
		p.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// write forwards q to dst whenever its direction is not held.
func (p *faultProxy) write(pc *proxyConn, dst net.Conn, q *pipe, upstream bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		held := p.holdUp
		if !upstream {
			held = p.holdDown
		}
		switch {
		case pc.dead:
			return
		case !held && len(q.queue) > 0:
			chunk := q.queue[0]
			q.queue = q.queue[1:]
			q.writing = true
			p.mu.Unlock()
			_, err := dst.Write(chunk)
			p.mu.Lock()
			q.writing = false
			p.cond.Broadcast()
			if err != nil {
				p.kill(pc)
				return
			}
		case !held && q.eof:
			// The other side closed and everything it sent was forwarded:
			// close this side too.
			p.kill(pc)
			return
		default:
			p.cond.Wait()
		}
	}
}

// kill closes both sides of pc and drops what it held. p.mu is held.
func (p *faultProxy) kill(pc *proxyConn) {
	if pc.dead {
		return
	}
	pc.dead = true
	pc.up.queue, pc.down.queue = nil, nil
	pc.client.Close()
	pc.server.Close()
	delete(p.conns, pc)
	p.cond.Broadcast()
}

func (p *faultProxy) set(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f()
	p.cond.Broadcast()
}

func (p *faultProxy) setHoldUp(on bool)   { p.set(func() { p.holdUp = on }) }
func (p *faultProxy) setHoldDown(on bool) { p.set(func() { p.setHoldDownLocked(on) }) }

// armWrite holds the n-th next write command before Redis runs it (and
// what follows it); armReply holds the replies from the n-th next write's on.
func (p *faultProxy) armWrite(n int) { p.set(func() { p.holdWrite = n }) }
func (p *faultProxy) armReply(n int) { p.set(func() { p.holdReply = n }) }

func (p *faultProxy) setHoldDownLocked(on bool) {
	if p.holdDown != on && p.onHoldDown != nil {
		p.onHoldDown(on)
	}
	p.holdDown = on
}

// writeCommand matches the start of a RESP command that writes.
var writeCommand = regexp.MustCompile(`\*\d+\r\n\$\d+\r\n(?i:SET|DEL|EVAL|EVALSHA)\r\n`)

// cut closes every connection; held bytes are lost.
func (p *faultProxy) cut() {
	p.set(func() {
		for pc := range p.conns {
			p.kill(pc)
		}
	})
}

// setDown refuses (on) or accepts again (off) new connections; going down
// also cuts the open ones.
func (p *faultProxy) setDown(on bool) {
	if on {
		p.set(func() { p.down = true })
		p.cut()
		return
	}
	p.set(func() { p.down = false })
}

// release lets held bytes go through (late) and disarms the holds.
func (p *faultProxy) release() {
	p.set(func() {
		p.holdUp, p.holdWrite, p.holdReply = false, 0, 0
		p.setHoldDownLocked(false)
	})
}

// heal ends every fault: held bytes are forwarded (late), new connections
// are accepted.
func (p *faultProxy) heal() {
	p.set(func() {
		p.holdUp, p.down, p.holdWrite, p.holdReply = false, false, 0, 0
		p.setHoldDownLocked(false)
	})
}

// flowing reports whether every byte not deliberately held has been
// forwarded.
func (p *faultProxy) flowing() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for pc := range p.conns {
		if !p.holdUp && (len(pc.up.queue) > 0 || pc.up.writing) {
			return false
		}
		if !p.holdDown && (len(pc.down.queue) > 0 || pc.down.writing) {
			return false
		}
	}
	return true
}

func (p *faultProxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for pc := range p.conns {
		p.kill(pc)
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}
