package dosim

import (
	"net/http"
	"strconv"

	"github.com/digitalocean/godo"
)

// Page sizes as DigitalOcean documents them.
const (
	defaultPerPage = 20
	maxPerPage     = 200
)

type meta struct {
	Total int `json:"total"`
}

// paginate cuts items to the page the request asks for and builds
// links.pages like DigitalOcean: absolute URLs, first/prev only after the
// first page, next/last only before the last one.
func paginate[T any](r *http.Request, items []T) ([]T, godo.Links, meta) {
	q := r.URL.Query()
	page, err := strconv.Atoi(q.Get("page"))
	if err != nil || page < 1 {
		page = 1
	}
	per, err := strconv.Atoi(q.Get("per_page"))
	if err != nil || per < 1 {
		per = defaultPerPage
	}
	per = min(per, maxPerPage)
	last := max((len(items)+per-1)/per, 1)
	lo := min((page-1)*per, len(items))
	hi := min(lo+per, len(items))
	out := append(make([]T, 0, hi-lo), items[lo:hi]...)

	link := func(p int) string {
		v := r.URL.Query()
		v.Set("page", strconv.Itoa(p))
		v.Set("per_page", strconv.Itoa(per))
		return "http://" + r.Host + r.URL.Path + "?" + v.Encode()
	}
	var links godo.Links
	if page > 1 || page < last {
		links.Pages = &godo.Pages{}
	}
	if page > 1 {
		links.Pages.First = link(1)
		links.Pages.Prev = link(min(page-1, last))
	}
	if page < last {
		links.Pages.Next = link(page + 1)
		links.Pages.Last = link(last)
	}
	return out, links, meta{Total: len(items)}
}
