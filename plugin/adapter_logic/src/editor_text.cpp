#include "oe_pyproc_editor_text.h"

#include <cstdio>
#include <filesystem>

namespace oe_pyproc::adapter {

const char* const kEllipsis = "\u2026";

namespace {

bool is_continuation_byte(char c) {
    return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

// The longest start of `text` (cut at a character boundary) that fits with "…" after it.
std::string cut_inside(const std::string& text, double max_width, const TextWidth& width) {
    for (size_t end = text.size(); end > 0; --end) {
        if (is_continuation_byte(text[end])) {
            continue;  // never split a UTF-8 sequence (text[size()] is the terminating NUL: not one)
        }
        std::string candidate = text.substr(0, end) + kEllipsis;
        if (width(candidate) <= max_width) {
            return candidate;
        }
    }
    return kEllipsis;
}

bool is_separator(char c) {
    return c == '/' || c == '\\';
}

std::string base_name(const std::string& path) {
    size_t end = path.size();
    while (end > 1 && is_separator(path[end - 1])) {
        --end;
    }
    size_t start = end;
    while (start > 0 && !is_separator(path[start - 1])) {
        --start;
    }
    return path.substr(start, end - start);
}

// "<before><fitted middle><after>", the middle fitted into what the rest leaves of max_width.
std::string fit_middle(const std::string& before, const std::string& middle, const std::string& after,
                       bool middle_is_path, double max_width, const TextWidth& width) {
    const double room = max_width - width(before) - width(after);
    return before + (middle_is_path ? fit_path(middle, room, width) : fit_words(middle, room, width)) + after;
}

EditorLine make_line(std::string full, std::string fitted, std::string more) {
    EditorLine line;
    line.shortened = fitted != full;
    line.text = std::move(fitted);
    line.tooltip = std::move(full);
    if (!more.empty()) {
        line.tooltip += "\n" + more;
    }
    return line;
}

std::string format_ms(double us) {
    char text[32];
    std::snprintf(text, sizeof text, us >= 1000.0 ? "%.2f ms" : "%.3f ms", us / 1000.0);
    return text;
}

}  // namespace

std::string fit_words(const std::string& text, double max_width, const TextWidth& width) {
    if (width(text) <= max_width) {
        return text;
    }
    // Longest start ending before a space that fits with the ellipsis.
    for (size_t space = text.rfind(' '); space != std::string::npos && space > 0; space = text.rfind(' ', space - 1)) {
        size_t end = space;
        while (end > 0 && text[end - 1] == ' ') {
            --end;
        }
        if (end == 0) {
            break;
        }
        std::string candidate = text.substr(0, end) + kEllipsis;
        if (width(candidate) <= max_width) {
            return candidate;
        }
    }
    return cut_inside(text.substr(0, text.find(' ')), max_width, width);
}

std::string fit_path(const std::string& path, double max_width, const TextWidth& width) {
    if (width(path) <= max_width) {
        return path;
    }
    // Drop leading folders, one at a time: the first tail that fits wins (the longest).
    for (size_t i = 1; i < path.size(); ++i) {
        if (is_separator(path[i]) && i + 1 < path.size()) {
            std::string candidate = kEllipsis + path.substr(i);
            if (width(candidate) <= max_width) {
                return candidate;
            }
        }
    }
    return cut_inside(base_name(path), max_width, width);
}

EditorText editor_text(const StatusInfo& status, double max_width, const TextWidth& width) {
    EditorText text;

    // Home: the path is shortened (its end kept); the label and the version always show.
    if (!status.home.empty()) {
        const std::string version = status.python_version.empty() ? "" : " (Python " + status.python_version + ")";
        text.home = make_line("Home: " + status.home + version,
                              fit_middle("Home: ", status.home, version, true, max_width, width),
                              "the Python environment this GUI process runs (restart the GUI to switch)");
    } else if (!status.checking_home.empty()) {
        text.home =
            make_line("Home: checking Home\u2026 " + status.checking_home,
                      fit_middle("Home: checking Home\u2026 ", status.checking_home, "", true, max_width, width),
                      "its interpreter is started once to import numpy, in the background");
    } else {
        const std::string full = "Home: none" + (status.home_problem.empty() ? "" : " - " + status.home_problem);
        text.home = make_line(full, fit_words(full, max_width, width), "choose one with Home...");
    }

    // Script: the state always shows; the file name is shortened first.
    const ScriptState state = script_state(status);
    const std::string full_state = "Script: " + script_state_text(status);
    std::string fitted_state;
    if (state == ScriptState::NoScript) {
        fitted_state = fit_words(full_state, max_width, width);
    } else if (state == ScriptState::Loading) {
        fitted_state =
            fit_middle("Script: loading script\u2026 ", base_name(status.loading_script), "", true, max_width, width);
    } else {
        const std::string name = base_name(status.script_path);
        const std::string after = full_state.substr(std::string("Script: ").size() + name.size());
        fitted_state = fit_middle("Script: ", name, after, true, max_width, width);
    }
    const std::string& shown_path = state == ScriptState::Loading ? status.loading_script : status.script_path;
    text.script = make_line(full_state, fitted_state, shown_path.empty() ? "" : shown_path);

    // Error: the exception line, shortened at words; the traceback is one click away.
    if (!status.last_error.empty()) {
        const std::string full = "Error: " + error_summary(status.last_error);
        text.error = make_line(full, fit_words(full, max_width, width), "Error... shows the full traceback");
        text.has_error = true;
    }

    // Block: script time per block against the block's duration.
    if (status.timing.blocks > 0) {
        char load[32];
        std::snprintf(load, sizeof load, "%.0f%%", status.timing.load * 100.0);
        const std::string full = "Block: " + format_ms(status.timing.mean_us) + " mean, " +
                                 format_ms(status.timing.max_us) + " max of " + format_ms(status.timing.budget_us) +
                                 " (" + load + ")";
        text.block = make_line(full, fit_words(full, max_width, width),
                               "script time per block: mean of about the last 64 blocks, max since acquisition "
                               "started, against the budget (the duration of one block of data)");
    }
    return text;
}

}  // namespace oe_pyproc::adapter
