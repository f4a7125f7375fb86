#include "walbus/core/type_registry.h"

#include <array>
#include <string_view>

namespace walbus::pg {
namespace {

constexpr std::uint32_t kBuiltinOidLimit = 6200; // above every OID in kBuiltinTypes

struct BuiltinType {
    std::uint32_t oid;
    std::string_view name;
    TypeKind kind;
    std::uint32_t element_oid;
    char delimiter;
};

// Every built-in base, array, range and multirange type a column can have, from pg_type of
// PostgreSQL 15 (OIDs below 10000 are fixed across versions). Left out: pseudo-types and the row
// types of system catalogs.
constexpr BuiltinType kBuiltinTypes[] = {
    {16, "bool", TypeKind::Base, 0, ','},
    {17, "bytea", TypeKind::Base, 0, ','},
    {18, "char", TypeKind::Base, 0, ','},
    {19, "name", TypeKind::Base, 0, ','},
    {20, "int8", TypeKind::Base, 0, ','},
    {21, "int2", TypeKind::Base, 0, ','},
    {22, "int2vector", TypeKind::Base, 0, ','},
    {23, "int4", TypeKind::Base, 0, ','},
    {24, "regproc", TypeKind::Base, 0, ','},
    {25, "text", TypeKind::Base, 0, ','},
    {26, "oid", TypeKind::Base, 0, ','},
    {27, "tid", TypeKind::Base, 0, ','},
    {28, "xid", TypeKind::Base, 0, ','},
    {29, "cid", TypeKind::Base, 0, ','},
    {30, "oidvector", TypeKind::Base, 0, ','},
    {114, "json", TypeKind::Base, 0, ','},
    {142, "xml", TypeKind::Base, 0, ','},
    {143, "_xml", TypeKind::Array, 142, ','},
    {194, "pg_node_tree", TypeKind::Base, 0, ','},
    {199, "_json", TypeKind::Array, 114, ','},
    {271, "_xid8", TypeKind::Array, 5069, ','},
    {600, "point", TypeKind::Base, 0, ','},
    {601, "lseg", TypeKind::Base, 0, ','},
    {602, "path", TypeKind::Base, 0, ','},
    {603, "box", TypeKind::Base, 0, ';'},
    {604, "polygon", TypeKind::Base, 0, ','},
    {628, "line", TypeKind::Base, 0, ','},
    {629, "_line", TypeKind::Array, 628, ','},
    {650, "cidr", TypeKind::Base, 0, ','},
    {651, "_cidr", TypeKind::Array, 650, ','},
    {700, "float4", TypeKind::Base, 0, ','},
    {701, "float8", TypeKind::Base, 0, ','},
    {718, "circle", TypeKind::Base, 0, ','},
    {719, "_circle", TypeKind::Array, 718, ','},
    {774, "macaddr8", TypeKind::Base, 0, ','},
    {775, "_macaddr8", TypeKind::Array, 774, ','},
    {790, "money", TypeKind::Base, 0, ','},
    {791, "_money", TypeKind::Array, 790, ','},
    {829, "macaddr", TypeKind::Base, 0, ','},
    {869, "inet", TypeKind::Base, 0, ','},
    {1000, "_bool", TypeKind::Array, 16, ','},
    {1001, "_bytea", TypeKind::Array, 17, ','},
    {1002, "_char", TypeKind::Array, 18, ','},
    {1003, "_name", TypeKind::Array, 19, ','},
    {1005, "_int2", TypeKind::Array, 21, ','},
    {1006, "_int2vector", TypeKind::Array, 22, ','},
    {1007, "_int4", TypeKind::Array, 23, ','},
    {1008, "_regproc", TypeKind::Array, 24, ','},
    {1009, "_text", TypeKind::Array, 25, ','},
    {1010, "_tid", TypeKind::Array, 27, ','},
    {1011, "_xid", TypeKind::Array, 28, ','},
    {1012, "_cid", TypeKind::Array, 29, ','},
    {1013, "_oidvector", TypeKind::Array, 30, ','},
    {1014, "_bpchar", TypeKind::Array, 1042, ','},
    {1015, "_varchar", TypeKind::Array, 1043, ','},
    {1016, "_int8", TypeKind::Array, 20, ','},
    {1017, "_point", TypeKind::Array, 600, ','},
    {1018, "_lseg", TypeKind::Array, 601, ','},
    {1019, "_path", TypeKind::Array, 602, ','},
    {1020, "_box", TypeKind::Array, 603, ';'},
    {1021, "_float4", TypeKind::Array, 700, ','},
    {1022, "_float8", TypeKind::Array, 701, ','},
    {1027, "_polygon", TypeKind::Array, 604, ','},
    {1028, "_oid", TypeKind::Array, 26, ','},
    {1033, "aclitem", TypeKind::Base, 0, ','},
    {1034, "_aclitem", TypeKind::Array, 1033, ','},
    {1040, "_macaddr", TypeKind::Array, 829, ','},
    {1041, "_inet", TypeKind::Array, 869, ','},
    {1042, "bpchar", TypeKind::Base, 0, ','},
    {1043, "varchar", TypeKind::Base, 0, ','},
    {1082, "date", TypeKind::Base, 0, ','},
    {1083, "time", TypeKind::Base, 0, ','},
    {1114, "timestamp", TypeKind::Base, 0, ','},
    {1115, "_timestamp", TypeKind::Array, 1114, ','},
    {1182, "_date", TypeKind::Array, 1082, ','},
    {1183, "_time", TypeKind::Array, 1083, ','},
    {1184, "timestamptz", TypeKind::Base, 0, ','},
    {1185, "_timestamptz", TypeKind::Array, 1184, ','},
    {1186, "interval", TypeKind::Base, 0, ','},
    {1187, "_interval", TypeKind::Array, 1186, ','},
    {1231, "_numeric", TypeKind::Array, 1700, ','},
    {1266, "timetz", TypeKind::Base, 0, ','},
    {1270, "_timetz", TypeKind::Array, 1266, ','},
    {1560, "bit", TypeKind::Base, 0, ','},
    {1561, "_bit", TypeKind::Array, 1560, ','},
    {1562, "varbit", TypeKind::Base, 0, ','},
    {1563, "_varbit", TypeKind::Array, 1562, ','},
    {1700, "numeric", TypeKind::Base, 0, ','},
    {1790, "refcursor", TypeKind::Base, 0, ','},
    {2201, "_refcursor", TypeKind::Array, 1790, ','},
    {2202, "regprocedure", TypeKind::Base, 0, ','},
    {2203, "regoper", TypeKind::Base, 0, ','},
    {2204, "regoperator", TypeKind::Base, 0, ','},
    {2205, "regclass", TypeKind::Base, 0, ','},
    {2206, "regtype", TypeKind::Base, 0, ','},
    {2207, "_regprocedure", TypeKind::Array, 2202, ','},
    {2208, "_regoper", TypeKind::Array, 2203, ','},
    {2209, "_regoperator", TypeKind::Array, 2204, ','},
    {2210, "_regclass", TypeKind::Array, 2205, ','},
    {2211, "_regtype", TypeKind::Array, 2206, ','},
    {2949, "_txid_snapshot", TypeKind::Array, 2970, ','},
    {2950, "uuid", TypeKind::Base, 0, ','},
    {2951, "_uuid", TypeKind::Array, 2950, ','},
    {2970, "txid_snapshot", TypeKind::Base, 0, ','},
    {3220, "pg_lsn", TypeKind::Base, 0, ','},
    {3221, "_pg_lsn", TypeKind::Array, 3220, ','},
    {3361, "pg_ndistinct", TypeKind::Base, 0, ','},
    {3402, "pg_dependencies", TypeKind::Base, 0, ','},
    {3614, "tsvector", TypeKind::Base, 0, ','},
    {3615, "tsquery", TypeKind::Base, 0, ','},
    {3642, "gtsvector", TypeKind::Base, 0, ','},
    {3643, "_tsvector", TypeKind::Array, 3614, ','},
    {3644, "_gtsvector", TypeKind::Array, 3642, ','},
    {3645, "_tsquery", TypeKind::Array, 3615, ','},
    {3734, "regconfig", TypeKind::Base, 0, ','},
    {3735, "_regconfig", TypeKind::Array, 3734, ','},
    {3769, "regdictionary", TypeKind::Base, 0, ','},
    {3770, "_regdictionary", TypeKind::Array, 3769, ','},
    {3802, "jsonb", TypeKind::Base, 0, ','},
    {3807, "_jsonb", TypeKind::Array, 3802, ','},
    {3904, "int4range", TypeKind::Range, 23, ','},
    {3905, "_int4range", TypeKind::Array, 3904, ','},
    {3906, "numrange", TypeKind::Range, 1700, ','},
    {3907, "_numrange", TypeKind::Array, 3906, ','},
    {3908, "tsrange", TypeKind::Range, 1114, ','},
    {3909, "_tsrange", TypeKind::Array, 3908, ','},
    {3910, "tstzrange", TypeKind::Range, 1184, ','},
    {3911, "_tstzrange", TypeKind::Array, 3910, ','},
    {3912, "daterange", TypeKind::Range, 1082, ','},
    {3913, "_daterange", TypeKind::Array, 3912, ','},
    {3926, "int8range", TypeKind::Range, 20, ','},
    {3927, "_int8range", TypeKind::Array, 3926, ','},
    {4072, "jsonpath", TypeKind::Base, 0, ','},
    {4073, "_jsonpath", TypeKind::Array, 4072, ','},
    {4089, "regnamespace", TypeKind::Base, 0, ','},
    {4090, "_regnamespace", TypeKind::Array, 4089, ','},
    {4096, "regrole", TypeKind::Base, 0, ','},
    {4097, "_regrole", TypeKind::Array, 4096, ','},
    {4191, "regcollation", TypeKind::Base, 0, ','},
    {4192, "_regcollation", TypeKind::Array, 4191, ','},
    {4451, "int4multirange", TypeKind::Multirange, 3904, ','},
    {4532, "nummultirange", TypeKind::Multirange, 3906, ','},
    {4533, "tsmultirange", TypeKind::Multirange, 3908, ','},
    {4534, "tstzmultirange", TypeKind::Multirange, 3910, ','},
    {4535, "datemultirange", TypeKind::Multirange, 3912, ','},
    {4536, "int8multirange", TypeKind::Multirange, 3926, ','},
    {4600, "pg_brin_bloom_summary", TypeKind::Base, 0, ','},
    {4601, "pg_brin_minmax_multi_summary", TypeKind::Base, 0, ','},
    {5017, "pg_mcv_list", TypeKind::Base, 0, ','},
    {5038, "pg_snapshot", TypeKind::Base, 0, ','},
    {5039, "_pg_snapshot", TypeKind::Array, 5038, ','},
    {5069, "xid8", TypeKind::Base, 0, ','},
    {6150, "_int4multirange", TypeKind::Array, 4451, ','},
    {6151, "_nummultirange", TypeKind::Array, 4532, ','},
    {6152, "_tsmultirange", TypeKind::Array, 4533, ','},
    {6153, "_tstzmultirange", TypeKind::Array, 4534, ','},
    {6155, "_datemultirange", TypeKind::Array, 4535, ','},
    {6157, "_int8multirange", TypeKind::Array, 4536, ','},
};

// OIDs below this one are assigned by initdb; user and extension types come after it.
constexpr std::uint32_t kFirstNormalObjectId = 16384;

constexpr JsonForm builtin_base_form(std::uint32_t oid) {
    switch (oid) {
    case 16: return JsonForm::Bool;
    case 20:   // int8
    case 21:   // int2
    case 23:   // int4
    case 26:   // oid
    case 28:   // xid
    case 29:   // cid
    case 5069: // xid8
        return JsonForm::Integer;
    case 700:
    case 701: return JsonForm::Float;
    case 1700: return JsonForm::Numeric;
    case 17: return JsonForm::Bytea;
    case 114:
    case 3802: return JsonForm::Json;
    case 1082: return JsonForm::Date;
    case 1266: return JsonForm::TimeTz;
    case 1114: return JsonForm::Timestamp;
    case 1184: return JsonForm::Timestamptz;
    default: return JsonForm::String;
    }
}

constexpr JsonForm form_of_kind(TypeKind kind, std::uint32_t oid) {
    switch (kind) {
    case TypeKind::Enum: return JsonForm::String;
    case TypeKind::Domain: return JsonForm::Domain;
    case TypeKind::Array: return JsonForm::Array;
    case TypeKind::Composite: return JsonForm::Composite;
    case TypeKind::Range: return JsonForm::Range;
    case TypeKind::Multirange: return JsonForm::Multirange;
    case TypeKind::Base: break;
    }
    return oid < kFirstNormalObjectId ? builtin_base_form(oid) : JsonForm::String;
}

// Position + 1 in kBuiltinTypes by OID, 0 for an OID that is not built-in; and each built-in
// type's form. Both are computed at compile time: the lookup of a column's type costs two loads.
struct BuiltinIndex {
    std::array<std::uint16_t, kBuiltinOidLimit> position{};
    std::array<JsonForm, kBuiltinOidLimit> form{};
};

constexpr bool oids_fit_index() {
    for (const BuiltinType& b : kBuiltinTypes) {
        if (b.oid >= kBuiltinOidLimit) {
            return false;
        }
    }
    return std::size(kBuiltinTypes) < 0xffff;
}
static_assert(oids_fit_index(), "raise kBuiltinOidLimit");

constexpr BuiltinIndex make_builtin_index() {
    BuiltinIndex index;
    std::uint16_t i = 0;
    for (const BuiltinType& b : kBuiltinTypes) {
        index.position[b.oid] = ++i;
        index.form[b.oid] = form_of_kind(b.kind, b.oid);
    }
    return index;
}

constexpr BuiltinIndex kBuiltinIndex = make_builtin_index();

// The built-in types as registry entries, made on first use.
const std::vector<TypeRegistry::Entry>& builtin_entries() {
    static const std::vector<TypeRegistry::Entry> entries = [] {
        std::vector<TypeRegistry::Entry> v;
        v.reserve(std::size(kBuiltinTypes));
        for (const BuiltinType& b : kBuiltinTypes) {
            TypeRegistry::Entry e;
            e.desc.oid = b.oid;
            e.desc.schema = "pg_catalog";
            e.desc.name = b.name;
            e.desc.kind = b.kind;
            e.desc.element_oid = b.element_oid;
            e.desc.delimiter = b.delimiter;
            e.form = kBuiltinIndex.form[b.oid];
            v.push_back(std::move(e));
        }
        return v;
    }();
    return entries;
}

bool is_builtin(std::uint32_t oid) {
    return oid < kBuiltinOidLimit && kBuiltinIndex.position[oid] != 0;
}

const TypeRegistry::Entry* builtin_entry(std::uint32_t oid) {
    if (!is_builtin(oid)) {
        return nullptr;
    }
    return &builtin_entries()[kBuiltinIndex.position[oid] - 1];
}

} // namespace

const TypeRegistry& TypeRegistry::builtins() {
    static const TypeRegistry registry;
    return registry;
}

bool TypeRegistry::builtin_form(std::uint32_t oid, JsonForm& form) {
    if (!is_builtin(oid)) {
        return false;
    }
    form = kBuiltinIndex.form[oid];
    return true;
}

JsonForm TypeRegistry::form_of(const TypeDesc& type) {
    // Extension types have no fixed OID: they are recognised by name. citext and every other
    // base type not built in are their text.
    if (type.kind == TypeKind::Base && type.oid >= kFirstNormalObjectId && type.name == "hstore") {
        return JsonForm::Hstore;
    }
    return form_of_kind(type.kind, type.oid);
}

void TypeRegistry::add(TypeDesc type) {
    if (is_builtin(type.oid)) {
        return;
    }
    Entry e;
    e.form = form_of(type);
    e.desc = std::move(type);
    std::uint32_t oid = e.desc.oid;
    added_.insert_or_assign(oid, std::move(e));
}

const TypeRegistry::Entry* TypeRegistry::entry(std::uint32_t oid) const {
    if (const Entry* e = builtin_entry(oid)) {
        return e;
    }
    if (added_.empty()) {
        return nullptr;
    }
    auto it = added_.find(oid);
    return it == added_.end() ? nullptr : &it->second;
}

const TypeDesc* TypeRegistry::find(std::uint32_t oid) const {
    const Entry* e = entry(oid);
    return e == nullptr ? nullptr : &e->desc;
}

} // namespace walbus::pg
