package fakeslack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

const testToken = "xoxb-test-token"

func newFake(t *testing.T) (*Server, *httptest.Server) {
	t.Helper()
	fake := New(testToken)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return fake, srv
}

// callAPI posts to a Web API method; body is url.Values (a form) or anything else (JSON).
func callAPI(t *testing.T, srv *httptest.Server, method, bearer string, body any) (int, map[string]any) {
	t.Helper()
	var req *http.Request
	if form, ok := body.(url.Values); ok {
		req, _ = http.NewRequest(http.MethodPost, srv.URL+"/api/"+method, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		b, _ := json.Marshal(body)
		req, _ = http.NewRequest(http.MethodPost, srv.URL+"/api/"+method, strings.NewReader(string(b)))
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("answer is not JSON: %v", err)
	}
	return resp.StatusCode, out
}

func TestAuth(t *testing.T) {
	fake, srv := newFake(t)
	tests := []struct {
		name    string
		bearer  string
		body    any
		wantErr string
	}{
		{"no token", "", url.Values{"channel": {"C1"}, "text": {"x"}}, "not_authed"},
		{"wrong bearer", "xoxb-other", url.Values{"channel": {"C1"}, "text": {"x"}}, "invalid_auth"},
		{"wrong form token", "", url.Values{"token": {"xoxb-other"}, "channel": {"C1"}, "text": {"x"}}, "invalid_auth"},
		{"token in a JSON body does not count", "", map[string]any{"token": testToken, "channel": "C1", "text": "x"}, "not_authed"},
		{"bearer", testToken, url.Values{"channel": {"C1"}, "text": {"x"}}, ""},
		{"form token", "", url.Values{"token": {testToken}, "channel": {"C1"}, "text": {"x"}}, ""},
		{"bearer with JSON", testToken, map[string]any{"channel": "C1", "text": "x"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := callAPI(t, srv, "chat.postMessage", tt.bearer, tt.body)
			if status != http.StatusOK {
				t.Errorf("HTTP %d, want 200 (Slack answers errors with 200)", status)
			}
			if tt.wantErr == "" {
				if body["ok"] != true {
					t.Errorf("body = %v, want ok", body)
				}
				return
			}
			if body["ok"] != false || body["error"] != tt.wantErr {
				t.Errorf("body = %v, want error %q", body, tt.wantErr)
			}
		})
	}
	if n := len(fake.Posts()); n != 3 {
		t.Errorf("%d posts recorded, want 3", n)
	}
	for _, r := range fake.Requests() {
		if _, leaked := r.Args["token"]; leaked {
			t.Error("the token is recorded among the arguments")
		}
	}
}

func TestPostMessageRecordsArguments(t *testing.T) {
	fake, srv := newFake(t)
	blocks := `[{"type":"section","text":{"type":"mrkdwn","text":"*INC-42* gate 3"}}]`
	_, form := callAPI(t, srv, "chat.postMessage", testToken, url.Values{
		"channel": {"C0SITE"}, "text": {"INC-42"}, "blocks": {blocks}, "link_names": {"false"}, "parse": {"none"},
		"thread_ts": {"1700000000.000001"},
	})
	_, js := callAPI(t, srv, "chat.postMessage", testToken, map[string]any{
		"channel": "C0SITE", "text": "INC-43", "blocks": json.RawMessage(blocks), "link_names": true,
	})
	if form["ts"] == js["ts"] || form["channel"] != "C0SITE" {
		t.Fatalf("answers %v and %v", form, js)
	}
	msg, _ := form["message"].(map[string]any)
	if msg["text"] != "INC-42" || msg["bot_id"] != BotID || msg["thread_ts"] != "1700000000.000001" || msg["blocks"] == nil {
		t.Errorf("message = %v", msg)
	}
	posts := fake.Posts()
	if len(posts) != 2 {
		t.Fatalf("%d posts", len(posts))
	}
	p := posts[0]
	if string(p.Blocks) != blocks || p.LinkNames != "false" || p.Parse != "none" || p.ThreadTS != "1700000000.000001" || p.JSON {
		t.Errorf("form post = %+v", p)
	}
	q := posts[1]
	if string(q.Blocks) != blocks || q.LinkNames != "true" || q.Parse != "" || !q.JSON || q.Text != "INC-43" {
		t.Errorf("JSON post = %+v", q)
	}
}

// postForm posts a form with the bot token; unlike callAPI it may run outside the test goroutine.
func postForm(srv *httptest.Server, method string, form url.Values) error {
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/api/"+method, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := srv.Client().Do(req)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// Message timestamps are the fake's clock, made unique: posts in the same
// microsecond still get increasing timestamps.
func TestTimestampsIncrease(t *testing.T) {
	fake, srv := newFake(t)
	fake.SetClock(func() time.Time { return time.Unix(1700000000, 0) })
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = postForm(srv, "chat.postMessage", url.Values{"channel": {"C1"}, "text": {fmt.Sprint(i)}})
		}()
	}
	wg.Wait()
	posts := fake.Posts()
	if len(posts) != 50 {
		t.Fatalf("%d posts", len(posts))
	}
	if posts[0].TS != "1700000000.000000" {
		t.Errorf("first ts = %s", posts[0].TS)
	}
	for i := 1; i < len(posts); i++ {
		if posts[i].TS <= posts[i-1].TS {
			t.Errorf("ts %s after %s", posts[i].TS, posts[i-1].TS)
		}
	}
}

