#include "json_reader.h"

#include "oe_pyproc_loader.h"

#include <cstdint>
#include <cstdio>
#include <stdexcept>

namespace oe_pyproc {
namespace {

class Parser {
public:
    explicit Parser(const std::string& text) : text_(text) {}

    void parse_document(std::map<std::string, std::string>& strings, std::map<std::string, std::string>* numbers) {
        skip_space();
        if (peek() != '{') {
            fail("the document is not a JSON object");
        }
        parse_object(&strings, numbers);
        skip_space();
        if (position_ != text_.size()) {
            fail("unexpected text after the object");
        }
    }

private:
    [[noreturn]] void fail(const std::string& what) const {
        throw std::runtime_error(what + " (at offset " + std::to_string(position_) + ")");
    }
    char peek() const { return position_ < text_.size() ? text_[position_] : '\0'; }
    void expect(char c) {
        if (peek() != c) {
            fail(std::string("expected '") + c + "'");
        }
        ++position_;
    }
    void skip_space() {
        while (position_ < text_.size() && (text_[position_] == ' ' || text_[position_] == '\n' ||
                                            text_[position_] == '\r' || text_[position_] == '\t')) {
            ++position_;
        }
    }

    static void append_utf8(std::string& out, uint32_t code) {
        if (code < 0x80) {
            out += static_cast<char>(code);
        } else if (code < 0x800) {
            out += static_cast<char>(0xC0 | (code >> 6));
            out += static_cast<char>(0x80 | (code & 0x3F));
        } else if (code < 0x10000) {
            out += static_cast<char>(0xE0 | (code >> 12));
            out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (code & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (code >> 18));
            out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (code & 0x3F));
        }
    }

    uint32_t parse_hex4() {
        if (position_ + 4 > text_.size()) {
            fail("truncated \\u escape");
        }
        uint32_t value = 0;
        for (int i = 0; i < 4; ++i) {
            const char c = text_[position_++];
            value <<= 4;
            if (c >= '0' && c <= '9') {
                value |= static_cast<uint32_t>(c - '0');
            } else if (c >= 'a' && c <= 'f') {
                value |= static_cast<uint32_t>(c - 'a' + 10);
            } else if (c >= 'A' && c <= 'F') {
                value |= static_cast<uint32_t>(c - 'A' + 10);
            } else {
                fail("bad \\u escape");
            }
        }
        return value;
    }

    std::string parse_string() {
        expect('"');
        std::string out;
        while (true) {
            if (position_ >= text_.size()) {
                fail("unterminated string");
            }
            const char c = text_[position_++];
            if (c == '"') {
                return out;
            }
            if (static_cast<unsigned char>(c) < 0x20) {
                fail("control character in string");
            }
            if (c != '\\') {
                out += c;
                continue;
            }
            const char escape = peek();
            ++position_;
            switch (escape) {
                case '"': out += '"'; break;
                case '\\': out += '\\'; break;
                case '/': out += '/'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': {
                    uint32_t code = parse_hex4();
                    if (code >= 0xD800 && code < 0xDC00 && text_.compare(position_, 2, "\\u") == 0) {
                        position_ += 2;
                        const uint32_t low = parse_hex4();
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                    }
                    append_utf8(out, code);
                    break;
                }
                default: fail("bad escape in string");
            }
        }
    }

    void parse_literal(const char* word) {
        const std::string expected(word);
        if (text_.compare(position_, expected.size(), expected) != 0) {
            fail("unexpected value");
        }
        position_ += expected.size();
    }

    std::string parse_number() {
        const size_t start = position_;
        if (peek() == '-') {
            ++position_;
        }
        while (position_ < text_.size() && std::string("0123456789.eE+-").find(text_[position_]) != std::string::npos) {
            ++position_;
        }
        if (position_ == start) {
            fail("unexpected character");
        }
        return text_.substr(start, position_ - start);
    }

