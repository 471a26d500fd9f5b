package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// phoneFields is one field of every kind that can carry text, each with
// its own phone number.
func phoneFields() map[string]zap.Field {
	type contact struct{ Phone string }
	return map[string]zap.Field{
		"String":     zap.String("s", "+447700900101"),
		"Strings":    zap.Strings("ss", []string{"x", "+447700900102"}),
		"Any":        zap.Any("any", map[string]string{"to": "+447700900103"}),
		"Reflect":    zap.Reflect("reflect", contact{"+447700900104"}),
		"ByteString": zap.ByteString("bytes", []byte("call +447700900105")),
		"Errors":     zap.Errors("errs", []error{errors.New("to +447700900106 failed")}),
		"Error":      zap.Error(errors.New("twilio: +447700900107 is unsubscribed")),
		"Stringer":   zap.Stringer("stringer", stringer("+447700900108")),
		"Object": zap.Object("object", zapcore.ObjectMarshalerFunc(func(e zapcore.ObjectEncoder) error {
			e.AddString("phone", "+447700900109")
			return nil
		})),
		"Array": zap.Array("array", zapcore.ArrayMarshalerFunc(func(e zapcore.ArrayEncoder) error {
			e.AppendString("+447700900110")
			return nil
		})),
		"NamedError": zap.NamedError("cause", fmt.Errorf("wrapped: %w", errors.New("+447700900111"))),
	}
}

type stringer string

func (s stringer) String() string { return string(s) }

// A phone number in any kind of field, in the message or in a field added
// with With, is masked in both formats: the log shows ***0101, never the
// number.
func TestPhonesAreMaskedInEveryFieldKind(t *testing.T) {
	for _, format := range Formats {
		for kind, f := range phoneFields() {
			t.Run(format+"/"+kind, func(t *testing.T) {
				var out bytes.Buffer
				log, err := New(&out, format, "debug")
				if err != nil {
					t.Fatal(err)
				}
				log.With(zap.String("with", "+447700900199")).Info("sms to +447700900198 queued", f)
				line := out.String()
				if m := phoneRE.FindString(line); m != "" {
					t.Errorf("%s leaked: %s", m, line)
				}
				for _, want := range []string{"***0199", "***0198"} {
					if !strings.Contains(line, want) {
						t.Errorf("%s missing from %s", want, line)
					}
				}
				if !strings.Contains(line, "***01") {
					t.Errorf("the %s field's masked number is missing: %s", kind, line)
				}
				if format == "json" {
					var v map[string]any
					if err := json.Unmarshal(out.Bytes(), &v); err != nil {
						t.Errorf("not one JSON line: %v: %s", err, line)
					}
				}
			})
		}
	}
}

// The same through Masking, for cores that do not encode.
func TestMaskingCoreCoversEveryFieldKind(t *testing.T) {
	for kind, f := range phoneFields() {
		t.Run(kind, func(t *testing.T) {
			obs, logs := observer.New(zapcore.DebugLevel)
			zap.New(Masking(obs)).With(zap.String("to", "+447700900199")).Info("sms to +447700900198 queued", f)
			e := logs.AllUntimed()[0]
			all := e.Message
			for _, f := range e.Context {
				all += " " + f.Key + "=" + f.String + fmt.Sprint(f.Interface)
			}
			if m := phoneRE.FindString(all); m != "" {
				t.Errorf("%s leaked: %s", m, all)
			}
			if !strings.Contains(all, "***01") {
				t.Errorf("masked number missing: %s", all)
			}
		})
	}
}

func TestNewRefusesUnknownFormatAndLevel(t *testing.T) {
	if _, err := New(&bytes.Buffer{}, "xml", "info"); err == nil || !strings.Contains(err.Error(), "json or text") {
		t.Errorf("format xml: %v", err)
	}
	if _, err := New(&bytes.Buffer{}, "json", "loud"); err == nil {
		t.Error("level loud accepted")
	}
}

// go-redis's own messages become JSON lines at warn level, masked.
func TestPrintfLogger(t *testing.T) {
	var out bytes.Buffer
	log, err := New(&out, "json", "info")
	if err != nil {
		t.Fatal(err)
	}
	Printf(log.Named("redis")).Printf(context.Background(), "redis: %s failed for +%d\n", "dial", int64(447700900101))
	var v map[string]any
	if err := json.Unmarshal(out.Bytes(), &v); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if v["level"] != "warn" || v["logger"] != "redis" || v["msg"] != "redis: dial failed for ***0101" {
		t.Errorf("line %s", out.String())
	}
}

func TestMaskPhone(t *testing.T) {
	if got := MaskPhone("+447700900101"); got != "***0101" {
		t.Fatalf("MaskPhone = %q", got)
	}
	if got := MaskText("call +12025550123 or +12025550124."); got != "call ***0123 or ***0124." {
		t.Fatalf("MaskText = %q", got)
	}
}
