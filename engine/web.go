package engine

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/panjf2000/gnet/v2"

	"github.com/vncrelay/vncrelay/wsframe"
)

// Refusals of static file requests.
var (
	errWebMethod   = &wsframe.HTTPError{Status: http.StatusMethodNotAllowed, Reason: "method not allowed", Header: "Allow: GET, HEAD"}
	errWebPath     = &wsframe.HTTPError{Status: http.StatusBadRequest, Reason: "bad path"}
	errWebNotFound = &wsframe.HTTPError{Status: http.StatusNotFound, Reason: "not found"}
	errWebDenied   = &wsframe.HTTPError{Status: http.StatusForbidden, Reason: "forbidden"}
	errWebTooLarge = &wsframe.HTTPError{Status: http.StatusInternalServerError, Reason: "file too large to serve"}
)

// web answers a plain HTTP request: a static file from WebDir, or 405 when
// there is no WebDir. Files are read on a worker, never on the loop.
func (s *session) web(req *wsframe.Request) gnet.Action {
	root := s.op.pol.webDir
	if root == "" {
		return s.refuse(errNoWeb, ReasonRefused)
	}
	head := bytes.Equal(req.Method, []byte(http.MethodHead))
	if !head && !bytes.Equal(req.Method, []byte(http.MethodGet)) {
		return s.refuse(errWebMethod, ReasonRefused)
	}
	clean, dir, err := cleanWebPath(req.Path)
	if err != nil {
		return s.refuse(err, ReasonRefused)
	}
	return s.startJob(func() { s.serveFile(root, clean, dir, head) })
}

// cleanWebPath decodes and cleans a request path. It refuses what could lead
// outside the web root or to another host: a path that does not start with
// exactly one '/', or that starts with "//" or "/\" before or after decoding
// (the CVE-2021-3654 class: such a path in a redirect's Location is read by
// browsers as another host), backslashes, and control characters (header
// injection through a redirect). dir reports a trailing '/'.
func cleanWebPath(raw []byte) (clean string, dir bool, err error) {
	if len(raw) == 0 || raw[0] != '/' || bytes.HasPrefix(raw, []byte("//")) || bytes.HasPrefix(raw, []byte(`/\`)) {
		return "", false, errWebPath
	}
	p, perr := url.PathUnescape(string(raw))
	if perr != nil || strings.HasPrefix(p, "//") || strings.ContainsRune(p, '\\') {
		return "", false, errWebPath
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] == 0x7f {
			return "", false, errWebPath
		}
	}
	return path.Clean(p), strings.HasSuffix(p, "/"), nil
}

// serveFile runs on a worker: it reads the file and hands the response to the
// loop. A directory is served through its index.html, never listed; a
// directory asked for without its trailing '/' is redirected to it, with a
// Location that is a cleaned local path.
func (s *session) serveFile(root, clean string, dir, head bool) {
	full := filepath.Join(root, filepath.FromSlash(clean))
	st, err := os.Stat(full)
	if err == nil && st.IsDir() {
		if !dir && clean != "/" {
			s.webReply(httpResponse(http.StatusMovedPermanently, "Location: "+clean+"/", "text/plain; charset=utf-8", []byte("moved\n")))
			return
		}
		full = filepath.Join(full, "index.html")
		st, err = os.Stat(full)
	}
	switch {
	case errors.Is(err, fs.ErrNotExist) || (err == nil && !st.Mode().IsRegular()):
		s.report(errWebNotFound, nil)
		return
	case err != nil:
		s.report(errWebDenied, nil)
		return
	case st.Size() > s.srv.cfg.MaxWebFileSize:
		s.report(errWebTooLarge, nil)
		return
	}
	data, err := os.ReadFile(full)
	if err != nil {
		s.report(errWebDenied, nil)
		return
	}
	ctype := mime.TypeByExtension(filepath.Ext(full))
	if ctype == "" {
		ctype = http.DetectContentType(data)
	}
	resp := httpResponse(http.StatusOK, "", ctype, data)
	if head {
		resp = resp[:len(resp)-len(data)]
	}
	s.webReply(resp)
}

// webReply hands a static response to the loop.
func (s *session) webReply(resp []byte) {
	_ = s.browser.EventLoop().Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		if s.state != stateConnecting {
			return nil
		}
		s.setReason(ReasonWeb)
		_, _ = s.bw.Write(resp)
		s.apply(s.endAfterFlush())
		return nil
	}))
}

// apply carries out an action returned for the browser socket when the caller
// is not a gnet callback of that socket.
func (s *session) apply(act gnet.Action) {
	if act == gnet.Close && s.state != stateClosed {
		s.closeBrowser()
	}
}
