package fakediscord

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Application command option types (the subset whose rules differ).
const (
	optionSubCommand      = 1
	optionSubCommandGroup = 2
)

// option is an application command option as the fake checks it.
type option struct {
	Type        int               `json:"type"`
	Name        string            `json:"name"`
	Description string            `json:"description"`
	Required    bool              `json:"required"`
	Choices     []json.RawMessage `json:"choices"`
	Options     []option          `json:"options"`
}

// checkOptions applies Discord's rules for a chat input command's options
// (https://discord.com/developers/docs/interactions/application-commands#application-command-object):
// at most 25; names like command names and lowercase; descriptions of 1
// to 100 characters; required options before optional ones; at most 25
// choices; subcommands (and groups) not mixed with plain options; groups
// hold only subcommands, subcommands hold no subcommands. It returns the
// dotted path of the first bad field, Discord's error code and message,
// or "" when all is well.
func checkOptions(path string, raw json.RawMessage) (field, code, message string) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", "", ""
	}
	var opts []option
	if err := json.Unmarshal(raw, &opts); err != nil {
		return path, "MODEL_TYPE_CONVERT", "Could not interpret the options"
	}
	return checkOptionList(path, opts, 0)
}

// checkOptionList checks the options of a command (parent 0), a
// subcommand (parent 1) or a subcommand group (parent 2).
func checkOptionList(path string, opts []option, parent int) (field, code, message string) {
	if len(opts) > 25 {
		return path, "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
	}
	optional, subs, plain := false, 0, 0
	seen := map[string]bool{}
	for i, o := range opts {
		p := path + "." + strconv.Itoa(i)
		isSub := o.Type == optionSubCommand || o.Type == optionSubCommandGroup
		switch {
		case o.Type < 1 || o.Type > 11:
			return p + ".type", "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}."
		case !commandName.MatchString(o.Name) || o.Name != strings.ToLower(o.Name):
			return p + ".name", "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"
		case seen[o.Name]:
			return p + ".name", "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS", "Option names must be unique"
		case o.Description == "" || utf8.RuneCountInString(o.Description) > 100:
			return p + ".description", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
		case len(o.Choices) > 25:
			return p + ".choices", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
		case !isSub && o.Required && optional:
			return p + ".required", "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID", "Required options must be placed before non-required options"
		case parent == optionSubCommand && isSub, parent == optionSubCommandGroup && o.Type != optionSubCommand:
			return p + ".type", "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID", "Sub-command and sub-command group option types are mutually exclusive to all other types"
		}
		seen[o.Name] = true
		if !isSub && !o.Required {
			optional = true
		}
		if isSub {
			subs++
			if f, c, m := checkOptionList(p+".options", o.Options, o.Type); f != "" {
				return f, c, m
			}
		} else {
			plain++
			if len(o.Options) > 0 {
				return p + ".options", "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID", "Only sub-commands may have options"
			}
		}
	}
	if subs > 0 && plain > 0 {
		return path, "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID", "Sub-command and sub-command group option types are mutually exclusive to all other types"
	}
	return "", "", ""
}
