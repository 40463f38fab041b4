package kratosconnect_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kratosauth/kratosauth"
	kratosconnect "github.com/kratosauth/kratosauth/adapters/connect"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

// A Connect handler that needs a session, called as a browser would: over
// HTTP/1.1 with the Kratos session cookie. Generated handlers take the
// interceptor the same way (connect.WithInterceptors).
func Example() {
	t := &testing.T{} // in a test: the test's t
	kratos := kratosauthtest.NewServer(t)
	defer kratos.Close()

	auth, _ := kratosauth.New(kratos.URL) // e.g. http://127.0.0.1:4433
	defer auth.Close()
	guard, _ := kratosconnect.New(auth.RequireSession())
	const procedure = "/greet.v1.GreetService/Greet"
	mux := http.NewServeMux()
	mux.Handle(procedure, connect.NewUnaryHandler(procedure,
		func(ctx context.Context, req *connect.Request[wrapperspb.StringValue]) (*connect.Response[wrapperspb.StringValue], error) {
			id, _ := kratosconnect.Identity(ctx) // always there behind the guard
			return connect.NewResponse(wrapperspb.String(fmt.Sprint("hello, signed in: ", id.ID != ""))), nil
		}, connect.WithInterceptors(guard)))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	client := connect.NewClient[wrapperspb.StringValue, wrapperspb.StringValue](srv.Client(), srv.URL+procedure)
	ada := kratos.Login()
	req := connect.NewRequest(wrapperspb.String(""))
	req.Header().Set("Cookie", ada.Cookie.Name+"="+ada.Cookie.Value)
	res, err := client.CallUnary(context.Background(), req)
	fmt.Println(res.Msg.GetValue(), err)
	_, err = client.CallUnary(context.Background(), connect.NewRequest(wrapperspb.String("")))
	fmt.Println(connect.CodeOf(err))
	// Output:
	// hello, signed in: true <nil>
	// unauthenticated
}
