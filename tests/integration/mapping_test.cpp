// Mapping rules against a real PostgreSQL: the eShop example (examples/eshop) as it is, outbox
// tables and messages, name-based event ids, unmatched changes, mapping errors, and the rule
// checks of `walbus check --connect` and `walbus tail`.

#include <catch2/catch.hpp>
#include <signal.h>
#include <simdjson.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "events.h"
#include "harness.h"
#include "walbus/core/lsn.h"

using namespace walbus::test;

namespace {

using Headers = std::map<std::string, std::string>;

// One line of mapped output: {"topic":...,"key":...,"headers":{...},"value":...}.
struct Mapped {
    std::string topic;
    std::optional<std::string> key;
    Headers headers;
    std::string value; // the value's JSON text, whitespace outside strings removed
    std::string line;
};

std::string raw_json(simdjson::ondemand::value v) {
    switch (v.type().value()) {
    case simdjson::ondemand::json_type::object:
        return std::string(v.get_object().value().raw_json().value());
    case simdjson::ondemand::json_type::array:
        return std::string(v.get_array().value().raw_json().value());
    default: return std::string(v.raw_json_token());
    }
}

// Parses walbus's mapped output: every line must be a JSON object with exactly these fields.
std::vector<Mapped> parse_mapped(const std::string& text) {
    std::vector<Mapped> out;
    simdjson::dom::parser dom;
    simdjson::ondemand::parser ondemand;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        INFO("output line: " << line);
        REQUIRE(!line.empty());
        simdjson::dom::element doc;
        REQUIRE(dom.parse(line).get(doc) == simdjson::SUCCESS);
        std::vector<std::string> keys;
        for (auto [k, v] : doc.get_object()) {
            keys.emplace_back(k);
        }
        REQUIRE(keys == std::vector<std::string>{"topic", "key", "headers", "value"});
        Mapped m;
        m.line = line;
        m.topic = std::string(doc["topic"].get_string().value());
        if (!doc["key"].is_null()) {
            m.key = std::string(doc["key"].get_string().value());
        }
        for (auto [k, v] : doc["headers"].get_object()) {
            REQUIRE(v.is_string());
            m.headers[std::string(k)] = std::string(v.get_string().value());
        }
        // The value as written (numbers keep their digits), without insignificant whitespace.
        std::string minified(line.size(), '\0');
        std::size_t length = 0;
        REQUIRE(simdjson::minify(line.data(), line.size(), minified.data(), length) ==
                simdjson::SUCCESS);
        minified.resize(length);
        simdjson::padded_string padded(minified);
        auto value_doc = ondemand.iterate(padded);
        m.value = raw_json(value_doc["value"].value());
        out.push_back(std::move(m));
    }
    return out;
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

bool is_uuid_v5(const std::string& s) {
    static const std::regex re(
        "[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
    return std::regex_match(s, re);
}

// The server's clock, in the form of event times (UTC, microseconds).
std::string server_time(TestDb& db) {
    return db.conn().value("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', "
                           "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')");
}

// Times and positions differ from run to run: checks them, then replaces them with <time> and
// <position> so that the rest of the event can be compared exactly.
struct Window {
    std::string from; // server times around the commits
    std::string to;
};

void check_time(const std::string& time, const Window& w) {
    static const std::regex re("\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{6}Z");
    INFO("event time " << time << ", commits between " << w.from << " and " << w.to);
    CHECK(std::regex_match(time, re));
    CHECK(time >= w.from);
    CHECK(time <= w.to);
}

// commit_lsn and seq of a walbus-position header ("0/1A2B3C:1").
std::pair<walbus::Lsn, std::uint64_t> position(const Mapped& m) {
    const std::string& p = m.headers.at("walbus-position");
    static const std::regex re("([0-9A-F]+/[0-9A-F]+):(\\d+)");
    std::smatch match;
    INFO("walbus-position " << p);
    REQUIRE(std::regex_match(p, match, re));
    auto lsn = walbus::Lsn::parse(match[1].str());
    REQUIRE(lsn);
    return {*lsn, std::stoull(match[2].str())};
}

Mapped normalized(Mapped m, const Window& w) {
    if (m.headers.contains("walbus-time")) {
        check_time(m.headers["walbus-time"], w);
        m.headers["walbus-time"] = "<time>";
    }
    if (m.headers.contains("walbus-position")) {
        (void)position(m);
        m.headers["walbus-position"] = "<position>";
    }
    if (m.value.starts_with("{\"specversion\"")) {
        static const std::regex time_re("^(\\{.*?,\"time\":\")([^\"]*)(\")");
        std::smatch match;
        REQUIRE(std::regex_search(m.value, match, time_re));
        check_time(match[2].str(), w);
        m.value = std::regex_replace(m.value, time_re, "$1<time>$3",
                                     std::regex_constants::format_first_only);
    }
    return m;
}

// The event's id (walbus-id, or a structured CloudEvent's id), replaced with <id>.
std::string take_id(Mapped& m) {
    if (auto it = m.headers.find("walbus-id"); it != m.headers.end()) {
        std::string id = it->second;
        it->second = "<id>";
        return id;
    }
    static const std::regex id_re("^(\\{\"specversion\":\"1\\.0\",\"id\":\")([^\"]*)(\")");
    std::smatch match;
    INFO("event without an id: " << m.line);
    REQUIRE(std::regex_search(m.value, match, id_re));
    std::string id = match[2].str();
    m.value =
        std::regex_replace(m.value, id_re, "$1<id>$3", std::regex_constants::format_first_only);
    return id;
}

void check_event(const Mapped& actual, const std::string& topic,
                 const std::optional<std::string>& key, const Headers& headers,
                 const std::string& value) {
    INFO("event: " << actual.line);
    CHECK(actual.topic == topic);
    CHECK(actual.key == key);
    CHECK(actual.headers == headers);
    CHECK(actual.value == value);
}

fs::path examples_dir() {
    return fs::path(WALBUS_EXAMPLES_DIR) / "eshop";
}

// Runs a SQL file with psql, as a user would: each statement on its own, in file order.
void run_psql(TestDb& db, const fs::path& file, const TempDir& dir) {
    auto log = dir / "psql.log";
    std::string cmd = "psql -X -q -v ON_ERROR_STOP=1 -d '" + db.dsn() + "' -f '" + file.string() +
                      "' >>'" + log.string() + "' 2>&1";
    int code = std::system(cmd.c_str());
    INFO("psql output:\n" << read_file(log));
    REQUIRE(code == 0);
}

// Replaces the line starting with `prefix` (such as "  slot: ") in a configuration.
std::string with_line(std::string text, const std::string& prefix, const std::string& line) {
    auto at = text.find("\n" + prefix);
    REQUIRE(at != std::string::npos);
    auto end = text.find('\n', at + 1);
    return text.replace(at + 1, end - at - 1, line);
}

// An example's walbus.yaml with this test's slot (slots are per server), written into dir.
fs::path example_config(const TempDir& dir, const fs::path& example, const std::string& slot,
                        const std::string& file = "walbus.yaml") {
    auto text = with_line(read_file(example / "walbus.yaml"), "  slot: ", "  slot: " + slot);
    auto path = dir / file;
    std::ofstream(path) << text;
    return path;
}

std::map<std::string, std::string> example_env(TestDb& db, const fs::path& state) {
    return {{"WALBUS_DSN", db.dsn()}, {"WALBUS_STATE_DIR", state.string()}};
}

// Runs walbus until it has written everything committed so far; returns its standard output.
std::string run_to_end(const TempDir& dir, TestDb& db, const fs::path& config,
                       const std::map<std::string, std::string>& env = {}) {
    auto r =
        run_walbus({"run", "-c", config.string(), "--stop-at-lsn", db.current_wal_lsn()}, dir, env);
    INFO("walbus stderr:\n" << r.err);
    REQUIRE(r.code == 0);
    return r.out;
}

// A configuration for `db` (file sink: dir/events.jsonl) with the given mapping and rules YAML.
fs::path rules_config(const TempDir& dir, const TestDb& db, const ConfigOptions& options,
                      const std::string& yaml) {
    auto path = write_config(dir, db, options);
    std::ofstream(path, std::ios::app) << yaml;
    return path;
}

// Drops the test database's replication slots at the end of a test: the shared server has room
// for only so many.
struct SlotCleanup {
    TestDb& db;
    ~SlotCleanup() {
        (void)db.conn().try_exec("SELECT pg_drop_replication_slot(slot_name) FROM "
                                 "pg_replication_slots WHERE database = current_database() AND "
                                 "NOT active");
    }
};

std::vector<Mapped> events_in(const TempDir& dir) {
    return parse_mapped(read_file(dir / "events.jsonl"));
}

} // namespace

TEST_CASE("the eShop rules turn the eShop workload into its integration events", "[mapping]") {
    TestDb db("map_eshop");
    SlotCleanup cleanup{db};
    TempDir dir;
    run_psql(db, examples_dir() / "schema.sql", dir);
    auto config = example_config(dir, examples_dir(), db.name());
    auto env = example_env(db, dir.path());
    REQUIRE(run_to_end(dir, db, config, env).empty()); // creates the slot

    Window window{server_time(db), ""};
    run_psql(db, examples_dir() / "workload.sql", dir);
    window.to = server_time(db);
    auto events = parse_mapped(run_to_end(dir, db, config, env));

    // The rename, the inserts and the rolled-back transaction give nothing.
    REQUIRE(events.size() == 4);
    for (const auto& e : events) {
        CHECK(e.key != "3");
        CHECK_FALSE(contains(e.line, "Prism"));
        CHECK_FALSE(contains(e.value, "\"NewPrice\":\"1.00\""));
    }
    std::vector<std::string> ids;
    std::vector<Mapped> n;
    for (const auto& e : events) {
        n.push_back(normalized(e, window));
        ids.push_back(take_id(n.back()));
    }
    const Headers plain_price{{"walbus-id", "<id>"},
                              {"walbus-type", "ProductPriceChangedIntegrationEvent"},
                              {"walbus-source", "public.catalog_items"},
                              {"walbus-op", "update"},
                              {"walbus-time", "<time>"},
                              {"walbus-position", "<position>"}};
    check_event(n[0], "catalog.events", "1", plain_price,
                R"({"ProductId":1,"NewPrice":"24.99","OldPrice":"19.50"})");

    const Headers cloudevent{{"x-source-service", "ordering"},
                             {"content-type", "application/cloudevents+json"}};
    check_event(n[1], "ordering.events", "1001", cloudevent,
                R"({"specversion":"1.0","id":"<id>","source":"/walbus/eshop",)"
                R"("type":"OrderStatusChangedToStockConfirmedIntegrationEvent","time":"<time>",)"
                R"("subject":"order/1001","datacontenttype":"application/json",)"
                R"("data":{"OrderId":1001,"OrderStatus":"StockConfirmed",)"
                R"("BuyerIdentityGuid":"b7f9-buyer","Total":"40.50"}})");

    Headers plain_stock = plain_price;
    plain_stock["walbus-type"] = "ProductStockChangedIntegrationEvent";
    check_event(n[2], "catalog.events", "2", plain_stock,
                R"({"ProductId":2,"AvailableStock":87,"WasOutOfStock":false})");

    check_event(n[3], "ordering.events", "1001", cloudevent,
                R"({"specversion":"1.0","id":"<id>","source":"/walbus/eshop",)"
                R"("type":"OrderStatusChangedToPaidIntegrationEvent","time":"<time>",)"
                R"("subject":"order/1001","datacontenttype":"application/json",)"
                R"("data":{"OrderId":1001,"OrderStatus":"Paid",)"
                R"("BuyerIdentityGuid":"b7f9-buyer","Total":"40.50"}})");

    // Name-based ids, one per event.
    for (const auto& id : ids) {
        CHECK(is_uuid_v5(id));
    }
    CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == ids.size());
    // The stock change is the second change of the transaction that confirmed the order; the
    // price change committed before it.
    auto [price_lsn, price_seq] = position(events[0]);
    auto [stock_lsn, stock_seq] = position(events[2]);
    CHECK(price_seq == 0);
    CHECK(stock_seq == 1);
    CHECK(price_lsn < stock_lsn);
    CHECK(events[2].headers.at("walbus-time") ==
          std::regex_replace(events[1].value, std::regex(".*\"time\":\"([^\"]*)\".*"), "$1"));
}

