#include "json_reader.h"
#include "oe_pyproc_loader.h"
#include "test_support.h"

int main() {
    using oe_pyproc::read_json_object_strings;
    std::map<std::string, std::string> strings;
    CHECK(read_json_object_strings(R"({"schema": 1, "python_home": "/a/b", "nested": {"x": [1, 2.5e3, null]}})",
                                   strings) == "");
    CHECK(strings["python_home"] == "/a/b");
    CHECK(strings.count("schema") == 0);
    CHECK(strings.count("x") == 0);
    strings.clear();
    std::map<std::string, std::string> numbers;
    CHECK(read_json_object_strings(R"({"schema": 2, "n": -1.5e3, "x": {"schema": 9}})", strings, &numbers) == "");
    CHECK(numbers["schema"] == "2" && numbers["n"] == "-1.5e3" && numbers.size() == 2);
    strings.clear();
    CHECK(read_json_object_strings(R"({"p": "caf\u00e9 \"q\"\n"})", strings) == "");
    CHECK(strings["p"] == "caf\xc3\xa9 \"q\"\n");
    CHECK(!read_json_object_strings("[1, 2]", strings).empty());
    CHECK(!read_json_object_strings(R"({"a": "b",})", strings).empty());
    CHECK(!read_json_object_strings(R"({"a": "b"} trailing)", strings).empty());
    CHECK(!read_json_object_strings(R"({"a": "unterminated)", strings).empty());
    CHECK(!read_json_object_strings("", strings).empty());

    // json_quote: UTF-8 passes, bytes that are not well-formed UTF-8 become \udcXX (surrogateescape).
    using oe_pyproc::json_quote;
    CHECK(json_quote("caf\xc3\xa9 \xf0\x9f\x90\x8d") == "\"caf\xc3\xa9 \xf0\x9f\x90\x8d\"");
    CHECK(json_quote("/data/caf\xe9") == "\"/data/caf\\udce9\"");                 // Latin-1 byte
    CHECK(json_quote("\xc3") == "\"\\udcc3\"");                                   // truncated sequence
    CHECK(json_quote("\xc0\xaf") == "\"\\udcc0\\udcaf\"");                        // overlong '/'
    CHECK(json_quote("\xed\xa0\x80") == "\"\\udced\\udca0\\udc80\"");             // encoded surrogate
    CHECK(json_quote("\xf4\x90\x80\x80") == "\"\\udcf4\\udc90\\udc80\\udc80\"");  // above U+10FFFF
    CHECK(json_quote("a\"b\\\x01") == "\"a\\\"b\\\\\\u0001\"");
    return test_result();
}
