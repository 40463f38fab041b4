// Rendering a page: its title, translation and size cap.

package selfservice

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
)

func (h *Handler) page(title string, status int, returnTo string) *Page {
	suffix := ""
	if rt, ok := h.client.SafeReturnTo(returnTo); ok {
		suffix = "?return_to=" + url.QueryEscape(rt)
	}
	return &Page{
		SiteName: h.cfg.siteName,
		Title:    title,
		Status:   status,
		Style:    defaultStyle,
		URLs: URLs{
			Home:         h.home,
			Login:        h.URL(string(Login)) + suffix,
			Registration: h.URL(string(Registration)) + suffix,
			Settings:     h.URL(string(Settings)),
			Verification: h.URL(string(Verification)),
			Recovery:     h.URL(string(Recovery)),
			Logout:       h.URL(LogoutPage),
		},
	}
}

// render executes the "page" template into a buffer, so that a template
// error becomes a plain 500 rather than half a page, and a page past
// maxPageBytes the "too large" error page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, p *Page) {
	p.Nonce = newNonce()
	h.translate(r, p)
	h.setPageHeaders(w, p.Nonce, len(p.Scripts) > 0)
	buf := cappedBuffer{max: maxPageBytes}
	err := h.cfg.tmpl.ExecuteTemplate(&buf, "page", p)
	if errors.Is(err, errPageTooLarge) && p.Error == nil {
		h.logger().LogAttrs(r.Context(), slog.LevelError, "selfservice: page not rendered",
			slog.String("path", r.URL.Path), slog.String("error", err.Error()))
		status = http.StatusInternalServerError
		nonce, pe := p.Nonce, tooLargeError // a copy: templates get no pointer to the shared text
		h.setPageHeaders(w, nonce, false)   // the error page runs no script
		p = h.page(pe.Title, status, "")
		p.Error, p.Nonce = &pe, nonce
		h.translate(r, p)
		buf.buf.Reset()
		err = h.cfg.tmpl.ExecuteTemplate(&buf, "page", p)
	}
	if err != nil {
		h.logger().LogAttrs(r.Context(), slog.LevelError, "selfservice: template failed", slog.String("error", err.Error()))
		h.setSecurityHeaders(w, "") // no page: no style either
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.buf.Bytes())
}

// translate puts the page in the request's language (WithLanguage, or
// the best match of its Accept-Language): its title, error, the flow's
// Kratos messages and labels, and the settings sections' headings.
func (h *Handler) translate(r *http.Request, p *Page) {
	lang := h.cfg.language
	if lang == "" {
		lang = negotiate(r.Header.Get("Accept-Language"), h.catalogs)
	}
	p.Lang = lang
	p.tr = translator{lang: lang, cat: h.catalogs[lang], en: h.catalogs["en"]}
	if p.titleKey != "" {
		p.Title = p.tr.ui(p.titleKey)
	}
	if e := p.Error; e != nil && e.key != "" {
		e.Title = p.tr.ui("error." + e.key + ".title")
		if !e.kratosMessage {
			e.Message = p.tr.ui("error." + e.key + ".message")
		}
		p.Title = e.Title
	}
	if p.Flow != nil {
		p.tr.translateFlow(p.Flow)
	}
	for i := range p.Forms {
		if _, ok := groupTitles[p.Forms[i].Group]; ok {
			p.Forms[i].Heading = p.tr.ui("group." + p.Forms[i].Group)
		}
	}
}

// errPageTooLarge stops a template whose page passes maxPageBytes.
var errPageTooLarge = errors.New("selfservice: page larger than the limit")

// cappedBuffer collects a page and refuses to grow past max bytes. It has
// only Write (no embedded bytes.Buffer), so no other method can bypass the
// cap.
type cappedBuffer struct {
	buf bytes.Buffer
	max int
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if b.buf.Len()+len(p) > b.max {
		return 0, errPageTooLarge
	}
	return b.buf.Write(p)
}
