package dosim

import "net/http"

// listSizes serves the catalog's sizes, each available in every region.
func (s *Server) listSizes(r *http.Request) (int, any, error) {
	all := make([]wireSize, 0, len(sizes))
	for _, slug := range sizeSlugs() {
		sz, _ := findSize(slug)
		all = append(all, sz)
	}
	page, links, m := paginate(r, all)
	return http.StatusOK, map[string]any{"sizes": page, "links": links, "meta": m}, nil
}
