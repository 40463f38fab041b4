package kratosconnect

import (
	"fmt"
	"net/http"

	"github.com/kratosauth/kratosauth"
)

// messageKey is the context key of a unary call's request message.
type messageKey struct{}

// Message names a permission's object from a unary call's request message
// of type T (the generated message's pointer type), for
// kratosauth.Authenticator.RequirePermission:
//
//	auth.RequirePermission("Doc", "view", kratosconnect.Message(func(r *docv1.GetRequest) string { return r.GetId() }))
//
// A call whose message is not a T, a stream, or an empty object is refused
// with permission_denied.
func Message[T any](object func(T) string) kratosauth.ObjectFunc {
	if object == nil {
		panic("kratosconnect: Message: nil function")
	}
	return func(r *http.Request) (string, error) {
		m, ok := r.Context().Value(messageKey{}).(T)
		if !ok {
			return "", fmt.Errorf("kratosconnect: the call has no request message of type %T", m)
		}
		return object(m), nil
	}
}