TEST_CASE("the same WAL read through two slots gives the same event ids", "[mapping]") {
    TestDb db("map_ids");
    SlotCleanup cleanup{db};
    TempDir dir;
    run_psql(db, examples_dir() / "schema.sql", dir);
    // Two slots created at the same point, and a third pipeline under another name.
    for (const char* suffix : {"_a", "_b", "_c"}) {
        db.conn().exec("SELECT pg_create_logical_replication_slot('" + db.name() + suffix +
                       "', 'pgoutput')");
    }
    auto a = example_config(dir, examples_dir(), db.name() + "_a", "a.yaml");
    auto b = example_config(dir, examples_dir(), db.name() + "_b", "b.yaml");
    auto c = dir / "c.yaml";
    std::ofstream(c) << with_line(
        read_file(example_config(dir, examples_dir(), db.name() + "_c", "c0.yaml")),
        "name: ", "name: eshop-copy");
    fs::create_directories(dir / "a");
    fs::create_directories(dir / "b");
    fs::create_directories(dir / "c");
    run_psql(db, examples_dir() / "workload.sql", dir);

    auto out_a = run_to_end(dir, db, a, example_env(db, dir / "a"));
    auto out_b = run_to_end(dir, db, b, example_env(db, dir / "b"));
    auto out_c = run_to_end(dir, db, c, example_env(db, dir / "c"));
    auto events_a = parse_mapped(out_a);
    auto events_b = parse_mapped(out_b);
    auto events_c = parse_mapped(out_c);
    REQUIRE(events_a.size() == 4);
    REQUIRE(events_b.size() == 4);
    REQUIRE(events_c.size() == 4);
    for (std::size_t i = 0; i < 4; ++i) {
        auto ma = events_a[i];
        auto mb = events_b[i];
        auto mc = events_c[i];
        auto id_a = take_id(ma);
        CHECK(is_uuid_v5(id_a));
        CHECK(id_a == take_id(mb));
        // The pipeline's name is part of the id: another pipeline's events are other events.
        CHECK(id_a != take_id(mc));
    }
    // Everything else is the same too: the events are the same events.
    CHECK(out_a == out_b);
}

