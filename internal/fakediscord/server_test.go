package fakediscord

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testToken = "bot-token-123"
	testApp   = "1100000000000000001"
)

func newFake(t *testing.T) (*Server, *httptest.Server) {
	t.Helper()
	fake := New(testToken, testApp)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return fake, srv
}

type answer struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

// do sends body (a string of JSON, or nil) to the fake; auth is the Authorization header.
func do(srv *httptest.Server, method, path, auth string, body any) (answer, error) {
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(body.(string))
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		return answer{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, header: resp.Header}
	a.raw, _ = io.ReadAll(resp.Body)
	_ = json.Unmarshal(a.raw, &a.body)
	return a, nil
}

func mustDo(t *testing.T, srv *httptest.Server, method, path, auth string, body any) answer {
	t.Helper()
	a, err := do(srv, method, path, auth, body)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

const bot = "Bot " + testToken

func TestBotAuth(t *testing.T) {
	_, srv := newFake(t)
	for _, auth := range []string{"", testToken, "Bearer " + testToken, "Bot wrong"} {
		a := mustDo(t, srv, "POST", "/api/v10/channels/1/messages", auth, `{"content":"x"}`)
		if a.status != 401 || strings.TrimSpace(string(a.raw)) != `{"code":0,"message":"401: Unauthorized"}` {
			t.Errorf("auth %q: %d %s", auth, a.status, a.raw)
		}
	}
	for _, v := range []string{"v9", "v10"} {
		if a := mustDo(t, srv, "POST", "/api/"+v+"/channels/1/messages", bot, `{"content":"x"}`); a.status != 200 {
			t.Errorf("%s: %d %s", v, a.status, a.raw)
		}
	}
	if a := mustDo(t, srv, "POST", "/api/latest/channels/1/messages", bot, `{"content":"x"}`); a.status != 404 {
		t.Errorf("bad version: %d", a.status)
	}
	if a := mustDo(t, srv, "GET", "/api/v10/users/@me", bot, nil); a.status != 200 || a.body["id"] != testApp || a.body["bot"] != true {
		t.Errorf("users/@me: %d %v", a.status, a.body)
	}
}

func TestAllowedMentionsRecordedRaw(t *testing.T) {
	fake, srv := newFake(t)
	for _, body := range []string{
		`{"content":"a","allowed_mentions":{"parse":[]}}`,
		`{"content":"b"}`,
		`{"content":"c","allowed_mentions":null}`,
	} {
		if a := mustDo(t, srv, "POST", "/api/v10/channels/42/messages", bot, body); a.status != 200 {
			t.Fatalf("%s: %d %s", body, a.status, a.raw)
		}
	}
	ms := fake.Messages()
	if len(ms) != 3 {
		t.Fatalf("%d messages", len(ms))
	}
	if got := string(ms[0].AllowedMentions); got != `{"parse":[]}` {
		t.Errorf("explicit: %q", got)
	}
	if ms[1].AllowedMentions != nil {
		t.Errorf("absent: %q, want nil", ms[1].AllowedMentions)
	}
	if got := string(ms[2].AllowedMentions); got != "null" {
		t.Errorf("null: %q, want null", got)
	}
}

func TestCreateMessageShapeAndErrors(t *testing.T) {
	fake, srv := newFake(t)
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	fake.SetClock(func() time.Time { return at })
	a := mustDo(t, srv, "POST", "/api/v10/channels/42/messages", bot,
		`{"content":"INC-42","embeds":[{"title":"Gate 3","type":"rich"}],"components":[{"type":1,"components":[{"type":2,"style":1,"label":"Ack","custom_id":"ack:T-17"}]}],"tts":false}`)
	if a.status != 200 {
		t.Fatalf("%d %s", a.status, a.raw)
	}
	id, _ := a.body["id"].(string)
	if _, err := strconv.ParseUint(id, 10, 64); err != nil {
		t.Errorf("id %q is not a snowflake", id)
	}
	author, _ := a.body["author"].(map[string]any)
	embeds, _ := a.body["embeds"].([]any)
	if a.body["channel_id"] != "42" || a.body["content"] != "INC-42" || author["id"] != testApp || len(embeds) != 1 ||
		a.body["timestamp"] != "2025-03-01T12:00:00.000000+00:00" || a.body["edited_timestamp"] != nil {
		t.Errorf("message = %v", a.body)
	}

	tests := []struct {
		name, body string
		status     int
		code       float64
	}{
		{"empty", `{"content":"","embeds":null,"components":null,"sticker_ids":null}`, 400, 50006},
		{"too long", `{"content":"` + strings.Repeat("x", 2001) + `"}`, 400, 50035},
		{"too many embeds", `{"embeds":[` + strings.Repeat(`{},`, 10) + `{}]}`, 400, 50035},
		{"not JSON", `{"content":`, 400, 50109},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := mustDo(t, srv, "POST", "/api/v10/channels/42/messages", bot, tt.body)
			if a.status != tt.status || a.body["code"] != tt.code {
				t.Errorf("%d %s", a.status, a.raw)
			}
		})
	}
	if n := len(fake.Messages()); n != 1 {
		t.Errorf("%d messages recorded, want 1", n)
	}
}

