-- Wireshark dissector for SIMP (Simple IMC Messaging Protocol), as simp implements it
-- (see SPEC.md section 1): a 39-byte header, then the payload, over UDP port 7777.
--
-- Load it for one run:
--     wireshark -X lua_script:contrib/wireshark/simp.lua
--     tshark    -X lua_script:contrib/wireshark/simp.lua -r capture.pcap
-- or install it for good by copying it to your personal plugin folder:
--     mkdir -p ~/.local/lib/wireshark/plugins && cp contrib/wireshark/simp.lua ~/.local/lib/wireshark/plugins/
-- The UDP port is a preference (Edit > Preferences > Protocols > SIMP, or `-o simp.port:7777`).
--
-- Display filters: simp.type, simp.op (flags simp.op.err/.syn/.ack/.fin on control datagrams),
-- simp.seq, simp.user, simp.length, simp.payload. Expert warnings for datagrams a simp daemon
-- drops: simp.short, simp.length_mismatch, simp.unknown_type, simp.unknown_op, simp.bad_seq.
--
-- Names and text are shown the way simp shows them to a person: bytes above 0x7E and control
-- bytes become \xNN (TAB and LF are kept in the payload field, escaped in names and in the Info
-- column). The dissector reads only bytes it has checked are there, and any Lua error is caught
-- and reported as expert info (simp.dissector_bug) rather than aborting the packet.

local HEADER_LEN = 39
local USER_LEN = 32
local INFO_TEXT_MAX = 40 -- payload bytes shown in the Info column before "..."

local TYPE_CONTROL = 0x01
local TYPE_CHAT = 0x02

local type_names = { [TYPE_CONTROL] = "Control", [TYPE_CHAT] = "Chat" }
local control_op_names = { [0x01] = "ERR", [0x02] = "SYN", [0x04] = "ACK", [0x08] = "FIN", [0x06] = "SYN+ACK" }
local chat_op_names = { [0x01] = "CHAT" }

local simp = Proto("simp", "Simple IMC Messaging Protocol")

local f_type = ProtoField.uint8("simp.type", "Type", base.HEX, type_names)
-- The operation's meaning depends on the type (0x01 is ERR or CHAT): two fields share the filter
-- name simp.op, each with its type's value string; unknown types get the one without names.
local f_op = ProtoField.uint8("simp.op", "Operation", base.HEX, control_op_names)
local f_op_chat = ProtoField.uint8("simp.op", "Operation", base.HEX, chat_op_names)
local f_op_other = ProtoField.uint8("simp.op", "Operation", base.HEX)
local f_op_err = ProtoField.bool("simp.op.err", "ERR", 8, nil, 0x01)
local f_op_syn = ProtoField.bool("simp.op.syn", "SYN", 8, nil, 0x02)
local f_op_ack = ProtoField.bool("simp.op.ack", "ACK", 8, nil, 0x04)
local f_op_fin = ProtoField.bool("simp.op.fin", "FIN", 8, nil, 0x08)
local f_seq = ProtoField.uint8("simp.seq", "Sequence", base.DEC)
local f_user = ProtoField.string("simp.user", "User")
local f_length = ProtoField.uint32("simp.length", "Length", base.DEC)
local f_payload = ProtoField.string("simp.payload", "Payload")

simp.fields = { f_type, f_op, f_op_chat, f_op_other, f_op_err, f_op_syn, f_op_ack, f_op_fin, f_seq, f_user, f_length, f_payload }

local e_short = ProtoExpert.new("simp.short", "Datagram shorter than the 39-byte SIMP header",
    expert.group.MALFORMED, expert.severity.WARN)
local e_length = ProtoExpert.new("simp.length_mismatch", "Length field does not match the payload bytes",
    expert.group.MALFORMED, expert.severity.WARN)
local e_type = ProtoExpert.new("simp.unknown_type", "Unknown SIMP type",
    expert.group.PROTOCOL, expert.severity.WARN)
local e_op = ProtoExpert.new("simp.unknown_op", "Operation not defined for this type",
    expert.group.PROTOCOL, expert.severity.WARN)
local e_seq = ProtoExpert.new("simp.bad_seq", "Sequence number is not 0 or 1",
    expert.group.PROTOCOL, expert.severity.WARN)
local e_bug = ProtoExpert.new("simp.dissector_bug", "Lua error in the SIMP dissector",
    expert.group.MALFORMED, expert.severity.ERROR)

simp.experts = { e_short, e_length, e_type, e_op, e_seq, e_bug }

simp.prefs.port = Pref.uint("UDP port", 7777, "UDP port SIMP daemons talk on")

