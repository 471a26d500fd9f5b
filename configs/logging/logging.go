// Package logging builds muster's zap loggers: JSON for serve, readable
// text for the console, and in both every phone number masked, including
// in fields added with With().
package logging

import (
	"io"
	"regexp"

	"go.uber.org/zap"
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

// New returns a logger writing to w. json picks the JSON encoder (serve)
// over the console one; level is debug, info, warn or error.
func New(w io.Writer, json bool, level string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, err
	}
	var enc zapcore.Encoder
	if json {
		ec := zap.NewProductionEncoderConfig()
		ec.TimeKey = "ts"
		ec.EncodeTime = zapcore.ISO8601TimeEncoder
		enc = zapcore.NewJSONEncoder(ec)
	} else {
		ec := zap.NewDevelopmentEncoderConfig()
		ec.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05")
		enc = zapcore.NewConsoleEncoder(ec)
	}
	core := zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), lvl)
	return zap.New(Masking(core)), nil
}

// Masking wraps a core so that phone numbers in the message and in string
// fields (also those added with With) are masked before encoding.
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

func maskFields(fields []zapcore.Field) []zapcore.Field {
	out := make([]zapcore.Field, len(fields))
	for i, f := range fields {
		switch f.Type {
		case zapcore.StringType:
			f.String = MaskText(f.String)
		case zapcore.ErrorType:
			if err, ok := f.Interface.(error); ok && err != nil {
				f = zap.String(f.Key, MaskText(err.Error()))
			}
		case zapcore.StringerType:
			if s, ok := f.Interface.(interface{ String() string }); ok {
				f = zap.String(f.Key, MaskText(s.String()))
			}
		}
		out[i] = f
	}
	return out
}