TEST_CASE("outbox tables and messages are published as they are", "[mapping]") {
    TestDb db("map_outbox");
    SlotCleanup cleanup{db};
    TempDir dir;
    const auto example = examples_dir() / "outbox";
    run_psql(db, example / "schema.sql", dir);
    auto config = example_config(dir, example, db.name());
    auto env = example_env(db, dir.path());
    REQUIRE(run_to_end(dir, db, config, env).empty());

    Window window{server_time(db), ""};
    run_psql(db, example / "workload.sql", dir);
    // More changes that publish nothing: outbox rows updated or deleted later, and a message
    // with another prefix.
    db.conn().exec("UPDATE outbox SET payload = '{\"changed\": true}', type = 'Changed'");
    db.conn().exec("DELETE FROM \"IntegrationEventLog\"");
    db.conn().exec("SELECT pg_logical_emit_message(true, 'ordering-audit', '{\"x\":1}')");
    window.to = server_time(db);
    auto events = parse_mapped(run_to_end(dir, db, config, env));
    REQUIRE(events.size() == 4);
    std::vector<Mapped> n;
    for (const auto& e : events) {
        n.push_back(normalized(e, window));
    }

    // The standard outbox: topic = aggregatetype, key = aggregateid, id = the row's id, type =
    // type, the jsonb payload embedded.
    check_event(n[0], "catalog", "1",
                {{"walbus-id", "7d4b3c6e-2f1a-4e8b-9c5d-0a1b2c3d4e5f"},
                 {"walbus-type", "ProductPriceChanged"},
                 {"walbus-source", "public.outbox"},
                 {"walbus-op", "insert"},
                 {"walbus-time", "<time>"},
                 {"walbus-position", "<position>"}},
                R"({"NewPrice":24.99,"OldPrice":19.50,"ProductId":1})");
    check_event(
        n[1], "basket", "b7f9-buyer",
        {{"walbus-id", "3e9a8f21-6c5d-4b7a-8e1f-2d3c4b5a6978"},
         {"walbus-type", "UserCheckoutAccepted"},
         {"walbus-source", "public.outbox"},
         {"walbus-op", "insert"},
         {"walbus-time", "<time>"},
         {"walbus-position", "<position>"}},
        R"({"City":"Redmond","Items":[{"Quantity":2,"ProductId":1}],"UserId":"b7f9-buyer"})");

    // The .NET IntegrationEventLog: id = EventId, type (and topic) = EventTypeName, the JSON text
    // of Content embedded; the State/TimesSent updates gave nothing.
    const std::string type = "eShop.Ordering.API.Application.IntegrationEvents.Events."
                             "OrderStatusChangedToSubmittedIntegrationEvent";
    check_event(n[2], type, std::nullopt,
                {{"walbus-id", "5f0c2a7e-8b1d-4c3e-9a6f-7e8d9c0b1a2f"},
                 {"walbus-type", type},
                 {"walbus-source", "public.IntegrationEventLog"},
                 {"walbus-op", "insert"},
                 {"walbus-time", "<time>"},
                 {"walbus-position", "<position>"}},
                R"({"OrderId":1001,"OrderStatus":"Submitted","BuyerName":"b7f9-buyer",)"
                R"("BuyerIdentityGuid":"b7f9-buyer","Id":"5f0c2a7e-8b1d-4c3e-9a6f-7e8d9c0b1a2f",)"
                R"("CreationDate":"2024-05-01T10:00:00Z"})");

    // The message rule: the content embedded, a name-based id.
    auto message = n[3];
    CHECK(is_uuid_v5(take_id(message)));
    check_event(message, "ordering.events", std::nullopt,
                {{"walbus-id", "<id>"},
                 {"walbus-type", "GracePeriodConfirmedIntegrationEvent"},
                 {"walbus-source", "ordering"},
                 {"walbus-op", "message"},
                 {"walbus-time", "<time>"},
                 {"walbus-position", "<position>"}},
                R"({"OrderId":1001})");
}