func TestErrors(t *testing.T) {
	fake, srv := newFake(t)
	fake.FailNext("chat.postMessage", "channel_not_found")
	tests := []struct {
		name, method string
		form         url.Values
		want         string
	}{
		{"scripted", "chat.postMessage", url.Values{"channel": {"C1"}, "text": {"x"}}, "channel_not_found"},
		{"script used up", "chat.postMessage", url.Values{"channel": {"C1"}, "text": {"x"}}, ""},
		{"no channel", "chat.postMessage", url.Values{"text": {"x"}}, "channel_not_found"},
		{"no text", "chat.postMessage", url.Values{"channel": {"C1"}}, "no_text"},
		{"bad blocks", "chat.postMessage", url.Values{"channel": {"C1"}, "blocks": {`{"type":`}}, "invalid_blocks"},
		{"update unknown", "chat.update", url.Values{"channel": {"C1"}, "ts": {"1.2"}, "text": {"x"}}, "message_not_found"},
		{"ephemeral without user", "chat.postEphemeral", url.Values{"channel": {"C1"}, "text": {"x"}}, "user_not_found"},
		{"open without users", "conversations.open", url.Values{}, "users_list_not_supplied"},
		{"socket mode", "apps.connections.open", url.Values{}, "not_allowed_token_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, body := callAPI(t, srv, tt.method, testToken, tt.form)
			if tt.want == "" {
				if body["ok"] != true {
					t.Errorf("body = %v", body)
				}
				return
			}
			if body["ok"] != false || body["error"] != tt.want {
				t.Errorf("body = %v, want %q", body, tt.want)
			}
		})
	}
	status, body := callAPI(t, srv, "chat.nope", testToken, url.Values{})
	if status != http.StatusNotFound || body["error"] != "unknown_method" {
		t.Errorf("unknown method: %d %v", status, body)
	}
}

func TestUpdateKeepsBlocksUnlessSent(t *testing.T) {
	fake, srv := newFake(t)
	_, posted := callAPI(t, srv, "chat.postMessage", testToken, url.Values{"channel": {"C1"}, "text": {"T-17 open"}, "blocks": {`[{"type":"divider"}]`}})
	ts := posted["ts"].(string)
	_, upd := callAPI(t, srv, "chat.update", testToken, url.Values{"channel": {"C1"}, "ts": {ts}, "text": {"T-17 acknowledged"}})
	if upd["ok"] != true || upd["ts"] != ts || upd["text"] != "T-17 acknowledged" {
		t.Fatalf("update = %v", upd)
	}
	m, ok := fake.Message("C1", ts)
	if !ok || m.Text != "T-17 acknowledged" || string(m.Blocks) != `[{"type":"divider"}]` || m.Method != "chat.update" {
		t.Errorf("message = %+v", m)
	}
	callAPI(t, srv, "chat.update", testToken, url.Values{"channel": {"C1"}, "ts": {ts}, "text": {"T-17 done"}, "blocks": {`[]`}})
	if m, _ := fake.Message("C1", ts); string(m.Blocks) != `[]` {
		t.Errorf("blocks after clearing = %s", m.Blocks)
	}
}

