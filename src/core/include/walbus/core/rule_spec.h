#pragma once

#include <optional>
#include <string>
#include <vector>

#include "walbus/core/change_event.h"

// Mapping rules as the configuration states them, before they are compiled (mappers/). The
// config module fills these from YAML; every piece of rule text keeps its place in the file, so
// that an error inside an expression is reported at the file, line and column of its token.

namespace walbus {

// A scalar of rule text and where it stands in the configuration file.
struct RuleText {
    std::string text;
    int line = 0;      // 1-based line of the text's first character; 0 when unknown
    int column = 0;    // 1-based column of the text's first character
    bool exact = true; // the text is the file's characters one for one (no escapes, one line)

    [[nodiscard]] bool empty() const { return text.empty(); }
};

enum class Envelope { Plain, CloudEventsStructured, CloudEventsBinary };

// What a rule reads: row changes of a table, rows inserted into an outbox table, or logical
// decoding messages (pg_logical_emit_message).
enum class RuleKind { Change, Outbox, Message };

// Column layouts of outbox tables that work without naming columns.
enum class OutboxLayout {
    Standard,            // id, aggregatetype (topic), aggregateid (key), type, payload
    IntegrationEventLog, // EventId, EventTypeName (type and topic), Content (payload)
};

// One entry of a payload: an expression, or a nested object of entries.
struct PayloadField {
    std::string name;
    RuleText name_place; // the key in the file, for messages about the entry itself
    RuleText expr;       // when not an object
    bool object = false;
    std::vector<PayloadField> fields; // when an object
};

struct RuleHeader {
    std::string name;
    RuleText value; // a template
};

struct RuleSpec {
    std::string name;
    RuleText place; // the rule's first key, for messages about the whole rule
    RuleKind kind = RuleKind::Change;

    // Change and Outbox: the table, "schema.table" or "table" (schema public).
    RuleText table;
    // Change: the operations that match; empty means every one but truncate.
    std::vector<Operation> operations;
    // Message: the prefix a message must have (exactly).
    RuleText prefix;

    RuleText when;    // a condition; empty: always
    RuleText event;   // template: the event type name
    RuleText topic;   // template
    RuleText key;     // template; empty: no key
    RuleText id;      // expression giving the event id; empty: name-based UUID
    RuleText subject; // template: CloudEvents subject; empty: none
    bool has_payload = false;
    std::vector<PayloadField> payload;
    std::vector<RuleHeader> headers;
    std::optional<Envelope> envelope; // unset: mapping.envelope

    // Outbox: the layout and the column names that override it ("" keeps the layout's).
    OutboxLayout layout = OutboxLayout::Standard;
    std::string id_column;
    std::string type_column;
    std::string topic_column;
    std::string key_column;
    std::string payload_column;
};

enum class UnmatchedPolicy { Drop, Raw };
enum class MappingErrorPolicy { Stop, DeadLetter };

// The `mapping` section: what happens around the rules.
struct MappingSpec {
    UnmatchedPolicy unmatched = UnmatchedPolicy::Drop;
    RuleText raw_topic{"{schema}.{table}"}; // template, for unmatched: raw
    MappingErrorPolicy on_error = MappingErrorPolicy::Stop;
    std::string dead_letter_topic = "walbus.dead_letter";
    Envelope envelope = Envelope::Plain;
    std::string cloudevents_source; // empty: "/walbus/<pipeline name>"
};

} // namespace walbus
