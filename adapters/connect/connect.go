package kratosconnect

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"connectrpc.com/connect"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/internal/rpcstatus"
)

// DefaultStreamRecheck is how often a stream's session is checked again
// unless WithStreamRecheck says otherwise.
const DefaultStreamRecheck = time.Minute

// An Option configures New.
type Option func(*config) error

type config struct {
	recheck time.Duration
}

// WithStreamRecheck sets how long a stream goes on with its session before
// the Guard checks it again, on the stream's next message; 0 checks a
// stream only when it opens. Default: DefaultStreamRecheck (one minute).
func WithStreamRecheck(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("kratosconnect: negative stream recheck interval %s", d)
		}
		c.recheck = d
		return nil
	}
}

// Guard is the connect.Interceptor of one kratosauth.Guard. Build it once
// with New; it is safe for concurrent use. On a client it does nothing.
type Guard struct {
	g   *kratosauth.Guard
	cfg config
}

var _ connect.Interceptor = (*Guard)(nil)

// New returns the interceptor applying g to the calls of the handlers it
// is given to (connect.WithInterceptors). It returns an error for a nil g
// or an invalid option.
func New(g *kratosauth.Guard, opts ...Option) (*Guard, error) {
	if g == nil {
		return nil, errors.New("kratosconnect: nil Guard")
	}
	c := config{recheck: DefaultStreamRecheck}
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("kratosconnect: nil Option")
		}
		if err := opt(&c); err != nil {
			return nil, err
		}
	}
	return &Guard{g: g, cfg: c}, nil
}

// WrapUnary runs a unary handler only when the Guard admits the call, with
// the session in its context (kratosauth.SessionFromContext, or Session).
func (g *Guard) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			return next(ctx, req)
		}
		sctx, cookies, err := g.check(context.WithValue(ctx, messageKey{}, req.Any()), req.Spec().Procedure, req.Header())
		if info, ok := connect.CallInfoForHandlerContext(ctx); ok {
			// The call's response headers: sent with the response or the
			// error, whichever the call ends with.
			for _, c := range cookies {
				info.ResponseHeader().Add("Set-Cookie", c)
			}
		}
		if err != nil {
			return nil, err
		}
		return next(sctx, req)
	}
}

// WrapStreamingClient returns next: the interceptor guards handlers only.
func (g *Guard) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// WrapStreamingHandler runs a streaming handler only when the Guard admits
// the stream, which is then checked again on its messages
// (WithStreamRecheck).
func (g *Guard) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		sctx, cookies, err := g.check(ctx, conn.Spec().Procedure, conn.RequestHeader())
		for _, c := range cookies {
			conn.ResponseHeader().Add("Set-Cookie", c)
		}
		if err != nil {
			return err
		}
		admitted, _ := kratosauth.SessionFromContext(sctx)
		gc := &guardedConn{StreamingHandlerConn: conn, ctx: ctx, admitted: admitted, guard: g}
		gc.recheck.Start(g.cfg.recheck)
		return next(sctx, gc)
	}
}

// check applies the Guard to the call: it returns the context with the
// session, or the call's error, and the session cookies Kratos re-issued,
// refused call or not.
func (g *Guard) check(ctx context.Context, procedure string, header http.Header) (context.Context, []string, error) {
	var w discardWriter
	r, err := g.g.Check(&w, credentialRequest(ctx, procedure, header))
	if err != nil {
		return nil, w.header["Set-Cookie"], Error(err)
	}
	return r.Context(), w.header["Set-Cookie"], nil
}

// credentialRequest is a POST of procedure with the call's credential
// headers (all that Kratos reads) and ctx, for the Guard. ObjectFuncs
// reading other headers find them too.
func credentialRequest(ctx context.Context, procedure string, header http.Header) *http.Request {
	r := &http.Request{
		Method:     http.MethodPost,
		URL:        &url.URL{Path: procedure},
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     header,
		RequestURI: procedure,
	}
	return r.WithContext(ctx)
}

// discardWriter is the ResponseWriter the Guard answers refused calls on:
// only the Connect error reaches the client. Its header keeps the session
// cookie of an admitted call.
type discardWriter struct{ header http.Header }

func (w *discardWriter) Header() http.Header {
	if w.header == nil {
		w.header = make(http.Header)
	}
	return w.header
}
func (*discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (*discardWriter) WriteHeader(int)             {}

// guardedConn is an admitted stream whose session is checked again on its
// first message after each recheck interval.
type guardedConn struct {
	connect.StreamingHandlerConn
	ctx      context.Context     // the stream's, without the session
	admitted *kratosauth.Session // nil: admitted without one (LoadSession)
	guard    *Guard
	recheck  rpcstatus.Recheck
}

func (c *guardedConn) Send(m any) error {
	if err := c.recheck.Due(c.check); err != nil {
		return err
	}
	return c.StreamingHandlerConn.Send(m)
}

func (c *guardedConn) Receive(m any) error {
	if err := c.recheck.Due(c.check); err != nil {
		return err
	}
	return c.StreamingHandlerConn.Receive(m)
}

// check applies the Guard again (rpcstatus.Recheck says when): the
// stream goes on only with the session it was admitted with, if any.
func (c *guardedConn) check() error {
	if err := c.guard.g.Recheck(credentialRequest(c.ctx, c.Spec().Procedure, c.RequestHeader()), c.admitted); err != nil {
		return Error(err)
	}
	return nil
}

// Session returns the session the Guard attached to a call's context.
func Session(ctx context.Context) (*kratosauth.Session, bool) {
	return kratosauth.SessionFromContext(ctx)
}

// Identity returns the identity of the session the Guard attached to a
// call's context.
func Identity(ctx context.Context) (*kratosauth.Identity, bool) {
	return kratosauth.IdentityFromContext(ctx)
}
