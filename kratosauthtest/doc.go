// Package kratosauthtest helps apps test handlers protected by kratosauth,
// as net/http/httptest helps test HTTP handlers: with real behaviour and a
// tiny API, and no Kratos to run.
//
// NewServer starts a fake Kratos public API on loopback whose
// GET /sessions/whoami answers like Kratos v1.3.1, with its recorded status
// codes, headers and bodies, or like v25.4.0 or v26.2.0
// (WithKratosVersion). Server.Login signs a user in and returns a
// session token and cookie; Revoke, DisableIdentity, Extend and Fail change
// what whoami answers next; Calls counts whoami requests.
//
//	kratos := kratosauthtest.NewServer(t)
//	auth, _ := kratosauth.New(kratos.URL)
//	alice := kratos.Login(kratosauthtest.WithTraits(map[string]string{"email": "alice@example.com"}))
//	req.Header.Set("X-Session-Token", alice.Token) // or req.AddCookie(alice.Cookie)
//
// To test a handler alone, NewRequest puts a session built by NewSession in
// a request's context, as the middlewares would.
//
// NewKeto starts a fake Ory Keto read API for routes protected with
// RequirePermission and a keto.Client: Grant and Revoke tuples, Fail it.
package kratosauthtest