func TestEditMessage(t *testing.T) {
	fake, srv := newFake(t)
	a := mustDo(t, srv, "POST", "/api/v10/channels/42/messages", bot, `{"content":"T-17 open","embeds":[{"title":"T-17"}]}`)
	id := a.body["id"].(string)

	e := mustDo(t, srv, "PATCH", "/api/v10/channels/42/messages/"+id, bot, `{"content":"T-17 acknowledged","ID":"x","Channel":"y"}`)
	if e.status != 200 || e.body["content"] != "T-17 acknowledged" || e.body["edited_timestamp"] == nil || e.body["id"] != id {
		t.Fatalf("edit: %d %s", e.status, e.raw)
	}
	m, ok := fake.Message(id)
	if !ok || m.Op != OpEdit || m.Content != "T-17 acknowledged" || string(m.Embeds) != `[{"title":"T-17"}]` {
		t.Errorf("current = %+v", m)
	}
	for _, path := range []string{"/api/v10/channels/42/messages/999", "/api/v10/channels/43/messages/" + id} {
		if e := mustDo(t, srv, "PATCH", path, bot, `{"content":"x"}`); e.status != 404 || e.body["code"] != 10008.0 {
			t.Errorf("%s: %d %s", path, e.status, e.raw)
		}
	}
}

func TestMultipartMessage(t *testing.T) {
	fake, srv := newFake(t)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	pj, _ := mw.CreateFormField("payload_json")
	_, _ = pj.Write([]byte(`{"content":"drill report","allowed_mentions":{"parse":[]}}`))
	f, _ := mw.CreateFormFile("files[0]", "D-3.csv")
	_, _ = f.Write([]byte("step,time\n"))
	_ = mw.Close()
	req, _ := http.NewRequest("POST", srv.URL+"/api/v10/channels/42/messages", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", bot)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ms := fake.Messages()
	if resp.StatusCode != 200 || len(ms) != 1 || ms[0].Content != "drill report" || len(ms[0].Files) != 1 ||
		ms[0].Files[0] != "D-3.csv" || string(ms[0].AllowedMentions) != `{"parse":[]}` {
		t.Errorf("status %d, messages %+v", resp.StatusCode, ms)
	}
}

func TestSnowflakesIncrease(t *testing.T) {
	fake, srv := newFake(t)
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = do(srv, "POST", "/api/v10/channels/42/messages", bot, fmt.Sprintf(`{"content":"%d"}`, i))
		}()
	}
	wg.Wait()
	ms := fake.Messages()
	if len(ms) != 40 {
		t.Fatalf("%d messages", len(ms))
	}
	var last uint64
	for _, m := range ms {
		id, err := strconv.ParseUint(m.ID, 10, 64)
		if err != nil || id <= last {
			t.Fatalf("id %s after %d", m.ID, last)
		}
		last = id
	}
}