    // Parses any value; a string (or a number, as written) is stored into *scalar_out when given.
    void parse_value(std::string* scalar_out) {
        skip_space();
        switch (peek()) {
            case '{': parse_object(nullptr, nullptr); break;
            case '[': parse_array(); break;
            case '"': {
                std::string value = parse_string();
                if (scalar_out != nullptr) {
                    *scalar_out = std::move(value);
                }
                break;
            }
            case 't': parse_literal("true"); break;
            case 'f': parse_literal("false"); break;
            case 'n': parse_literal("null"); break;
            default: {
                std::string literal = parse_number();
                if (scalar_out != nullptr) {
                    *scalar_out = std::move(literal);
                }
            }
        }
        skip_space();
    }

    void parse_array() {
        expect('[');
        skip_space();
        if (peek() == ']') {
            ++position_;
            return;
        }
        while (true) {
            parse_value(nullptr);
            if (peek() == ',') {
                ++position_;
                continue;
            }
            expect(']');
            return;
        }
    }

    void parse_object(std::map<std::string, std::string>* strings, std::map<std::string, std::string>* numbers) {
        expect('{');
        skip_space();
        if (peek() == '}') {
            ++position_;
            return;
        }
        while (true) {
            skip_space();
            const std::string key = parse_string();
            skip_space();
            expect(':');
            skip_space();
            const bool is_string = peek() == '"';
            const bool is_number = peek() == '-' || (peek() >= '0' && peek() <= '9');
            std::string value;
            parse_value(is_string || is_number ? &value : nullptr);
            if (strings != nullptr && is_string) {
                (*strings)[key] = value;
            }
            if (numbers != nullptr && is_number) {
                (*numbers)[key] = value;
            }
            if (peek() == ',') {
                ++position_;
                continue;
            }
            expect('}');
            return;
        }
    }

    const std::string& text_;
    size_t position_ = 0;
};

}  // namespace

std::string read_json_object_strings(const std::string& text, std::map<std::string, std::string>& strings,
                                     std::map<std::string, std::string>* numbers) {
    try {
        Parser(text).parse_document(strings, numbers);
        return "";
    } catch (const std::runtime_error& error) {
        return error.what();
    }
}

namespace {

// Length of the well-formed UTF-8 sequence at text[i] (RFC 3629: no overlong forms, no surrogates, at most
// U+10FFFF), 0 when the bytes there are not one.
size_t utf8_sequence_length(const std::string& text, size_t i) {
    const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
    const unsigned char lead = byte(i);
    size_t length = 0;
    unsigned char low = 0x80, high = 0xBF;  // allowed range of the second byte
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        low = lead == 0xE0 ? 0xA0 : 0x80;
        high = lead == 0xED ? 0x9F : 0xBF;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        low = lead == 0xF0 ? 0x90 : 0x80;
        high = lead == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    if (i + length > text.size() || byte(i + 1) < low || byte(i + 1) > high) {
        return 0;
    }
    for (size_t k = 2; k < length; ++k) {
        if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) {
            return 0;
        }
    }
    return length;
}

}  // namespace

std::string json_quote(const std::string& text) {
    std::string out = "\"";
    char escaped[8];
    for (size_t i = 0; i < text.size();) {
        const unsigned char c = static_cast<unsigned char>(text[i]);
        if (c >= 0x80) {
            const size_t length = utf8_sequence_length(text, i);
            if (length > 0) {
                out.append(text, i, length);
                i += length;
            } else {
                // Not UTF-8 (a file name's raw bytes on POSIX): escaped as Python's surrogateescape does, so
                // json.loads + os.fsencode give the original bytes back, and the document stays valid UTF-8.
                std::snprintf(escaped, sizeof(escaped), "\\udc%02x", c);
                out += escaped;
                ++i;
            }
            continue;
        }
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20) {
                    std::snprintf(escaped, sizeof(escaped), "\\u%04x", c);
                    out += escaped;
                } else {
                    out += static_cast<char>(c);
                }
        }
        ++i;
    }
    return out + "\"";
}

}  // namespace oe_pyproc
