// A small strict JSON reader for the DESIGN §5 files the loader reads (default Home file, install
// manifest): validates the whole document and returns the top-level string members of an object.
#pragma once

#include <map>
#include <string>

namespace oe_pyproc {

// Parses `text`; on success fills `strings` with the top-level object's string members (and `numbers`, when
// given, with its number members as written, e.g. "schema" -> "1") and returns "".
// Returns a description of the problem otherwise (not an object, syntax error at offset N).
std::string read_json_object_strings(const std::string& text, std::map<std::string, std::string>& strings,
                                     std::map<std::string, std::string>* numbers = nullptr);

}  // namespace oe_pyproc
