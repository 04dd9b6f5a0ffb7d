// Package static serves a directory the way nginx's
// `try_files $uri $uri/ =404` with `index index.html` does, without directory
// listings and without any way out of the directory.
package static

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
)

// Handler serves files below root. Containment is enforced by os.Root, which
// also refuses symlinks that lead outside root. The root is opened per
// request so that a site deployed by renaming a new directory into place is
// picked up without a reload.
func Handler(root string) http.Handler {
	return handler(root)
}

type handler string

func (h handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name, dirRequested, err := resolve(r.URL.Path)
	if err != nil {
		http.Error(w, "400 bad request", http.StatusBadRequest)
		return
	}
	root, err := os.OpenRoot(string(h))
	if err != nil {
		http.Error(w, "500 static site directory unavailable", http.StatusInternalServerError)
		return
	}
	defer func() { _ = root.Close() }()

	f, st, err := open(root, name)
	if err != nil {
		fail(w, err)
		return
	}
	defer func() { _ = f.Close() }()

	if st.IsDir() {
		if !dirRequested {
			// $uri/ matched: send the browser to the slash form so relative
			// links resolve. The Location is relative ("./dir/") so it also
			// holds when the site is mounted below a prefix.
			loc := "./" + (&url.URL{Path: path.Base(name)}).EscapedPath() + "/"
			if r.URL.RawQuery != "" {
				loc += "?" + r.URL.RawQuery
			}
			w.Header().Set("Location", loc)
			w.WriteHeader(http.StatusMovedPermanently)
			return
		}
		_ = f.Close()
		if f, st, err = open(root, path.Join(name, "index.html")); err != nil {
			fail(w, err)
			return
		}
		if st.IsDir() {
			fail(w, fs.ErrNotExist)
			return
		}
		name = path.Join(name, "index.html")
	} else if dirRequested {
		// "/file/" is not "/file" (nginx answers 404 too).
		fail(w, fs.ErrNotExist)
		return
	}
	if !st.Mode().IsRegular() {
		fail(w, fs.ErrNotExist)
		return
	}
	// nginx's ETag shape: hex mtime and size.
	w.Header().Set("ETag", fmt.Sprintf(`"%x-%x"`, st.ModTime().Unix(), st.Size()))
	http.ServeContent(w, r, name, st.ModTime(), f)
}

// resolve turns a URL path into a name relative to the root ("." for the
// root itself) and reports whether the path ended in '/'. It rejects what no
// browser sends for a real file: NUL, backslashes and ".." segments.
func resolve(urlPath string) (name string, dirRequested bool, err error) {
	if strings.ContainsAny(urlPath, "\x00\\") {
		return "", false, errors.New("NUL or backslash in path")
	}
	for seg := range strings.SplitSeq(urlPath, "/") {
		if seg == ".." {
			return "", false, errors.New("'..' segment in path")
		}
	}
	dirRequested = urlPath == "" || strings.HasSuffix(urlPath, "/")
	name = strings.TrimPrefix(path.Clean("/"+urlPath), "/")
	if name == "" {
		name = "."
	}
	return name, dirRequested, nil
}

func open(root *os.Root, name string) (*os.File, fs.FileInfo, error) {
	f, err := root.Open(name)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, nil, err
	}
	return f, st, nil
}

// fail maps file errors to statuses. Everything but a permission problem
// (missing file, an escaping symlink, a path through a regular file, a
// special file) is a plain 404: the client learns nothing about what lies
// outside the site.
func fail(w http.ResponseWriter, err error) {
	if errors.Is(err, fs.ErrPermission) {
		http.Error(w, "403 forbidden", http.StatusForbidden)
		return
	}
	http.Error(w, "404 page not found", http.StatusNotFound)
}
