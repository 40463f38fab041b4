package selfservice_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/html"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/kratosauthtest"
	"github.com/kratosauth/kratosauth/selfservice"
)

// doc is a parsed page.
type doc struct {
	root  *html.Node
	forms []form
	text  string
}

type form struct {
	action, method string
	elems          []elem // inputs and buttons, in order
}

type elem struct {
	tag   string
	attrs map[string]string
}

func (e elem) has(k string) bool { _, ok := e.attrs[k]; return ok }

func parseDoc(t testing.TB, body string) *doc {
	t.Helper()
	root, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	d := &doc{root: root}
	var text strings.Builder
	var cur *form
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		switch {
		case n.Type == html.TextNode:
			text.WriteString(n.Data)
			text.WriteByte(' ')
		case n.Type == html.ElementNode && n.Data == "form":
			d.forms = append(d.forms, form{action: attr(n, "action"), method: attr(n, "method")})
			cur = &d.forms[len(d.forms)-1]
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				walk(c)
			}
			cur = nil
			return
		case n.Type == html.ElementNode && (n.Data == "input" || n.Data == "button") && cur != nil:
			e := elem{tag: n.Data, attrs: map[string]string{}}
			for _, a := range n.Attr {
				e.attrs[a.Key] = a.Val
			}
			cur.elems = append(cur.elems, e)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	d.text = strings.Join(strings.Fields(text.String()), " ")
	return d
}

func attr(n *html.Node, k string) string {
	for _, a := range n.Attr {
		if a.Key == k {
			return a.Val
		}
	}
	return ""
}

// find returns the elements matching pred anywhere in the page.
func (d *doc) find(pred func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && pred(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(d.root)
	return out
}

// labelFor returns the text of the <label for=id>.
func (d *doc) labelFor(id string) (string, bool) {
	ls := d.find(func(n *html.Node) bool { return n.Data == "label" && attr(n, "for") == id })
	if len(ls) == 0 {
		return "", false
	}
	var b strings.Builder
	for c := ls[0].FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	}
	return strings.TrimSpace(b.String()), true
}

// formValues returns what a browser would submit from f when the submit
// button with name/value is clicked, with fill overriding inputs by name.
func (f form) values(button, buttonValue string, fill map[string]string) url.Values {
	v := url.Values{}
	for _, e := range f.elems {
		name := e.attrs["name"]
		if name == "" || e.has("disabled") {
			continue
		}
		switch {
		case e.tag == "button" || e.attrs["type"] == "submit":
			if name == button && e.attrs["value"] == buttonValue {
				v.Add(name, e.attrs["value"])
			}
		case e.attrs["type"] == "checkbox":
			if e.has("checked") {
				v.Add(name, e.attrs["value"])
			}
		default:
			val := e.attrs["value"]
			if f, ok := fill[name]; ok {
				val = f
			}
			v.Add(name, val)
		}
	}
	return v
}

// formWith returns the first form having a submit button name=value.
func (d *doc) formWith(t testing.TB, name, value string) form {
	t.Helper()
	for _, f := range d.forms {
		for _, e := range f.elems {
			if e.tag == "button" && e.attrs["name"] == name && e.attrs["value"] == value {
				return f
			}
		}
	}
	t.Fatalf("no form with button %s=%s in page: %s", name, value, d.text)
	return form{}
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodeFlow(t testing.TB, b []byte) *selfservice.Flow {
	t.Helper()
	var f selfservice.Flow
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return &f
}

// fakeKratos is the test kit's fake Kratos (kratosauthtest), whose
// whoami answers for the sessions it issues, with the self-service
// endpoints answering what the test sets per path (recorded flows).
type fakeKratos struct {
	*kratosauthtest.Server
	mu     sync.Mutex
	routes map[string]fakeResponse // by path
	reqs   []*http.Request
}

type fakeResponse struct {
	status int
	body   []byte
}

func newFakeKratos(t testing.TB) *fakeKratos {
	f := &fakeKratos{Server: kratosauthtest.NewServer(t), routes: map[string]fakeResponse{}}
	f.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.reqs = append(f.reqs, r.Clone(r.Context()))
		resp, ok := f.routes[r.URL.Path]
		f.mu.Unlock()
		_, _ = io.Copy(io.Discard, r.Body)
		if !ok {
			resp = fakeResponse{http.StatusNotFound, []byte(`{"error":{"code":404,"status":"Not Found","message":"Unable to locate the resource"}}`)}
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(resp.status)
		_, _ = w.Write(resp.body)
	}))
	return f
}

func (f *fakeKratos) set(path string, status int, body []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes[path] = fakeResponse{status, body}
}

func (f *fakeKratos) lastRequest() *http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		return nil
	}
	return f.reqs[len(f.reqs)-1]
}

func (f *fakeKratos) requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.reqs)
}

const (
	testAppURL     = "https://app.example.com"
	testBrowserURL = "https://auth.example.com"
)

// newTestUI returns a Handler for fake Kratos k, with app URL testAppURL and
// browser URL testBrowserURL.
func newTestUI(t testing.TB, publicURL string, opts ...selfservice.Option) (*selfservice.Handler, *kratosauth.Authenticator) {
	t.Helper()
	auth, err := kratosauth.New(publicURL,
		kratosauth.WithAppURL(testAppURL),
		kratosauth.WithBrowserURL(testBrowserURL),
		kratosauth.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = auth.Close() })
	ui, err := selfservice.New(auth, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return ui, auth
}

// serve runs one request through h.
func serve(h http.Handler, method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	req.Header.Set("Accept", "text/html")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

type htmlNode = html.Node

func attrOf(n *html.Node, k string) string { return attr(n, k) }

func newJar(t testing.TB) http.CookieJar {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return jar
}
