#include "home_layout.h"

#include <cctype>
#include <sstream>

namespace oe_pyproc {
namespace layout {

namespace {

std::string lower(std::string text) {
    for (char& c : text) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return text;
}

bool is_separator(char c, bool windows) {
    return c == '/' || (windows && c == '\\');
}

std::string without_trailing_separators(std::string path, bool windows) {
    // Keep a root: "/" and "C:\".
    while (path.size() > 1 && is_separator(path.back(), windows) && !(windows && path.size() == 3 && path[1] == ':')) {
        path.pop_back();
    }
    return path;
}

}  // namespace

std::string trim(const std::string& text) {
    const auto begin = text.find_first_not_of(" \t\r\n");
    if (begin == std::string::npos) {
        return "";
    }
    const auto end = text.find_last_not_of(" \t\r\n");
    return text.substr(begin, end - begin + 1);
}

std::string pyvenv_value(const std::string& text, const std::string& key) {
    const std::string bom = "\xEF\xBB\xBF";
    std::istringstream lines(text.compare(0, bom.size(), bom) == 0 ? text.substr(bom.size()) : text);
    const std::string wanted = lower(key);
    std::string line;
    while (std::getline(lines, line)) {
        const auto equals = line.find('=');
        if (equals != std::string::npos && lower(trim(line.substr(0, equals))) == wanted) {
            return trim(line.substr(equals + 1));
        }
    }
    return "";
}

std::string expand_user(const std::string& path, const std::string& user_home, bool windows) {
    if (path.empty() || path[0] != '~' || user_home.empty() || (path.size() > 1 && !is_separator(path[1], windows))) {
        return path;
    }
    return without_trailing_separators(user_home, windows) + path.substr(1);
}

std::string venv_base_prefix(const std::string& home_value, bool windows) {
    const std::string home = without_trailing_separators(trim(home_value), windows);
    if (windows) {
        return home;
    }
    const auto slash = home.rfind('/');
    if (slash != std::string::npos && home.substr(slash + 1) == "bin") {
        return slash == 0 ? "/" : home.substr(0, slash);
    }
    return home;
}

std::string windows_python_dll_name(int major, int minor) {
    return "python" + std::to_string(major) + std::to_string(minor) + ".dll";
}

bool parse_windows_python_dll_name(const std::string& file_name, int& major, int& minor) {
    const std::string name = lower(file_name);
    const std::string prefix = "python3";
    const std::string suffix = ".dll";
    if (name.size() <= prefix.size() + suffix.size() || name.compare(0, prefix.size(), prefix) != 0 ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
        return false;
    }
    const std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    if (digits.empty() || digits.size() > 2 || digits[0] == '0') {
        return false;
    }
    for (char c : digits) {
        if (!std::isdigit(static_cast<unsigned char>(c))) {
            return false;
        }
    }
    major = 3;
    minor = std::stoi(digits);
    return true;
}

std::vector<std::string> windows_dll_subfolders() {
    return {"", "DLLs", "Library\\bin"};
}

std::string windows_command_line(const std::vector<std::string>& argv) {
    std::string line;
    for (const std::string& arg : argv) {
        if (!line.empty()) {
            line += ' ';
        }
        if (!arg.empty() && arg.find_first_of(" \t\n\v\"") == std::string::npos) {
            line += arg;
            continue;
        }
        line += '"';
        size_t backslashes = 0;
        for (char c : arg) {
            if (c == '\\') {
                ++backslashes;
                continue;
            }
            // Backslashes are literal unless a quote follows: then each is doubled and the quote escaped.
            line.append(c == '"' ? 2 * backslashes + 1 : backslashes, '\\');
            line += c;
            backslashes = 0;
        }
        line.append(2 * backslashes, '\\');  // before the closing quote
        line += '"';
    }
    return line;
}

std::string bundle_bridge_dir(const std::string& bridge_dir) {
    const std::string folder = without_trailing_separators(bridge_dir, false);
    const std::string extension = ".bundle";
    if (folder.size() > extension.size() &&
        folder.compare(folder.size() - extension.size(), extension.size(), extension) == 0) {
        return folder + "/Contents/MacOS";
    }
    return bridge_dir;
}

}  // namespace layout
}  // namespace oe_pyproc
