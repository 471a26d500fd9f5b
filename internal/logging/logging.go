// Package logging builds muster's zap loggers: JSON lines for serve,
// readable text for the console, and in both every phone number masked,
// whatever kind of field carries it. It also routes the libraries' own
// logs (go-redis, discordgo) into the same stream.
package logging

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/buffer"
	"go.uber.org/zap/zapcore"
)

// phoneRE finds E.164 numbers anywhere in a string.
var phoneRE = regexp.MustCompile(`\+[1-9][0-9]{6,14}`)

// MaskPhone keeps only the last four digits: "+447700900101" is "***0101".
func MaskPhone(phone string) string {
	if len(phone) <= 4 {
		return "***"
	}
	return "***" + phone[len(phone)-4:]
}

// MaskText masks every phone number in s.
func MaskText(s string) string { return phoneRE.ReplaceAllStringFunc(s, MaskPhone) }

// Formats are the values --log-format takes.
var Formats = []string{"json", "text"}

// New returns a logger writing to w in format ("json": one JSON object a
// line; "text": readable columns) at level (debug, info, warn or error).
func New(w io.Writer, format, level string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, err
	}
	var enc zapcore.Encoder
	switch format {
	case "json":
		ec := zap.NewProductionEncoderConfig()
		ec.TimeKey = "ts"
		ec.EncodeTime = zapcore.ISO8601TimeEncoder
		enc = zapcore.NewJSONEncoder(ec)
	case "text":
		ec := zap.NewDevelopmentEncoderConfig()
		ec.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05")
		enc = zapcore.NewConsoleEncoder(ec)
	default:
		return nil, fmt.Errorf("log format %q: want %s", format, strings.Join(Formats, " or "))
	}
	core := zapcore.NewCore(MaskingEncoder(enc), zapcore.Lock(zapcore.AddSync(w)), lvl)
	return zap.New(core), nil
}

// MaskingEncoder wraps an encoder so that every phone number in the
// encoded line is masked: the message and every field of every kind
// (strings, lists, errors, objects, reflected values, byte strings), also
// those added with With, because it masks the finished line rather than
// the fields one kind at a time.
func MaskingEncoder(enc zapcore.Encoder) zapcore.Encoder { return maskEncoder{enc} }

type maskEncoder struct{ zapcore.Encoder }

func (m maskEncoder) Clone() zapcore.Encoder { return maskEncoder{m.Encoder.Clone()} }

func (m maskEncoder) EncodeEntry(e zapcore.Entry, fields []zapcore.Field) (*buffer.Buffer, error) {
	buf, err := m.Encoder.EncodeEntry(e, fields)
	if err != nil || !phoneRE.Match(buf.Bytes()) {
		return buf, err
	}
	masked := phoneRE.ReplaceAllFunc(buf.Bytes(), func(p []byte) []byte { return []byte(MaskPhone(string(p))) })
	buf.Reset()
	_, _ = buf.Write(masked)
	return buf, nil
}

// Masking wraps a core that does not encode (a test's observer) so that
// phone numbers in the message and in fields of every kind are masked
// before they reach it: a field that is not a plain string or number is
// handed on as its JSON text, masked.
func Masking(c zapcore.Core) zapcore.Core { return maskCore{c} }

type maskCore struct{ zapcore.Core }

func (m maskCore) With(fields []zapcore.Field) zapcore.Core {
	return maskCore{m.Core.With(maskFields(fields))}
}

func (m maskCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if m.Enabled(e.Level) {
		return ce.AddCore(e, m)
	}
	return ce
}

func (m maskCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	e.Message = MaskText(e.Message)
	return m.Core.Write(e, maskFields(fields))
}

// fieldJSON encodes single fields as {"key":value}.
var fieldJSON = zapcore.NewJSONEncoder(zapcore.EncoderConfig{})

func maskFields(fields []zapcore.Field) []zapcore.Field {
	out := make([]zapcore.Field, len(fields))
	for i, f := range fields {
		switch f.Type {
		case zapcore.StringType:
			f.String = MaskText(f.String)
		case zapcore.BoolType, zapcore.DurationType, zapcore.Float64Type, zapcore.Float32Type,
			zapcore.Int64Type, zapcore.Int32Type, zapcore.Int16Type, zapcore.Int8Type,
			zapcore.Uint64Type, zapcore.Uint32Type, zapcore.Uint16Type, zapcore.Uint8Type, zapcore.UintptrType,
			zapcore.TimeType, zapcore.TimeFullType, zapcore.SkipType:
			// No text in these.
		default:
			f = zap.String(f.Key, MaskText(encodeField(f)))
		}
		out[i] = f
	}
	return out
}

// encodeField is f's value as JSON text.
func encodeField(f zapcore.Field) string {
	buf, err := fieldJSON.EncodeEntry(zapcore.Entry{}, []zapcore.Field{f})
	if err != nil {
		return fmt.Sprintf("<%s: %v>", f.Key, err)
	}
	defer buf.Free()
	s := strings.TrimSpace(buf.String())
	// {"key":value} -> value
	if prefix := `{"` + f.Key + `":`; strings.HasPrefix(s, prefix) && strings.HasSuffix(s, "}") {
		s = s[len(prefix) : len(s)-1]
	}
	return s
}

// Printf adapts a zap logger to the Printf(ctx, format, args...) logging
// interface of go-redis (redis.SetLogger), so its pool and Sentinel
// messages are JSON lines like muster's own, at warn level.
func Printf(log *zap.Logger) PrintfLogger { return PrintfLogger{log} }

// PrintfLogger is a zap logger behind a printf-style interface.
type PrintfLogger struct{ log *zap.Logger }

// Printf logs one formatted line.
func (p PrintfLogger) Printf(_ context.Context, format string, v ...any) {
	p.log.Warn(strings.TrimSpace(fmt.Sprintf(format, v...)))
}