TEST_CASE("JSON written on several lines is embedded on one line", "[mapping]") {
    TestDb db("map_outbox_lines");
    SlotCleanup cleanup{db};
    TempDir dir;
    const auto example = examples_dir() / "outbox";
    run_psql(db, example / "schema.sql", dir);
    auto config = example_config(dir, example, db.name());
    auto env = example_env(db, dir.path());
    REQUIRE(run_to_end(dir, db, config, env).empty());
    // The .NET sample serialises Content with WriteIndented = true.
    db.conn().exec(
        "INSERT INTO \"IntegrationEventLog\" VALUES ("
        "'0b6f3b8e-9d4c-4f2a-8e1b-3c5d7e9f1a2b', 'OrderStartedIntegrationEvent', 0, 0, "
        "now(), E'{\\n  \"UserId\": \"b7f9-buyer\",\\n  \"Note\": \"two\\\\nlines\"\\n}', "
        "NULL)");
    db.conn().exec("INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload) VALUES ("
                   "'1c7e4a9f-0e5d-4b3a-9f2c-4d6e8f0a2b3c', 'basket', 'b1', 'Emptied', "
                   "E'{\"note\": \"line\\\\nbreak\"}')");
    // A message whose JSON ends with a line break, as many serialisers write it.
    db.conn().exec("SELECT pg_logical_emit_message(true, 'ordering', E'{\"OrderId\": 8}\\r\\n')");
    auto out = run_to_end(dir, db, config, env);
    auto events = parse_mapped(out); // every line a whole event
    REQUIRE(events.size() == 3);
    CHECK(events[0].value == R"({"UserId":"b7f9-buyer","Note":"two\nlines"})");
    CHECK(events[1].value == R"({"note":"line\nbreak"})");
    CHECK(events[2].value == R"({"OrderId":8})");
}

