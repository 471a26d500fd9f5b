package board

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/muster-ops/muster/commands"
	"github.com/muster-ops/muster/store"
)

// maxForm bounds a board POST's body.
const maxForm = 8 << 10

var signInPage = template.Must(template.New("signin").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>muster board: sign in</title></head>
<body>
<h1>muster board</h1>
{{if .Problem}}<p><strong>{{.Problem}}</strong></p>{{end}}
{{if .Link}}<form method="post" action="/board/login">
<input type="hidden" name="t" value="{{.Link}}">
<p>This link opens the board once, for you, on this browser.</p>
<button type="submit" id="open">Open the board</button>
</form>{{else}}
<p>To see the board, type <code>/muster board</code> in Slack, Discord or the muster console.
muster answers with a link only you can see; it works once, within 10 minutes.</p>
<p>Wall displays open <code>/board/display?token=…</code> with their token from the configuration.</p>{{end}}
</body></html>
`))

// signIn answers a request without a valid session: 401 and how to get a
// link.
func signIn(w http.ResponseWriter, status int, problem, link string) {
	headers(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = signInPage.Execute(w, struct{ Problem, Link string }{problem, link})
}

// refuse answers a non-page route: a short text and the status.
func refuse(w http.ResponseWriter, status int, text string) {
	headers(w)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = fmt.Fprintln(w, text)
}

func (b *Board) unavailable(w http.ResponseWriter, err error) {
	b.log.Warn("board: records unavailable", zap.Error(err))
	refuse(w, http.StatusServiceUnavailable, "Records are unavailable right now; the board retries by itself.")
}

// page is the board itself.
func (b *Board) page(w http.ResponseWriter, r *http.Request) {
	v, err := b.who(r)
	if errors.Is(err, errNoViewer) {
		signIn(w, http.StatusUnauthorized, "", "")
		return
	}
	if err != nil {
		b.unavailable(w, err)
		return
	}
	frag, err := b.hub.fragment(r.Context(), v)
	if err != nil {
		b.unavailable(w, err)
		return
	}
	headers(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	cfg := b.cfg()
	who := "wall display " + v.display
	if v.person != nil {
		who = v.person.Name
	}
	_ = pageTmpl.Execute(w, pageData{Org: cfg.Organization, Who: who, CSRF: v.csrf, Person: v.person != nil, Body: template.HTML(frag)})
}

// loginPage shows the button that spends a sign-in link. A GET never
// spends it, so a link previewer or a prefetch cannot use it up.
func (b *Board) loginPage(w http.ResponseWriter, r *http.Request) {
	t := r.URL.Query().Get("t")
	if t == "" || len(t) > 128 {
		signIn(w, http.StatusUnauthorized, "That is not a board link.", "")
		return
	}
	signIn(w, http.StatusOK, "", t)
}

// login spends a sign-in link and starts a session.
func (b *Board) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		refuse(w, http.StatusBadRequest, "Bad form.")
		return
	}
	t := r.PostForm.Get("t")
	if t == "" || len(t) > 128 {
		signIn(w, http.StatusUnauthorized, "That is not a board link.", "")
		return
	}
	id, sess, err := b.st.OpenBoardSession(r.Context(), t)
	switch {
	case errors.Is(err, store.ErrBadLink):
		signIn(w, http.StatusUnauthorized, "That link was used already or has expired. Type /muster board for a new one.", "")
		return
	case err != nil:
		b.unavailable(w, err)
		return
	}
	b.log.Info("board sign-in", zap.String("person", sess.Person))
	b.setCookie(w, sessionCookie, id, store.BoardSessionTTL)
	headers(w)
	http.Redirect(w, r, "/board", http.StatusSeeOther)
}

// display signs a wall display in with its token.
func (b *Board) display(w http.ResponseWriter, r *http.Request) {
	t := r.URL.Query().Get("token")
	d := b.displayFor(t)
	if t == "" || d == nil {
		signIn(w, http.StatusUnauthorized, "That display token is not in the configuration.", "")
		return
	}
	b.setCookie(w, displayCookie, t, 365*24*time.Hour)
	headers(w)
	http.Redirect(w, r, "/board", http.StatusSeeOther)
}

// csrfOK checks a POST's CSRF token (header or form field) against the
// session's.
func csrfOK(r *http.Request, v *viewer) bool {
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostForm.Get("csrf")
	}
	return v.csrf != "" && got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(v.csrf)) == 1
}

// postViewer authenticates a POST: a person's session with its CSRF
// token. Displays are read-only.
func (b *Board) postViewer(w http.ResponseWriter, r *http.Request) *viewer {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		refuse(w, http.StatusBadRequest, "Bad form.")
		return nil
	}
	v, err := b.who(r)
	switch {
	case errors.Is(err, errNoViewer):
		refuse(w, http.StatusUnauthorized, "Sign in first: type /muster board for a link.")
		return nil
	case err != nil:
		b.unavailable(w, err)
		return nil
	case v.person == nil:
		refuse(w, http.StatusForbidden, "A wall display is read-only.")
		return nil
	case !csrfOK(r, v):
		refuse(w, http.StatusForbidden, "Missing or wrong CSRF token: reload the board.")
		return nil
	}
	return v
}

// logout ends this browser's session.
func (b *Board) logout(w http.ResponseWriter, r *http.Request) {
	v := b.postViewer(w, r)
	if v == nil {
		return
	}
	if _, err := b.st.EndBoardSessions(r.Context(), v.person.ID, v.person.ID); err != nil {
		b.unavailable(w, err)
		return
	}
	b.setCookie(w, sessionCookie, "", -time.Second)
	signIn(w, http.StatusOK, "Signed out.", "")
}

// actionReply is what a button gets back.
type actionReply struct {
	Text  string `json:"text"`
	Error bool   `json:"error"`
}

// action runs a button's command as the signed-in person, through the
// commands package like a chat command: the same permission checks.
func (b *Board) action(w http.ResponseWriter, r *http.Request) {
	v := b.postViewer(w, r)
	if v == nil {
		return
	}
	line, bad := commandLine(r.PostForm.Get("cmd"), r.PostForm.Get("ref"), r.PostForm.Get("text"))
	if bad != "" {
		refuse(w, http.StatusBadRequest, bad)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	reply := b.svc.Handle(ctx, commands.Request{Platform: commands.PlatformBoard, UserID: v.person.ID, Text: line})
	headers(w)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(actionReply{Text: reply.Text, Error: reply.Error})
}

// commandLine turns a button into the chat command it stands for.
func commandLine(cmd, ref, text string) (string, string) {
	text = strings.Join(strings.Fields(text), " ")
	switch cmd {
	case "ack":
		n, err := store.ParseID("T", ref)
		if err != nil {
			return "", "ref must be a task (T-n)"
		}
		return "/ack " + store.FormatID("T", n), ""
	case "incident-ack":
		n, err := store.ParseID("INC", ref)
		if err != nil {
			return "", "ref must be an incident (INC-n)"
		}
		return "/incident ack " + store.FormatID("INC", n), ""
	case "resolve":
		n, err := store.ParseID("INC", ref)
		if err != nil {
			return "", "ref must be an incident (INC-n)"
		}
		if text == "" {
			return "", "say how it was resolved"
		}
		return "/incident resolve " + store.FormatID("INC", n) + " " + text, ""
	}
	return "", "cmd must be ack, incident-ack or resolve"
}

// asset serves the stylesheet and the script, to viewers only.
func (b *Board) asset(w http.ResponseWriter, r *http.Request) {
	if _, err := b.who(r); err != nil {
		refuse(w, http.StatusUnauthorized, "Sign in first: type /muster board for a link.")
		return
	}
	name := r.PathValue("file")
	var ctype string
	switch name {
	case "board.css":
		ctype = "text/css; charset=utf-8"
	case "board.js":
		ctype = "text/javascript; charset=utf-8"
	default:
		refuse(w, http.StatusNotFound, "No such file.")
		return
	}
	data, err := static.ReadFile("static/" + name)
	if err != nil {
		refuse(w, http.StatusNotFound, "No such file.")
		return
	}
	headers(w)
	w.Header().Set("Content-Type", ctype)
	_, _ = w.Write(data)
}

// events streams the board's fragment: now, then after every change.
func (b *Board) events(w http.ResponseWriter, r *http.Request) {
	v, err := b.who(r)
	if errors.Is(err, errNoViewer) {
		refuse(w, http.StatusUnauthorized, "Sign in first: type /muster board for a link.")
		return
	}
	if err != nil {
		b.unavailable(w, err)
		return
	}
	rc := http.NewResponseController(w)
	// The listener's write timeout is for ordinary answers; a stream
	// lives as long as the browser keeps it.
	_ = rc.SetWriteDeadline(time.Time{})
	headers(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	sub := b.hub.subscribe()
	defer b.hub.unsubscribe(sub)
	ctx := r.Context()
	keep := time.NewTicker(20 * time.Second)
	defer keep.Stop()
	var sent uint64
	send := func() bool {
		frag, ver, err := b.hub.fragmentVersion(ctx, v)
		if err != nil || ver == sent {
			return err == nil
		}
		sent = ver
		if _, err := fmt.Fprintf(w, "event: board\ndata: %s\n\n", strings.ReplaceAll(frag, "\n", "\ndata: ")); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send() {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-sub:
			if !send() {
				return
			}
		case <-keep.C:
			if v.person != nil {
				if _, err := b.st.BoardSession(ctx, v.session); errors.Is(err, store.ErrNotFound) {
					_, _ = fmt.Fprint(w, "event: signedout\ndata: bye\n\n")
					_ = rc.Flush()
					return
				}
			}
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		}
	}
}
