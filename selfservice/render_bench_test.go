package selfservice_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const syntheticFlowID = "0b2d4b0e-6c39-4c57-9a7e-8d0f0a0c0b0a"

// syntheticFlow returns a login flow (JSON) with `defaults` hidden inputs
// in the "default" group and `groups` further groups of perGroup text
// inputs plus a submit button each.
func syntheticFlow(defaults, groups, perGroup int) []byte {
	var b strings.Builder
	b.WriteString(`{"id":"` + syntheticFlowID + `","type":"browser","ui":{"action":"https://auth.example.com/self-service/login?flow=` + syntheticFlowID + `","method":"POST","nodes":[`)
	b.WriteString(`{"type":"input","group":"default","attributes":{"name":"csrf_token","type":"hidden","value":"tok","node_type":"input"},"meta":{}}`)
	for i := 1; i < defaults; i++ {
		fmt.Fprintf(&b, `,{"type":"input","group":"default","attributes":{"name":"d%d","type":"hidden","value":"v%d","node_type":"input"},"meta":{}}`, i, i)
	}
	for g := 0; g < groups; g++ {
		for i := 0; i < perGroup; i++ {
			fmt.Fprintf(&b, `,{"type":"input","group":"g%d","attributes":{"name":"f%d","type":"text","node_type":"input"},"meta":{"label":{"id":1,"text":"Field %d","type":"info"}}}`, g, i, i)
		}
		fmt.Fprintf(&b, `,{"type":"input","group":"g%d","attributes":{"name":"method","type":"submit","value":"g%d","node_type":"input"},"meta":{}}`, g, g)
	}
	b.WriteString(`]}}`)
	return []byte(b.String())
}

// BenchmarkRenderLargeFlow renders, through the handler and a fake Kratos,
// a large flow within the limits ("within-limits": 60 methods of 60 fields)
// and the shape a review found ("many-groups": 930 one-button methods and
// 930 shared nodes, 232 KB of JSON). Run with -benchmem.
func BenchmarkRenderLargeFlow(b *testing.B) {
	for _, bc := range []struct {
		name                       string
		defaults, groups, perGroup int
	}{
		{"within-limits", 4, 60, 60},
		{"many-groups", 930, 930, 0},
	} {
		b.Run(bc.name, func(b *testing.B) {
			body := syntheticFlow(bc.defaults, bc.groups, bc.perGroup)
			k := newFakeKratos(b)
			k.set("/self-service/login/flows", http.StatusOK, body)
			ui, _ := newTestUI(b, k.URL)
			b.ReportAllocs()
			b.ResetTimer()
			var size int
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, "/login?flow="+syntheticFlowID, nil)
				rec := httptest.NewRecorder()
				ui.ServeHTTP(rec, req)
				size = rec.Body.Len()
			}
			b.ReportMetric(float64(len(body)), "flow-bytes")
			b.ReportMetric(float64(size), "page-bytes")
		})
	}
}
