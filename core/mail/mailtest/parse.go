package mailtest

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"strings"
)

// maxDepth bounds the nesting of multipart bodies that parseMessage follows.
const maxDepth = 5

// parseMessage fills a Received's Data, Header, Subject, Text and HTML from
// raw message data. What cannot be parsed is left empty, except that a
// message whose header cannot be read gets its raw data as Text so tests
// can still search it.
func parseMessage(data []byte) Received {
	r := Received{Data: data}
	msg, err := netmail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		r.Text = normaliseNewlines(string(data))
		return r
	}
	r.Header = msg.Header
	subject := msg.Header.Get("Subject")
	if dec, err := new(mime.WordDecoder).DecodeHeader(subject); err == nil {
		subject = dec
	}
	r.Subject = subject
	var found parts
	found.walk(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), "", msg.Body, 0)
	r.Text = normaliseNewlines(found.text)
	r.HTML = normaliseNewlines(found.html)
	return r
}

// parts collects the first text/plain and text/html parts of a body.
type parts struct {
	text, html         string
	haveText, haveHTML bool
}

// walk reads one entity with the given Content-Type, Content-Transfer-Encoding
// and Content-Disposition, descending into multipart bodies.
func (p *parts) walk(contentType, transferEncoding, disposition string, body io.Reader, depth int) {
	mediaType, params := "text/plain", map[string]string(nil)
	if contentType != "" {
		mt, ps, err := mime.ParseMediaType(contentType)
		if err != nil {
			return
		}
		mediaType, params = mt, ps
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		if depth >= maxDepth || params["boundary"] == "" {
			return
		}
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextRawPart()
			if err != nil {
				return
			}
			p.walk(part.Header.Get("Content-Type"), part.Header.Get("Content-Transfer-Encoding"),
				part.Header.Get("Content-Disposition"), part, depth+1)
		}
	}
	if disp, _, _ := mime.ParseMediaType(disposition); disp == "attachment" {
		return
	}
	switch {
	case mediaType == "text/plain" && !p.haveText:
		if b, err := io.ReadAll(decode(transferEncoding, body)); err == nil {
			p.text, p.haveText = string(b), true
		}
	case mediaType == "text/html" && !p.haveHTML:
		if b, err := io.ReadAll(decode(transferEncoding, body)); err == nil {
			p.html, p.haveHTML = string(b), true
		}
	}
}

// decode removes a Content-Transfer-Encoding.
func decode(transferEncoding string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(transferEncoding)) {
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, r) // skips CR and LF
	default: // 7bit, 8bit, binary
		return r
	}
}

func normaliseNewlines(s string) string {
	return strings.ReplaceAll(s, "\r\n", "\n")
}
