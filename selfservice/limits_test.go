package selfservice_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/selfservice"
)

// TestFormsAreBounded: the fields of a flow's forms are counted exactly
// (each form repeats the default nodes), and a flow past a limit (nodes,
// groups, fields over all forms) is refused with ErrFlowTooLarge instead
// of being built, whatever its shape.
func TestFormsAreBounded(t *testing.T) {
	for _, s := range []struct{ defaults, groups, perGroup int }{
		{1, 0, 0},
		{3, 4, 5},
		{4, 60, 60},                       // the benchmark's large flow
		{1, selfservice.MaxGroups, 0},     // as many groups as allowed
		{1, selfservice.MaxGroups + 1, 0}, // one group too many
		{1, 1, selfservice.MaxNodes - 2},  // as many nodes as allowed
		{1, 1, selfservice.MaxNodes - 1},  // one node too many
		{127, selfservice.MaxGroups, 0},   // MaxFields fields exactly
		{128, selfservice.MaxGroups, 0},   // 64 fields too many
		{930, 930, 0},                     // a review's flow: 232 KB, 40 MB page
		{2000, 40, 0},                     // few groups, many shared nodes
		{selfservice.MaxNodes + 1, 0, 0},  // only default nodes
		{100, 100, 20},
	} {
		name := fmt.Sprintf("%d defaults, %d groups of %d", s.defaults, s.groups, s.perGroup)
		f := decodeFlow(t, syntheticFlow(s.defaults, s.groups, s.perGroup))
		nodes := s.defaults + s.groups*(s.perGroup+1)
		require.Len(t, f.UI.Nodes, nodes, name)
		forms := max(s.groups, 1)
		fields := s.groups*(s.perGroup+1) + forms*s.defaults
		fits := nodes <= selfservice.MaxNodes && s.groups <= selfservice.MaxGroups && fields <= selfservice.MaxFields

		got, err := f.Forms()
		if !fits {
			assert.ErrorIs(t, err, selfservice.ErrFlowTooLarge, name)
			assert.Zero(t, len(got), name)
			continue
		}
		require.NoError(t, err, name)
		require.Len(t, got, forms, name)
		n := 0
		for _, form := range got {
			n += len(form.Fields)
		}
		assert.Equal(t, fields, n, name)
	}
}

// TestTooLargeFlowIsAnErrorPage: the many-groups flow a review found (232 KB
// of JSON that made a 40 MB page) is a small error page, which shows none
// of the flow.
func TestTooLargeFlowIsAnErrorPage(t *testing.T) {
	body := syntheticFlow(930, 930, 0)
	k := newFakeKratos(t)
	k.set("/self-service/login/flows", http.StatusOK, body)
	ui, _ := newTestUI(t, k.URL)
	rec := serve(ui, http.MethodGet, "/login?flow="+syntheticFlowID, nil)
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.Less(t, rec.Body.Len(), 16<<10, "error page size")
	// Not assert.Contains: a failure would print the whole page.
	body = rec.Body.Bytes()
	assert.True(t, bytes.Contains(body, []byte("This page cannot be shown")), "not the too-large page")
	for _, leak := range []string{"csrf_token", `name="d1"`, "g929", "nodes", "limit"} {
		assert.False(t, bytes.Contains(body, []byte(leak)), "page shows %q", leak)
	}
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
}

// TestPageSizeLimit: a flow within the count limits whose texts would
// make a page larger than MaxPageBytes is an error page too.
func TestPageSizeLimit(t *testing.T) {
	f := decodeFlow(t, syntheticFlow(1, 40, 0))
	label := strings.Repeat("x", 128<<10) // repeated in each of the 40 forms
	f.UI.Nodes = append(f.UI.Nodes, selfservice.Node{Type: "input", Group: "default",
		Attributes: selfservice.Attributes{Name: "traits.big", Type: "text", NodeType: "input"},
		Meta:       selfservice.Meta{Label: &selfservice.Text{Text: label}}})
	body, err := json.Marshal(f)
	require.NoError(t, err)
	require.Less(t, len(body), kratosauth.DefaultMaxResponseBytes)

	k := newFakeKratos(t)
	k.set("/self-service/login/flows", http.StatusOK, body)
	ui, _ := newTestUI(t, k.URL)
	rec := serve(ui, http.MethodGet, "/login?flow="+syntheticFlowID, nil)
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.Less(t, rec.Body.Len(), 16<<10, "error page size")
	assert.True(t, bytes.Contains(rec.Body.Bytes(), []byte("This page cannot be shown")), "not the too-large page")
	assert.False(t, bytes.Contains(rec.Body.Bytes(), []byte("xxxxxxxx")), "page shows the label")

	// Below the limit the same flow renders.
	f.UI.Nodes[len(f.UI.Nodes)-1].Meta.Label.Text = label[:selfservice.MaxPageBytes/40/2]
	body, err = json.Marshal(f)
	require.NoError(t, err)
	k.set("/self-service/login/flows", http.StatusOK, body)
	rec = serve(ui, http.MethodGet, "/login?flow="+syntheticFlowID, nil)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Greater(t, rec.Body.Len(), selfservice.MaxPageBytes/4)
}

// TestFormsKeepKratosOrder: each form has its group's nodes and the
// default nodes in the flow's order, wherever the default nodes are; a
// redirecting method's form (oidc) gets only the hidden default nodes; a
// group of scripts only gets no form.
func TestFormsKeepKratosOrder(t *testing.T) {
	in := func(group, name, typ string) selfservice.Node {
		return selfservice.Node{Type: "input", Group: group, Attributes: selfservice.Attributes{Name: name, Type: typ, NodeType: "input"}}
	}
	f := &selfservice.Flow{UI: selfservice.Container{Action: "https://auth.example.com/a", Method: "POST", Nodes: []selfservice.Node{
		in("default", "csrf_token", "hidden"),
		in("password", "password", "password"),
		in("default", "identifier", "text"),
		in("oidc", "provider", "submit"),
		{Type: "script", Group: "webauthn", Attributes: selfservice.Attributes{ID: "s", NodeType: "script"}},
		in("password", "method", "submit"),
		in("default", "traits.email", "hidden"),
	}}}
	forms, err := f.Forms()
	require.NoError(t, err)
	names := func(form selfservice.Form) string {
		var out []string
		for _, fd := range form.Fields {
			out = append(out, fd.Attributes.Name)
		}
		return form.Group + ": " + strings.Join(out, ",")
	}
	var got []string
	for _, form := range forms {
		got = append(got, names(form))
		assert.Equal(t, "https://auth.example.com/a", form.Action)
	}
	assert.Equal(t, []string{
		"password: csrf_token,password,identifier,method,traits.email",
		"oidc: csrf_token,provider,traits.email",
	}, got, "a group of scripts only gets no form")

	only := &selfservice.Flow{UI: selfservice.Container{Nodes: []selfservice.Node{in("default", "csrf_token", "hidden"), in("default", "email", "email")}}}
	forms, err = only.Forms()
	require.NoError(t, err)
	require.Len(t, forms, 1)
	assert.Equal(t, "default: csrf_token,email", names(forms[0]))
	assert.False(t, errors.Is(err, selfservice.ErrFlowTooLarge))
}