func TestRateLimitAndFailures(t *testing.T) {
	fake, srv := newFake(t)
	fake.RateLimitNext(1, 500*time.Millisecond, false)
	fake.FailNext(404, 10003, "Unknown Channel")
	a := mustDo(t, srv, "POST", "/api/v10/channels/42/messages", bot, `{"content":"x"}`)
	if a.status != 429 || a.header.Get("Retry-After") != "1" || a.header.Get("X-RateLimit-Scope") != "user" ||
		strings.TrimSpace(string(a.raw)) != `{"global":false,"message":"You are being rate limited.","retry_after":0.5}` {
		t.Errorf("rate limit: %d %v %s", a.status, a.header, a.raw)
	}
	a = mustDo(t, srv, "POST", "/api/v10/channels/42/messages", bot, `{"content":"x"}`)
	if a.status != 404 || a.body["code"] != 10003.0 || a.body["message"] != "Unknown Channel" {
		t.Errorf("failure: %d %s", a.status, a.raw)
	}
	if a = mustDo(t, srv, "POST", "/api/v10/channels/42/messages", bot, `{"content":"x"}`); a.status != 200 {
		t.Errorf("after the scripts: %d", a.status)
	}
	// An unauthenticated request does not use up a script.
	fake.RateLimitNext(1, time.Second, true)
	if a = mustDo(t, srv, "POST", "/api/v10/channels/42/messages", "", `{"content":"x"}`); a.status != 401 {
		t.Errorf("unauthenticated: %d", a.status)
	}
	if a = mustDo(t, srv, "POST", "/api/v10/channels/42/messages", bot, `{"content":"x"}`); a.status != 429 || a.header.Get("X-RateLimit-Global") != "true" {
		t.Errorf("global: %d %v", a.status, a.header)
	}
	reqs := fake.Requests()
	if len(reqs) != 5 || reqs[0].Status != 429 || reqs[1].Code != 10003 || reqs[3].Status != 401 {
		t.Errorf("requests = %+v", reqs)
	}
}

