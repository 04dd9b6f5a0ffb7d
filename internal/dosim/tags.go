package dosim

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Tags: an account's tags, and droplets and volumes tagged through /v2/tags/{tag}/resources
// or at create. A droplet keeps its own tag list (the order it was tagged
// in); a tag records only which droplet was tagged last.
type tag struct {
	name       string
	lastTagged int // droplet id, 0 if none yet
}

type wireTagStats struct {
	Count         int    `json:"count"`
	LastTaggedURI string `json:"last_tagged_uri,omitempty"`
}

type wireTagResources struct {
	wireTagStats
	Droplets wireTagStats `json:"droplets"`
}

type wireTag struct {
	Name      string           `json:"name"`
	Resources wireTagResources `json:"resources"`
}

// tagLocked renders a tag with the counts of the droplets that carry it;
// the caller holds s.mu.
func (s *Server) tagLocked(r *http.Request, t *tag) wireTag {
	var st wireTagStats
	for _, d := range s.droplets {
		if slices.Contains(d.tags, t.name) {
			st.Count++
		}
	}
	if _, ok := s.droplets[t.lastTagged]; ok && st.Count > 0 {
		st.LastTaggedURI = s.baseURL(r) + "/v2/droplets/" + strconv.Itoa(t.lastTagged)
	}
	return wireTag{Name: t.name, Resources: wireTagResources{wireTagStats: st, Droplets: st}}
}

// ensureTagLocked creates a tag unless it exists: creating a tag that
// exists answers the existing one, as DigitalOcean does.
func (s *Server) ensureTagLocked(name string) (*tag, error) {
	if !tagName.MatchString(name) {
		return nil, unprocessable("Tag %q is invalid: use letters, digits, ':', '-' and '_', at most 255", name)
	}
	t, ok := s.tags[name]
	if !ok {
		t = &tag{name: name}
		s.tags[name] = t
	}
	return t, nil
}

func (s *Server) listTags(r *http.Request) (int, any, error) {
	s.mu.Lock()
	names := make([]string, 0, len(s.tags))
	for n := range s.tags {
		names = append(names, n)
	}
	slices.Sort(names)
	all := make([]wireTag, 0, len(names))
	for _, n := range names {
		all = append(all, s.tagLocked(r, s.tags[n]))
	}
	s.mu.Unlock()
	page, links, m := paginate(r, all)
	return http.StatusOK, map[string]any{"tags": page, "links": links, "meta": m}, nil
}

func (s *Server) createTag(r *http.Request) (int, any, error) {
	var req struct {
		Name string `json:"name"`
	}
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.ensureTagLocked(req.Name)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, map[string]any{"tag": s.tagLocked(r, t)}, nil
}

func (s *Server) pathTagLocked(r *http.Request) (*tag, error) {
	t, ok := s.tags[r.PathValue("tag")]
	if !ok {
		return nil, notFound()
	}
	return t, nil
}

func (s *Server) getTag(r *http.Request) (int, any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.pathTagLocked(r)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"tag": s.tagLocked(r, t)}, nil
}

// deleteTag deletes a tag and untags every droplet that carried it.
func (s *Server) deleteTag(r *http.Request) (int, any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.pathTagLocked(r)
	if err != nil {
		return 0, nil, err
	}
	for _, d := range s.droplets {
		d.tags = slices.DeleteFunc(d.tags, func(n string) bool { return n == t.name })
	}
	for _, v := range s.volumes {
		v.tags = slices.DeleteFunc(v.tags, func(n string) bool { return n == t.name })
	}
	delete(s.tags, t.name)
	return http.StatusNoContent, nil, nil
}

// tagResources serves POST (tag) and DELETE (untag) on /v2/tags/{tag}/resources.
func (s *Server) tagResources(r *http.Request) (int, any, error) {
	var req struct {
		Resources []struct {
			ID   string `json:"resource_id"`
			Type string `json:"resource_type"`
		} `json:"resources"`
	}
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.pathTagLocked(r)
	if err != nil {
		return 0, nil, err
	}
	// Check every resource before changing any: the request is all or nothing.
	var ds []*droplet
	var vs []*volume
	for _, res := range req.Resources {
		if res.Type == "volume" {
			v, ok := s.volumes[res.ID]
			if !ok {
				return 0, nil, unprocessable("resource_id %q: no such volume", res.ID)
			}
			vs = append(vs, v)
			continue
		}
		if res.Type != "droplet" {
			return 0, nil, unprocessable("Tagging resources of type %q is not simulated (droplet, volume)", res.Type)
		}
		id, err := strconv.Atoi(strings.TrimSpace(res.ID))
		d, ok := s.droplets[id]
		if err != nil || !ok {
			return 0, nil, unprocessable("resource_id %q: no such droplet", res.ID)
		}
		ds = append(ds, d)
	}
	for _, v := range vs {
		v.tags = slices.DeleteFunc(v.tags, func(n string) bool { return n == t.name })
		if r.Method != http.MethodDelete {
			v.tags = append(v.tags, t.name)
		}
	}
	for _, d := range ds {
		if r.Method == http.MethodDelete {
			d.tags = slices.DeleteFunc(d.tags, func(n string) bool { return n == t.name })
			continue
		}
		if !slices.Contains(d.tags, t.name) {
			d.tags = append(d.tags, t.name)
		}
		t.lastTagged = d.id
	}
	return http.StatusNoContent, nil, nil
}