TEST_CASE("a non-transactional message has its time, not the epoch", "[mapping]") {
    TestDb db("map_message_nontx");
    SlotCleanup cleanup{db};
    TempDir dir;
    const auto example = examples_dir() / "outbox";
    run_psql(db, example / "schema.sql", dir);
    auto config = example_config(dir, example, db.name());
    auto env = example_env(db, dir.path());
    REQUIRE(run_to_end(dir, db, config, env).empty());
    Window window{server_time(db), ""};
    // Outside a transaction nothing flushes the WAL at once: run until the message's own end.
    auto end =
        db.conn().value("SELECT pg_logical_emit_message(false, 'ordering', '{\"OrderId\": 9}')");
    auto r = run_walbus({"run", "-c", config.string(), "--stop-at-lsn", end}, dir, env);
    INFO("walbus stderr:\n" << r.err);
    REQUIRE(r.code == 0);
    window.to = server_time(db);
    auto events = parse_mapped(r.out);
    REQUIRE(events.size() == 1);
    CHECK(events[0].topic == "ordering.events");
    CHECK(events[0].value == R"({"OrderId":9})");
    CHECK(events[0].headers["walbus-op"] == "message");
    // A message outside a transaction has no commit time: the event may leave the time out,
    // but a time it gives must be the real one.
    if (events[0].headers.contains("walbus-time")) {
        check_time(events[0].headers["walbus-time"], window);
    }
}