func TestInteractionCallbacksAndWebhooks(t *testing.T) {
	fake, srv := newFake(t)
	const cb = "/api/v10/interactions/501/tok-1/callback"
	if a := mustDo(t, srv, "POST", cb, "", `{"type":5}`); a.status != 204 {
		t.Fatalf("callback: %d %s", a.status, a.raw)
	}
	if a := mustDo(t, srv, "POST", cb, "", `{"type":4,"data":{"content":"again"}}`); a.status != 400 || a.body["code"] != 40060.0 {
		t.Errorf("second callback: %d %s", a.status, a.raw)
	}
	if a := mustDo(t, srv, "POST", "/api/v10/interactions/502/tok-1/callback", "", `{"type":4}`); a.status != 404 || a.body["code"] != 10062.0 {
		t.Errorf("token of another interaction: %d %s", a.status, a.raw)
	}
	orig := "/api/v10/webhooks/" + testApp + "/tok-1/messages/@original"
	a := mustDo(t, srv, "PATCH", orig, "", `{"content":"INC-42 raised","allowed_mentions":{"parse":[]}}`)
	if a.status != 200 || a.body["content"] != "INC-42 raised" || a.body["webhook_id"] != testApp || a.body["flags"] != 0.0 {
		t.Fatalf("edit original: %d %s", a.status, a.raw)
	}
	if g := mustDo(t, srv, "GET", orig, "", nil); g.status != 200 || g.body["id"] != a.body["id"] {
		t.Errorf("get original: %d %s", g.status, g.raw)
	}
	f := mustDo(t, srv, "POST", "/api/v10/webhooks/"+testApp+"/tok-1?wait=true", "", `{"content":"paged Ana","flags":64}`)
	if f.status != 200 || f.body["content"] != "paged Ana" || f.body["flags"] != 64.0 {
		t.Fatalf("followup: %d %s", f.status, f.raw)
	}
	fid := f.body["id"].(string)
	if e := mustDo(t, srv, "PATCH", "/api/v10/webhooks/"+testApp+"/tok-1/messages/"+fid, "", `{"content":"paged Ana (ack)"}`); e.status != 200 {
		t.Errorf("edit followup: %d %s", e.status, e.raw)
	}
	var ops []string
	for _, m := range fake.Messages() {
		ops = append(ops, m.Op)
	}
	if strings.Join(ops, ",") != "response,edit_original,followup,edit_followup" {
		t.Errorf("ops = %v", ops)
	}
	cbs := fake.Callbacks()
	if len(cbs) != 1 || cbs[0].Type != ResponseDeferredChannelMessage || cbs[0].InteractionID != "501" || cbs[0].ViaHTTP {
		t.Errorf("callbacks = %+v", cbs)
	}

	for _, tt := range []struct {
		path   string
		status int
		code   float64
	}{
		{"/api/v10/webhooks/" + testApp + "/tok-unknown/messages/@original", 401, 50027},
		{"/api/v10/webhooks/999/tok-1/messages/@original", 404, 10015},
		{"/api/v10/webhooks/" + testApp + "/tok-1/messages/123", 404, 10008},
	} {
		if e := mustDo(t, srv, "PATCH", tt.path, "", `{"content":"x"}`); e.status != tt.status || e.body["code"] != tt.code {
			t.Errorf("%s: %d %s", tt.path, e.status, e.raw)
		}
	}
}

