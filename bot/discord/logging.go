package discord

import (
	"fmt"
	"strings"

	"github.com/bwmarrin/discordgo"
	"go.uber.org/zap"
)

// RouteLibraryLogs sends discordgo's own log lines (gateway reconnects,
// heartbeats, REST errors) to log instead of the standard library logger,
// so they are structured lines in muster's log stream like everything
// else. It sets discordgo's package-wide logger: call it once, from main.
func RouteLibraryLogs(log *zap.Logger) {
	discordgo.Logger = libraryLogger(log)
}

// libraryLogger maps discordgo's levels onto zap's.
func libraryLogger(log *zap.Logger) func(msgL, caller int, format string, a ...any) {
	return func(msgL, _ int, format string, a ...any) {
		msg := strings.TrimSpace(fmt.Sprintf(format, a...))
		switch msgL {
		case discordgo.LogError:
			log.Error(msg)
		case discordgo.LogWarning:
			log.Warn(msg)
		case discordgo.LogInformational:
			log.Info(msg)
		default:
			log.Debug(msg)
		}
	}
}