TEST_CASE("mapping.unmatched: raw writes unmatched changes as change events", "[mapping]") {
    TestDb db("map_raw");
    SlotCleanup cleanup{db};
    db.conn().exec("CREATE TABLE mapped (id int PRIMARY KEY, v text);"
                   "CREATE TABLE unmapped (id int PRIMARY KEY, v text)");
    TempDir dir;
    auto config = rules_config(dir, db, with_tables({"mapped", "unmapped"}),
                               "mapping:\n"
                               "  unmatched: raw\n"
                               "  raw_topic: \"cdc.{schema}.{table}\"\n"
                               "rules:\n"
                               "  - name: mapped_added\n"
                               "    table: mapped\n"
                               "    operations: [insert]\n"
                               "    event: MappedAdded\n"
                               "    topic: mapped.events\n"
                               "    key: \"{new.id}\"\n"
                               "    payload:\n"
                               "      Id: new.id\n");
    run_to_end(dir, db, config);
    db.conn().exec("INSERT INTO mapped VALUES (1, 'a'); INSERT INTO unmapped VALUES (7, 'b')");
    run_to_end(dir, db, config);

    auto events = events_in(dir);
    REQUIRE(events.size() == 2);
    CHECK(events[0].topic == "mapped.events");
    CHECK(events[0].value == R"({"Id":1})");

    auto& raw = events[1];
    CHECK(raw.topic == "cdc.public.unmapped");
    CHECK(raw.key == R"({"id":7})");
    CHECK(raw.headers.size() == 2);
    CHECK(is_uuid_v5(raw.headers["walbus-id"]));
    CHECK(raw.headers["walbus-type"] == "walbus.change");
    // The value is the change event of docs/event-format.md.
    auto change = parse_event_lines(raw.value);
    REQUIRE(change.size() == 1);
    CHECK(change[0].op == "insert");
    CHECK(change[0].schema == "public");
    CHECK(change[0].table == "unmapped");
    CHECK(*change[0].after == std::map<std::string, std::string>{{"id", "7"}, {"v", "\"b\""}});
    CHECK(change[0].seq == 1);
}

namespace {

// Rules on a table whose column `note` the tests drop while walbus is not looking.
std::string note_rules(const std::string& on_error, bool read_note = true) {
    return "mapping:\n"
           "  on_error: " +
           on_error +
           "\n"
           "  dead_letter_topic: notes.dead_letter\n"
           "rules:\n"
           "  - name: note_added\n"
           "    table: notes\n"
           "    operations: [insert]\n"
           "    event: NoteAdded\n"
           "    topic: notes\n"
           "    key: \"{new.id}\"\n"
           "    payload:\n"
           "      Id: new.id\n" +
           (read_note ? "      Text: new.note\n" : "") +
           "  - name: note_seen\n"
           "    table: notes\n"
           "    operations: [insert]\n"
           "    event: NoteSeen\n"
           "    topic: notes.seen\n"
           "    payload:\n"
           "      Id: new.id\n"
           "  - name: tag_added\n"
           "    table: tags\n"
           "    operations: [insert]\n"
           "    event: TagAdded\n"
           "    topic: tags\n"
           "    payload:\n"
           "      Id: new.id\n";
}

// Row 1 with its note; then the column is dropped; then row 2 of notes and row 3 of tags, each
// in its own transaction.
void drop_note_mid_stream(TestDb& db) {
    db.conn().exec("INSERT INTO notes VALUES (1, 'first')");
    db.conn().exec("ALTER TABLE notes DROP COLUMN note");
    db.conn().exec("INSERT INTO notes VALUES (2)");
    db.conn().exec("INSERT INTO tags VALUES (3)");
}

std::vector<std::string> topics_and_values(const std::vector<Mapped>& events) {
    std::vector<std::string> out;
    for (const auto& e : events) {
        out.push_back(e.topic + " " + e.value);
    }
    return out;
}

} // namespace

