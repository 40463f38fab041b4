package kratosgrpc

import (
	"fmt"
	"net/http"

	"google.golang.org/grpc/metadata"

	"github.com/kratosauth/kratosauth"
)

// messageKey is the context key of a unary call's request message, for
// Message.
type messageKey struct{}

// Message names a permission's object from a unary call's request message
// of type T, for kratosauth.Authenticator.RequirePermission:
//
//	auth.RequirePermission("Doc", "view", kratosgrpc.Message(func(r *docpb.GetRequest) string { return r.GetId() }))
//
// A call whose message is not a T, a stream (which has no message when it
// is admitted) or an empty object is refused with PermissionDenied.
func Message[T any](object func(T) string) kratosauth.ObjectFunc {
	if object == nil {
		panic("kratosgrpc: Message: nil function")
	}
	return func(r *http.Request) (string, error) {
		m, ok := r.Context().Value(messageKey{}).(T)
		if !ok {
			return "", fmt.Errorf("kratosgrpc: the call has no request message of type %T", m)
		}
		return object(m), nil
	}
}

// Metadata names a permission's object by the first value of the call's
// metadata key (lower case, as gRPC sends it), for unary calls and streams.
// A call without it is refused with PermissionDenied.
func Metadata(key string) kratosauth.ObjectFunc {
	if key == "" {
		panic("kratosgrpc: Metadata: empty key")
	}
	return func(r *http.Request) (string, error) {
		if v := metadata.ValueFromIncomingContext(r.Context(), key); len(v) > 0 && v[0] != "" {
			return v[0], nil
		}
		return "", fmt.Errorf("kratosgrpc: no metadata %q", key)
	}
}
