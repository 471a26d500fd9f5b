package fakediscord

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// commandName is Discord's rule for slash (chat input) command names; user and message
// commands may hold spaces and capitals.
var commandName = regexp.MustCompile(`^[-_'\p{L}\p{N}]{1,32}$`)

// handleCommands bulk-overwrites global or guild commands and answers the commands as stored.
func (s *Server) handleCommands(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("app") != s.appID {
		writeError(w, http.StatusForbidden, 50001, "Missing Access")
		return
	}
	body, _ := readAll(r)
	var cmds []map[string]json.RawMessage
	if err := json.Unmarshal(body, &cmds); err != nil {
		writeError(w, http.StatusBadRequest, 50109, "The request body contains invalid JSON.")
		return
	}
	guild := r.PathValue("guild")
	names := make([]string, 0, len(cmds))
	out := make([]map[string]json.RawMessage, 0, len(cmds))
	s.mu.Lock()
	defer func() {
		s.mu.Unlock()
		s.changes.Notify()
	}()
	version := s.nextID()
	for i, c := range cmds {
		var name, description string
		var typ int
		_ = json.Unmarshal(c["name"], &name)
		_ = json.Unmarshal(c["description"], &description)
		_ = json.Unmarshal(c["type"], &typ)
		chatInput := typ == 0 || typ == 1
		field := strconv.Itoa(i)
		switch {
		case chatInput && (!commandName.MatchString(name) || name != strings.ToLower(name)),
			!chatInput && (name == "" || utf8.RuneCountInString(name) > 32):
			writeFormError(w, field+".name", "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
			return
		case chatInput && (description == "" || utf8.RuneCountInString(description) > 100):
			writeFormError(w, field+".description", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
			return
		}
		if chatInput {
			if f, code, msg := checkOptions(field+".options", c["options"]); f != "" {
				writeFormError(w, f, code, msg)
				return
			}
		}
		names = append(names, name)
		stored := map[string]json.RawMessage{}
		for k, v := range c {
			stored[k] = v
		}
		stored["id"], _ = json.Marshal(s.nextID())
		stored["application_id"], _ = json.Marshal(s.appID)
		stored["version"], _ = json.Marshal(version)
		if typ == 0 {
			stored["type"] = json.RawMessage("1")
		}
		if guild != "" {
			stored["guild_id"], _ = json.Marshal(guild)
		}
		out = append(out, stored)
	}
	s.commandSets = append(s.commandSets, CommandSet{GuildID: guild, Names: names, Body: body, Received: s.now()})
	writeJSON(w, http.StatusOK, out)
}
