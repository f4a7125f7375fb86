#pragma once

// Forced into config/ for the fuzz build when the compiler cannot deduce the template arguments
// of config's Overloaded visitor, an aggregate (class template argument deduction for aggregates,
// P1816, arrives in clang 17). tests/fuzz/CMakeLists.txt checks first, so this guide is never a
// second one.

namespace walbus::config::detail {

template <class... Ts> struct Overloaded;
template <class... Ts> Overloaded(Ts...) -> Overloaded<Ts...>;

} // namespace walbus::config::detail
