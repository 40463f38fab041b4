package kratosgrpc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

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
	public  map[string]bool // full method names the guard lets through
}

// WithStreamRecheck sets how long a stream goes on with its session before
// the Guard checks it again, on the stream's next message; 0 checks a
// stream only when it opens. Default: DefaultStreamRecheck (one minute).
func WithStreamRecheck(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("kratosgrpc: negative stream recheck interval %s", d)
		}
		c.recheck = d
		return nil
	}
}

// WithPublicMethods lets calls of the given methods through without any
// check (and without a session in their context): gRPC's health check
// ("/grpc.health.v1.Health/Check") that load balancers call, or server
// reflection. Each is a full method name, "/package.Service/Method",
// matched exactly; New refuses anything else. For another policy on some
// methods, build another Guard and pick by method with a selector such as
// go-grpc-middleware's. Default: none; every method is guarded.
func WithPublicMethods(fullMethods ...string) Option {
	return func(c *config) error {
		for _, m := range fullMethods {
			svc, method, ok := strings.Cut(strings.TrimPrefix(m, "/"), "/")
			if !strings.HasPrefix(m, "/") || !ok || svc == "" || method == "" || strings.Contains(method, "/") {
				return fmt.Errorf("kratosgrpc: WithPublicMethods: %q is not a full method name (/package.Service/Method)", m)
			}
			if c.public == nil {
				c.public = map[string]bool{}
			}
			c.public[m] = true
		}
		return nil
	}
}

// Guard holds the server interceptors of one kratosauth.Guard. Build it
// once with New; it is safe for concurrent use.
type Guard struct {
	g   *kratosauth.Guard
	cfg config
}

// New returns the interceptors applying g to every call of a server (or,
// with a selector such as go-grpc-middleware's, of some methods). It
// returns an error for a nil g or an invalid option.
func New(g *kratosauth.Guard, opts ...Option) (*Guard, error) {
	if g == nil {
		return nil, errors.New("kratosgrpc: nil Guard")
	}
	c := config{recheck: DefaultStreamRecheck}
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("kratosgrpc: nil Option")
		}
		if err := opt(&c); err != nil {
			return nil, err
		}
	}
	return &Guard{g: g, cfg: c}, nil
}

// Unary is the grpc.UnaryServerInterceptor: the handler runs only when the
// Guard admits the call, with the session in its context
// (kratosauth.SessionFromContext, or Session here).
func (g *Guard) Unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if g.cfg.public[info.FullMethod] {
		return handler(ctx, req)
	}
	sctx, cookies, err := g.check(ctx, req, info.FullMethod)
	if len(cookies) > 0 {
		_ = grpc.SetHeader(ctx, metadata.MD{"set-cookie": cookies})
	}
	if err != nil {
		return nil, err
	}
	return handler(sctx, req)
}

// Stream is the grpc.StreamServerInterceptor: the handler runs only when
// the Guard admits the stream, which is then checked again on its messages
// (WithStreamRecheck).
func (g *Guard) Stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if g.cfg.public[info.FullMethod] {
		return handler(srv, ss)
	}
	ctx, cookies, err := g.check(ss.Context(), nil, info.FullMethod)
	if len(cookies) > 0 {
		_ = ss.SetHeader(metadata.MD{"set-cookie": cookies})
	}
	if err != nil {
		return err
	}
	admitted, _ := kratosauth.SessionFromContext(ctx)
	gs := &guardedStream{ServerStream: ss, ctx: ctx, admitted: admitted, guard: g, method: info.FullMethod}
	gs.recheck.Start(g.cfg.recheck)
	return handler(srv, gs)
}

// check applies the Guard to the call whose context is ctx and whose
// request message is msg (nil for a stream): it returns the context with
// the session, or the call's status error, and the session cookies Kratos
// re-issued, refused call or not. The callers send the cookies as
// "set-cookie" header metadata, for grpc-web and gateways to pass on to
// the browser (best effort: the headers may be sent already).
func (g *Guard) check(ctx context.Context, msg any, method string) (context.Context, []string, error) {
	c := newCall(ctx, msg, method)
	r, err := g.g.Check(&c.w, c.request())
	if err != nil {
		return nil, c.w.header["Set-Cookie"], Status(err).Err()
	}
	return r.Context(), c.w.header["Set-Cookie"], nil
}

// call is what the Guard sees of a call, in one allocation: the context
// (which also carries the request message, for Message), the HTTP request
// Kratos would get for the call's metadata, and where the Guard's answer
// to a refused call goes.
type call struct {
	ctx callContext
	req http.Request
	url url.URL
	w   discardWriter
}

// callContext is the call's context plus its request message.
type callContext struct {
	context.Context
	msg any
}

func (c *callContext) Value(key any) any {
	if _, ok := key.(messageKey); ok && c.msg != nil {
		return c.msg
	}
	return c.Context.Value(key)
}

// newCall builds the request Kratos would see for the call's metadata: the
// session token, cookie and authorization headers (all that Kratos reads)
// under their HTTP names, a POST of method (gRPC's path). The core reads
// the credential from it as from any request.
func newCall(ctx context.Context, msg any, method string) *call {
	c := &call{ctx: callContext{Context: ctx, msg: msg}, url: url.URL{Path: method}}
	h := make(http.Header, 1)
	for _, k := range [...]struct{ md, http string }{
		{"x-session-token", "X-Session-Token"},
		{"cookie", "Cookie"},
		{"authorization", "Authorization"},
	} {
		if v := metadata.ValueFromIncomingContext(ctx, k.md); len(v) > 0 {
			h[k.http] = v
		}
	}
	c.req = http.Request{
		Method:     http.MethodPost,
		URL:        &c.url,
		Proto:      "HTTP/2.0",
		ProtoMajor: 2,
		Header:     h,
		RequestURI: method,
	}
	return c
}

// request is the call's request with its context.
func (c *call) request() *http.Request {
	var ctx context.Context = &c.ctx
	if c.ctx.msg == nil {
		ctx = c.ctx.Context
	}
	return c.req.WithContext(ctx)
}

// discardWriter is the ResponseWriter the Guard answers refused calls on:
// only the status error reaches the client. Its header keeps the session
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

// guardedStream is an admitted stream whose session is checked again on
// its first message after each recheck interval.
type guardedStream struct {
	grpc.ServerStream
	ctx      context.Context
	admitted *kratosauth.Session // nil: admitted without one (LoadSession)
	guard    *Guard
	method   string
	recheck  rpcstatus.Recheck
}

func (s *guardedStream) Context() context.Context { return s.ctx }

func (s *guardedStream) SendMsg(m any) error {
	if err := s.recheck.Due(s.check); err != nil {
		return err
	}
	return s.ServerStream.SendMsg(m)
}

func (s *guardedStream) RecvMsg(m any) error {
	if err := s.recheck.Due(s.check); err != nil {
		return err
	}
	return s.ServerStream.RecvMsg(m)
}

// check applies the Guard again (rpcstatus.Recheck says when): the
// stream goes on only with the session it was admitted with, if any.
func (s *guardedStream) check() error {
	c := newCall(s.ServerStream.Context(), nil, s.method)
	if err := s.guard.g.Recheck(c.request(), s.admitted); err != nil {
		return Status(err).Err()
	}
	return nil
}

// Session returns the session a Guard attached to a call's context.
func Session(ctx context.Context) (*kratosauth.Session, bool) {
	return kratosauth.SessionFromContext(ctx)
}

// Identity returns the identity of the session a Guard attached to a
// call's context.
func Identity(ctx context.Context) (*kratosauth.Identity, bool) {
	return kratosauth.IdentityFromContext(ctx)
}
