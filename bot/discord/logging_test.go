package discord

import (
	"testing"

	"github.com/bwmarrin/discordgo"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestLibraryLoggerLevels(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	l := libraryLogger(zap.New(core))
	l(discordgo.LogError, 0, "websocket %s\n", "closed")
	l(discordgo.LogWarning, 0, "rate limited")
	l(discordgo.LogInformational, 0, "connected")
	l(discordgo.LogDebug, 0, "heartbeat")
	want := []struct {
		level zapcore.Level
		msg   string
	}{{zapcore.ErrorLevel, "websocket closed"}, {zapcore.WarnLevel, "rate limited"}, {zapcore.InfoLevel, "connected"}, {zapcore.DebugLevel, "heartbeat"}}
	got := logs.AllUntimed()
	if len(got) != len(want) {
		t.Fatalf("%d lines, want %d", len(got), len(want))
	}
	for i, w := range want {
		if got[i].Level != w.level || got[i].Message != w.msg {
			t.Errorf("line %d: %s %q, want %s %q", i, got[i].Level, got[i].Message, w.level, w.msg)
		}
	}
}