// botApp stands in for muster's /discord/interactions: it verifies the Ed25519 signature and
// answers with a fixed interaction response.
func botApp(t *testing.T, pub ed25519.PublicKey, answer string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		sig, err := hex.DecodeString(r.Header.Get("X-Signature-Ed25519"))
		if err != nil || !ed25519.Verify(pub, append([]byte(r.Header.Get("X-Signature-Timestamp")), body...), sig) {
			http.Error(w, "invalid request signature", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestSendInteraction(t *testing.T) {
	fake, srv := newFake(t)
	pub, priv, _ := ed25519.GenerateKey(nil)
	app := botApp(t, pub, `{"type":4,"data":{"content":"INC-42 raised","allowed_mentions":{"parse":[]}}}`)
	fake.SetClock(func() time.Time { return time.Unix(1700000000, 0) })

	payload := `{"id":"601","application_id":"` + testApp + `","type":2,"token":"tok-http","channel_id":"42","data":{"name":"incident"}}`
	status, body, err := fake.SendInteraction(context.Background(), app.URL+"/discord/interactions", priv, []byte(payload))
	if err != nil || status != 200 || !strings.Contains(string(body), "INC-42") {
		t.Fatalf("SendInteraction: %d %s %v", status, body, err)
	}
	cbs := fake.Callbacks()
	if len(cbs) != 1 || !cbs[0].ViaHTTP || cbs[0].Type != 4 {
		t.Fatalf("callbacks = %+v", cbs)
	}
	ms := fake.Messages()
	if len(ms) != 1 || ms[0].Op != OpResponse || ms[0].ChannelID != "42" || string(ms[0].AllowedMentions) != `{"parse":[]}` {
		t.Fatalf("messages = %+v", ms)
	}
	if a := mustDo(t, srv, "PATCH", "/api/v10/webhooks/"+testApp+"/tok-http/messages/@original", "", `{"content":"INC-42 resolved"}`); a.status != 200 || a.body["channel_id"] != "42" {
		t.Errorf("edit original: %d %s", a.status, a.raw)
	}

	_, other, _ := ed25519.GenerateKey(nil)
	status, _, err = fake.SendInteraction(context.Background(), app.URL, other, []byte(`{"id":"602","token":"tok-2","type":2}`))
	if err != nil || status != 401 {
		t.Errorf("wrong key: %d %v, want the bot to refuse with 401", status, err)
	}
	if _, _, err := fake.SendInteraction(context.Background(), app.URL, priv, []byte(`{"type":1}`)); err == nil {
		t.Error("a payload without id and token was sent")
	}
}

func TestComponentInteractionUpdatesMessage(t *testing.T) {
	fake, srv := newFake(t)
	a := mustDo(t, srv, "POST", "/api/v10/channels/42/messages", bot, `{"content":"T-17 open","components":[{"type":1,"components":[]}]}`)
	id := a.body["id"].(string)
	pub, priv, _ := ed25519.GenerateKey(nil)
	app := botApp(t, pub, `{"type":7,"data":{"content":"T-17 acknowledged by Ana","components":[]}}`)
	payload := `{"id":"701","type":3,"token":"tok-c","channel":{"id":"42"},"message":{"id":"` + id + `"},"data":{"custom_id":"ack:T-17"}}`
	if status, _, err := fake.SendInteraction(context.Background(), app.URL, priv, []byte(payload)); err != nil || status != 200 {
		t.Fatalf("%d %v", status, err)
	}
	m, _ := fake.Message(id)
	if m.Op != OpUpdate || m.Content != "T-17 acknowledged by Ana" || string(m.Components) != "[]" || m.InteractionToken != "tok-c" {
		t.Errorf("message = %+v", m)
	}
}

func TestCommands(t *testing.T) {
	fake, srv := newFake(t)
	cmds := `[{"name":"incident","description":"Raise or show incidents","options":[{"type":1,"name":"raise","description":"Raise one"}]},{"name":"Ack task","type":3}]`
	a := mustDo(t, srv, "PUT", "/api/v10/applications/"+testApp+"/guilds/77/commands", bot, cmds)
	if a.status != 200 {
		t.Fatalf("%d %s", a.status, a.raw)
	}
	var out []map[string]any
	_ = json.Unmarshal(a.raw, &out)
	if len(out) != 2 || out[0]["id"] == nil || out[0]["application_id"] != testApp || out[0]["guild_id"] != "77" || out[0]["type"] != 1.0 {
		t.Errorf("answer = %s", a.raw)
	}
	for _, tt := range []struct{ path, body string }{
		{"/api/v10/applications/" + testApp + "/commands", `[{"name":"Incident","description":"x"}]`},
		{"/api/v10/applications/" + testApp + "/commands", `[{"name":"incident","description":""}]`},
	} {
		if a := mustDo(t, srv, "PUT", tt.path, bot, tt.body); a.status != 400 || a.body["code"] != 50035.0 {
			t.Errorf("%s: %d %s", tt.body, a.status, a.raw)
		}
	}
	if a := mustDo(t, srv, "PUT", "/api/v10/applications/999/commands", bot, `[]`); a.status != 403 {
		t.Errorf("other app: %d", a.status)
	}
	sets := fake.CommandSets()
	if len(sets) != 1 || sets[0].GuildID != "77" || strings.Join(sets[0].Names, ",") != "incident,Ack task" {
		t.Errorf("sets = %+v", sets)
	}
}

func TestWaitForMessage(t *testing.T) {
	fake, srv := newFake(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() { _, _ = do(srv, "POST", "/api/v10/channels/42/messages", bot, `{"content":"PLAN evacuate"}`) }()
	m, err := fake.WaitForMessage(ctx, func(m Message) bool { return strings.Contains(m.Content, "evacuate") })
	if err != nil || m.ChannelID != "42" {
		t.Fatalf("%+v %v", m, err)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	if _, err := fake.WaitForCallback(short, func(Callback) bool { return true }); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v", err)
	}
}