-- Escapes bytes outside printable ASCII as \xNN; `keep_lines` keeps TAB and LF.
local function escape(bytes, keep_lines)
    local out = {}
    for i = 1, #bytes do
        local b = bytes:byte(i)
        if (b >= 0x20 and b <= 0x7e) or (keep_lines and (b == 0x09 or b == 0x0a)) then
            out[#out + 1] = string.char(b)
        else
            out[#out + 1] = string.format("\\x%02x", b)
        end
    end
    return table.concat(out)
end

-- The name: the bytes before the first NUL, trailing spaces trimmed (SPEC 1), raw bytes.
local function user_name(raw)
    local nul = string.find(raw, "\0", 1, true)
    if nul then
        raw = string.sub(raw, 1, nul - 1)
    end
    return (string.gsub(raw, " +$", ""))
end

local function op_name(ty, op)
    if ty == TYPE_CONTROL then
        return control_op_names[op]
    elseif ty == TYPE_CHAT then
        return chat_op_names[op]
    end
    return nil
end

local function dissect(tvb, pinfo, tree)
    local len = tvb:len() -- bytes captured; a truncated capture is dissected as far as it goes
    local reported = tvb:reported_len()
    pinfo.cols.protocol:set("SIMP")

    local root = tree:add(simp, tvb:range(0, len))
    local problems = {}

    if reported < HEADER_LEN then
        -- Show whichever whole header fields are there, then stop.
        if len >= 1 then root:add(f_type, tvb:range(0, 1)) end
        if len >= 2 then
            local ty = tvb:range(0, 1):uint()
            root:add((ty == TYPE_CONTROL and f_op) or (ty == TYPE_CHAT and f_op_chat) or f_op_other, tvb:range(1, 1))
        end
        if len >= 3 then root:add(f_seq, tvb:range(2, 1)) end
        if len >= 3 + USER_LEN then
            root:add(f_user, tvb:range(3, USER_LEN), escape(user_name(tvb:raw(3, USER_LEN)), false))
        end
        local size = string.format("%d byte%s", reported, reported == 1 and "" or "s")
        root:add_proto_expert_info(e_short,
            string.format("Datagram of %s, shorter than the %d-byte SIMP header", size, HEADER_LEN))
        root:append_text(", short datagram (" .. size .. ")")
        pinfo.cols.info:set("[short datagram: " .. size .. "]")
        return len
    end
    if len < HEADER_LEN then
        -- Header not captured (snaplen): nothing reliable to show.
        root:append_text(", header not captured")
        pinfo.cols.info:set("[SIMP header not captured]")
        return len
    end

    local ty = tvb:range(0, 1):uint()
    local op = tvb:range(1, 1):uint()
    local seq = tvb:range(2, 1):uint()
    local name = escape(user_name(tvb:raw(3, USER_LEN)), false)
    local length = tvb:range(35, 4):uint()
    local actual = reported - HEADER_LEN

    local type_item = root:add(f_type, tvb:range(0, 1))
    if not type_names[ty] then
        type_item:add_proto_expert_info(e_type, string.format("Unknown SIMP type 0x%02x (not control 0x01 or chat 0x02)", ty))
        problems[#problems + 1] = string.format("unknown type 0x%02x", ty)
    end

    local name_of_op = op_name(ty, op)
    local op_field = (ty == TYPE_CONTROL and f_op) or (ty == TYPE_CHAT and f_op_chat) or f_op_other
    local op_item = root:add(op_field, tvb:range(1, 1))
    if ty == TYPE_CONTROL then
        op_item:add(f_op_err, tvb:range(1, 1))
        op_item:add(f_op_syn, tvb:range(1, 1))
        op_item:add(f_op_ack, tvb:range(1, 1))
        op_item:add(f_op_fin, tvb:range(1, 1))
    end
    if type_names[ty] and not name_of_op then
        op_item:add_proto_expert_info(e_op, string.format("Operation 0x%02x is not defined for %s datagrams",
            op, string.lower(type_names[ty])))
        problems[#problems + 1] = string.format("unknown operation 0x%02x", op)
    end

    local seq_item = root:add(f_seq, tvb:range(2, 1))
    if seq > 1 then
        seq_item:add_proto_expert_info(e_seq, string.format("Sequence number %d is not 0 or 1", seq))
        problems[#problems + 1] = string.format("bad seq %d", seq)
    end

    root:add(f_user, tvb:range(3, USER_LEN), name)

    local length_item = root:add(f_length, tvb:range(35, 4))
    if length ~= actual then
        length_item:add_proto_expert_info(e_length,
            string.format("Length field %d but %d payload bytes", length, actual))
        problems[#problems + 1] = string.format("length %d but %d payload bytes", length, actual)
    end

    -- The payload is every byte after the header (even when the length field disagrees).
    local shown = math.min(len, reported) - HEADER_LEN
    local raw_payload = ""
    if shown > 0 then
        raw_payload = tvb:raw(HEADER_LEN, shown)
        local label = (ty == TYPE_CONTROL and op == 0x01) and "Reason" or "Text"
        local text = escape(raw_payload, true)
        root:add(f_payload, tvb:range(HEADER_LEN, shown), text, label .. ": " .. escape(raw_payload, false))
    end

    -- Info column: "SYN+ACK seq=0 bob", "CHAT seq=1 alice: Hello".
    local what
    if name_of_op then
        what = name_of_op
    elseif type_names[ty] then
        what = string.format("%s op 0x%02x", type_names[ty], op)
    else
        what = string.format("type 0x%02x op 0x%02x", ty, op)
    end
    local info = string.format("%s seq=%d", what, seq)
    if name ~= "" then
        info = info .. " " .. name
    end
    if #raw_payload > 0 then
        local text = escape(string.sub(raw_payload, 1, INFO_TEXT_MAX), false)
        if #raw_payload > INFO_TEXT_MAX then
            text = text .. "..."
        end
        info = info .. ": " .. text
    end
    if #problems > 0 then
        info = "[" .. table.concat(problems, ", ") .. "] " .. info
    end
    pinfo.cols.info:set(info)
    root:append_text(", " .. info)
    return len
end

function simp.dissector(tvb, pinfo, tree)
    local ok, result = pcall(dissect, tvb, pinfo, tree)
    if ok then
        return result
    end
    -- Never let a Lua error escape: report it on the packet instead.
    tree:add_proto_expert_info(e_bug, "Lua error in the SIMP dissector: " .. tostring(result))
    return tvb:len()
end

local current_port = simp.prefs.port
DissectorTable.get("udp.port"):add(current_port, simp)

function simp.prefs_changed()
    if simp.prefs.port ~= current_port then
        DissectorTable.get("udp.port"):remove(current_port, simp)
        current_port = simp.prefs.port
        DissectorTable.get("udp.port"):add(current_port, simp)
    end
end
