package notify_test

import (
	"strings"
	"testing"

	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/store"
)

func TestSMSTaskTextIsOneGSM7Segment(t *testing.T) {
	long := strings.Repeat("Sweep every floor of the east wing and confirm it is clear ", 4)
	tests := []struct {
		name, title string
		drill       bool
		want        string // exact text, or a prefix when it ends in "*"
	}{
		{name: "plain", title: "Check the north gate alarm", want: "T-17 Harbour Point HQ: Check the north gate alarm Reply ACK 17"},
		{name: "drill keeps the marker", title: "Check the gate", drill: true, want: "DRILL — T-17 Harbour Point HQ: Check the gate Reply ACK 17"},
		{name: "typography made GSM-7", title: "Zoë’s “gate” — check…", want: "T-17 Harbour Point HQ: Zoe's \"gate\" - check... Reply ACK 17"},
		{name: "no phone numbers", title: "Call Ben on +44 7700 900102 now", want: "T-17 Harbour Point HQ: Call Ben on [number] now Reply ACK 17"},
		{name: "long title cut", title: long, want: "T-17 Harbour Point HQ: Sweep every floor*"},
		{name: "long drill title cut to one UCS-2 segment", title: long, drill: true, want: "DRILL — T-17 Harbour Point HQ: Sweep*"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := notify.TaskText(notify.SMS, &store.Task{Num: 17, Title: tt.title}, "Harbour Point HQ", tt.drill)
			if p, ok := strings.CutSuffix(tt.want, "*"); ok {
				if !strings.HasPrefix(got, p) || !strings.HasSuffix(got, "... Reply ACK 17") {
					t.Fatalf("got %q", got)
				}
			} else if got != tt.want {
				t.Fatalf("got  %q\nwant %q", got, tt.want)
			}
			if notify.SMSSegments(got) != 1 {
				t.Fatalf("%q takes %d segments", got, notify.SMSSegments(got))
			}
			// Live notices stay GSM-7 (160 characters); a drill's em dash
			// makes it UCS-2, fitted to 70.
			if n, ok := notify.GSM7Len(got); ok == tt.drill || (ok && n > notify.SMSLimit) {
				t.Fatalf("%q: %d septets, GSM-7 %v", got, n, ok)
			}
		})
	}
}

// A title GSM-7 cannot carry still fits one segment, of UCS-2.
func TestSMSTaskTextUCS2(t *testing.T) {
	got := notify.TaskText(notify.SMS, &store.Task{Num: 3, Title: "检查北门警报 " + strings.Repeat("警", 80)}, "Harbour", false)
	if notify.SMSSegments(got) != 1 || !strings.HasSuffix(got, " Reply ACK 3") || !strings.HasPrefix(got, "T-3 Harbour: 检查北门警报") {
		t.Fatalf("%q takes %d segments", got, notify.SMSSegments(got))
	}
}

func TestSMSTextOfChatText(t *testing.T) {
	in := notify.DrillPrefix + "T-4 UNANSWERED at Harbour: Sweep (last assigned to Amara Okafor, +447700900101). Someone must take it: /ack T-4"
	got := notify.SMSText(in)
	if !strings.HasPrefix(got, "DRILL — T-4") || strings.Contains(got, "900101") {
		t.Fatalf("SMSText = %q", got)
	}
	if _, ok := notify.GSM7Len(strings.TrimPrefix(got, notify.DrillPrefix)); !ok {
		t.Fatalf("%q is not GSM-7 after the drill marker", got)
	}
	if n, _ := notify.GSM7Len("[€]"); n != 6 {
		t.Fatalf("extension characters count two septets: got %d", n)
	}
}

func TestChatAndVoiceKeepTheEmDash(t *testing.T) {
	task := &store.Task{Num: 2, Title: "Roll call", Plan: "fire"}
	for _, ch := range []string{notify.Chat, notify.Voice} {
		if got := notify.TaskText(ch, task, "Depot", true); !strings.HasPrefix(got, "DRILL — ") {
			t.Errorf("%s: %q", ch, got)
		}
	}
}