TEST_CASE("mapping.on_error: stop exits 1 naming the rule when a column was dropped", "[mapping]") {
    TestDb db("map_stop");
    SlotCleanup cleanup{db};
    db.conn().exec("CREATE TABLE notes (id int PRIMARY KEY, note text);"
                   "CREATE TABLE tags (id int PRIMARY KEY)");
    TempDir dir;
    const auto tables = with_tables({"notes", "tags"});
    auto config = rules_config(dir, db, tables, note_rules("stop"));
    run_to_end(dir, db, config);
    drop_note_mid_stream(db);

    auto lsn = db.current_wal_lsn();
    for (int attempt = 0; attempt < 2; ++attempt) { // a restart stops at the same change
        auto r = run_walbus({"run", "-c", config.string(), "--stop-at-lsn", lsn}, dir);
        INFO("walbus stderr:\n" << r.err);
        CHECK(r.code == 1);
        CHECK(contains(r.err, "rule 'note_added' cannot map the insert of public.notes"));
        CHECK(contains(r.err, "'note'"));
        CHECK(contains(r.err, "mapping.on_error: dead_letter"));
        // The transactions before it are written, once; nothing of the failed transaction
        // (not even the other rule's event) and nothing after it.
        CHECK(
            topics_and_values(events_in(dir)) ==
            std::vector<std::string>{R"(notes {"Id":1,"Text":"first"})", R"(notes.seen {"Id":1})"});
    }

    // With the rule fixed, walbus resumes with the transaction it stopped at.
    config = rules_config(dir, db, tables, note_rules("stop", false));
    auto r = run_walbus({"run", "-c", config.string(), "--stop-at-lsn", lsn}, dir);
    INFO("walbus stderr:\n" << r.err);
    CHECK(r.code == 0);
    CHECK(topics_and_values(events_in(dir)) ==
          std::vector<std::string>{R"(notes {"Id":1,"Text":"first"})", R"(notes.seen {"Id":1})",
                                   R"(notes {"Id":2})", R"(notes.seen {"Id":2})",
                                   R"(tags {"Id":3})"});
}

TEST_CASE("mapping.on_error: dead_letter sends what a rule cannot map aside and goes on",
          "[mapping]") {
    TestDb db("map_dead");
    SlotCleanup cleanup{db};
    db.conn().exec("CREATE TABLE notes (id int PRIMARY KEY, note text);"
                   "CREATE TABLE tags (id int PRIMARY KEY)");
    TempDir dir;
    auto config = rules_config(dir, db, with_tables({"notes", "tags"}), note_rules("dead_letter"));
    run_to_end(dir, db, config);
    drop_note_mid_stream(db);
    auto r = run_walbus({"run", "-c", config.string(), "--stop-at-lsn", db.current_wal_lsn()}, dir);
    INFO("walbus stderr:\n" << r.err);
    REQUIRE(r.code == 0);
    CHECK(contains(r.err, "sent to notes.dead_letter"));

    auto events = events_in(dir);
    REQUIRE(events.size() == 5);
    CHECK(topics_and_values({events[0], events[1]}) ==
          std::vector<std::string>{R"(notes {"Id":1,"Text":"first"})", R"(notes.seen {"Id":1})"});

    auto& dead = events[2];
    CHECK(dead.topic == "notes.dead_letter");
    CHECK_FALSE(dead.key.has_value());
    CHECK(dead.headers.size() == 2);
    CHECK(is_uuid_v5(dead.headers["walbus-id"]));
    CHECK(dead.headers["walbus-type"] == "walbus.dead_letter");
    simdjson::dom::parser parser;
    simdjson::dom::element value;
    REQUIRE(parser.parse(dead.value).get(value) == simdjson::SUCCESS);
    CHECK(value["rule"].get_string().value() == "note_added");
    std::string error(value["error"].get_string().value());
    INFO("error: " << error);
    CHECK(contains(error, "'note'"));
    auto change = parse_event_lines(simdjson::minify(value["change"].value()));
    REQUIRE(change.size() == 1);
    CHECK(change[0].op == "insert");
    CHECK(change[0].table == "notes");
    CHECK(*change[0].after == std::map<std::string, std::string>{{"id", "2"}});

    // The other rule on the same change still made its event, and walbus went on.
    CHECK(topics_and_values({events[3], events[4]}) ==
          std::vector<std::string>{R"(notes.seen {"Id":2})", R"(tags {"Id":3})"});
}

