package logging

import (
	"errors"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestPhonesAreMaskedEverywhere(t *testing.T) {
	obs, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(Masking(obs)).With(zap.String("to", "+447700900101"))
	log.Info("sms to +447700900102 queued",
		zap.String("from", "+15005550006"),
		zap.Error(errors.New("twilio: +447700900103 is unsubscribed")),
		zap.Strings("list", []string{"x"}))
	entries := logs.AllUntimed()
	if len(entries) != 1 {
		t.Fatalf("%d entries", len(entries))
	}
	e := entries[0]
	all := e.Message
	for _, f := range e.Context {
		all += " " + f.Key + "=" + f.String
	}
	for _, leak := range []string{"+447700900101", "+447700900102", "+15005550006", "+447700900103"} {
		if strings.Contains(all, leak) {
			t.Errorf("phone %s leaked into log: %s", leak, all)
		}
	}
	for _, want := range []string{"***0101", "***0102", "***0006", "***0103"} {
		if !strings.Contains(all, want) {
			t.Errorf("masked %s missing from: %s", want, all)
		}
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
