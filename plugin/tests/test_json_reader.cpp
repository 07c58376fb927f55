#include "json_reader.h"
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
    return test_result();
}