TEST_CASE("check --connect finds rules that do not fit the database", "[mapping]") {
    TestDb db("map_check");
    SlotCleanup cleanup{db};
    db.conn().exec("CREATE TABLE items (id int PRIMARY KEY, price numeric, name text);"
                   "CREATE TABLE other (id int PRIMARY KEY);"
                   "CREATE PUBLICATION walbus FOR TABLE items");
    TempDir dir;
    ConfigOptions o;
    o.create_publication = false;
    auto check = [&](const std::string& rule) {
        auto config = rules_config(dir, db, o, "rules:\n" + rule);
        return run_walbus({"check", "-c", config.string(), "--connect"}, dir);
    };
    const std::string update_rule = "  - name: item_changed\n"
                                    "    table: items\n"
                                    "    operations: [update]\n"
                                    "    event: ItemChanged\n"
                                    "    topic: items\n";

    // The rule as it should be: fine.
    auto r = check(update_rule + "    payload:\n      Id: new.id\n      Name: new.name\n");
    INFO(r.err);
    CHECK(r.code == 0);

    // An unknown column, at its place in the file.
    r = check(update_rule + "    payload:\n      Id: new.id\n      Colour: new.colour\n");
    CHECK(r.code == 2);
    CHECK(contains(r.err, "walbus.yaml:"));
    CHECK(contains(r.err, "error: payload 'Colour': table public.items has no column 'colour'"));

    // Old values that REPLICA IDENTITY DEFAULT does not log.
    r = check(update_rule + "    payload:\n      OldPrice: old.price\n");
    CHECK(r.code == 2);
    CHECK(contains(r.err, "old.price"));
    CHECK(contains(r.err, "REPLICA IDENTITY FULL"));
    r = check(update_rule + "    when: changed(price)\n");
    CHECK(r.code == 2);
    CHECK(contains(r.err, "changed(price)"));
    CHECK(contains(r.err, "REPLICA IDENTITY FULL"));
    // ... and with it, both are fine.
    db.conn().exec("ALTER TABLE items REPLICA IDENTITY FULL");
    r = check(update_rule + "    when: changed(price)\n    payload:\n      OldPrice: old.price\n");
    CHECK(r.code == 0);

    // A mapped table that the publication does not have.
    r = check("  - name: other_added\n    table: other\n    event: OtherAdded\n"
              "    topic: other\n    operations: [insert]\n");
    CHECK(r.code == 2);
    CHECK(contains(r.err, "table public.other is not in publication \"walbus\""));
    CHECK(contains(r.err, "ALTER PUBLICATION"));
    // Nothing was created by checking.
    CHECK(db.conn().value("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '" +
                          db.name() + "'") == "0");
}

TEST_CASE("tail prints the events of commits made while it runs and leaves no slot", "[mapping]") {
    TestDb db("map_tail");
    SlotCleanup cleanup{db};
    db.conn().exec("CREATE TABLE t (id int PRIMARY KEY, v text);"
                   "CREATE PUBLICATION walbus FOR TABLE t");
    db.conn().exec("INSERT INTO t VALUES (0, 'before')");
    TempDir dir;
    ConfigOptions o;
    o.create_publication = false;
    auto config = rules_config(dir, db, o,
                               "rules:\n"
                               "  - name: t_added\n"
                               "    table: t\n"
                               "    operations: [insert]\n"
                               "    event: Added\n"
                               "    topic: t.events\n"
                               "    key: \"{new.id}\"\n"
                               "    payload:\n"
                               "      V: new.v\n");
    Walbus tail({"tail", "-c", config.string()}, dir / "tail.out", dir / "tail.err");
    const std::string tail_slot = "walbus_tail_" + std::to_string(tail.pid());
    bool streaming = eventually([&] {
        return db.conn().value("SELECT count(*) FROM pg_replication_slots WHERE active AND "
                               "slot_name = '" +
                               tail_slot + "'") == "1";
    });
    INFO("tail stderr:\n" << tail.stderr_text());
    REQUIRE(streaming);
    db.conn().exec("INSERT INTO t VALUES (1, 'one')");
    db.conn().exec("INSERT INTO t VALUES (2, 'two')");
    REQUIRE(eventually([&] { return read_lines(dir / "tail.out").size() >= 2; }));
    tail.signal(SIGTERM);
    CHECK(tail.wait() == 0);

    auto events = parse_mapped(read_file(dir / "tail.out"));
    REQUIRE(events.size() == 2);
    CHECK(events[0].topic == "t.events");
    CHECK(events[0].key == "1");
    CHECK(events[0].value == R"({"V":"one"})");
    CHECK(events[1].key == "2");
    CHECK(events[1].value == R"({"V":"two"})");
    // Read-only: no slot left behind, none of the pipeline's own, no checkpoint, no sink file.
    CHECK(eventually([&] {
        return db.conn().value("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '" +
                               tail_slot + "' OR slot_name = '" + db.name() + "'") == "0";
    }));
    CHECK_FALSE(fs::exists(dir / "checkpoint"));
    CHECK_FALSE(fs::exists(dir / "events.jsonl"));
}