func TestOpenConversation(t *testing.T) {
	_, srv := newFake(t)
	_, first := callAPI(t, srv, "conversations.open", testToken, url.Values{"users": {"U123"}})
	_, again := callAPI(t, srv, "conversations.open", testToken, url.Values{"users": {"U123"}, "return_im": {"true"}})
	if ch, _ := first["channel"].(map[string]any); ch["id"] != "DU123" || first["already_open"] != false {
		t.Errorf("first = %v", first)
	}
	if ch, _ := again["channel"].(map[string]any); ch["id"] != "DU123" || ch["is_im"] != true || again["already_open"] != true {
		t.Errorf("again = %v", again)
	}
}

func TestRateLimitNext(t *testing.T) {
	fake, srv := newFake(t)
	fake.RateLimitNext(2, 1500*time.Millisecond)
	req := func() (*http.Response, map[string]any) {
		r, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/chat.postMessage", strings.NewReader("channel=C1&text=x"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := srv.Client().Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp, body
	}
	for range 2 {
		resp, body := req()
		if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "2" || body["error"] != "ratelimited" {
			t.Errorf("got %d, Retry-After %q, %v", resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
	if resp, body := req(); resp.StatusCode != 200 || body["ok"] != true {
		t.Errorf("after the limit: %d %v", resp.StatusCode, body)
	}
	reqs := fake.Requests()
	if len(reqs) != 3 || reqs[0].Status != 429 || reqs[2].Error != "" {
		t.Errorf("requests = %+v", reqs)
	}
}

func TestResponseURL(t *testing.T) {
	fake, srv := newFake(t)
	u := fake.ResponseURL(srv.URL)
	if !strings.HasPrefix(u, srv.URL+"/response/") {
		t.Fatalf("ResponseURL = %q", u)
	}
	post := func(target, ctype, body string) int {
		resp, err := srv.Client().Post(target, ctype, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post(u, "application/json", `{"text":"INC-42 raised","response_type":"in_channel","replace_original":true,"blocks":[{"type":"divider"}]}`); got != 200 {
		t.Fatalf("status %d", got)
	}
	rs := fake.Responses()
	if len(rs) != 1 || rs[0].Text != "INC-42 raised" || rs[0].ResponseType != "in_channel" || !rs[0].ReplaceOriginal || string(rs[0].Blocks) != `[{"type":"divider"}]` {
		t.Errorf("responses = %+v", rs)
	}
	if got := post(u, "application/x-www-form-urlencoded", "text=x"); got != 400 {
		t.Errorf("form body: status %d, want 400", got)
	}
	for range 4 {
		post(u, "application/json", `{"text":"again"}`)
	}
	if got := post(u, "application/json", `{"text":"sixth"}`); got != 404 {
		t.Errorf("sixth use: status %d, want 404", got)
	}
	if got := post(srv.URL+"/response/nope", "application/json", `{"text":"x"}`); got != 404 {
		t.Errorf("unknown url: status %d, want 404", got)
	}
}

func TestWaitForPost(t *testing.T) {
	fake, srv := newFake(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() {
		_ = postForm(srv, "chat.postMessage", url.Values{"channel": {"C0SITE"}, "text": {"PLAN evacuate triggered"}})
	}()
	p, err := fake.WaitForPost(ctx, func(p Post) bool { return strings.Contains(p.Text, "evacuate") })
	if err != nil || p.Channel != "C0SITE" {
		t.Fatalf("post %+v, err %v", p, err)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	if _, err := fake.WaitForPost(short, func(p Post) bool { return p.Channel == "C-never" }); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v", err)
	}
}
