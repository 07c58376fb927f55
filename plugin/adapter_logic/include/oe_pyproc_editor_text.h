// oe_pyproc_editor_text.h — the editor's text, fitted to its width without JUCE: which lines, what each says,
// and how a line that does not fit is shortened (at word or folder boundaries, never silently: every line's
// tooltip holds its full text). The editor only measures (its font) and draws.
#pragma once

#include "oe_pyproc_adapter_logic.h"

#include <functional>
#include <string>
#include <vector>

namespace oe_pyproc::adapter {

// Width of a UTF-8 text as drawn (the editor: its font's; the tests: characters).
using TextWidth = std::function<double(const std::string& text)>;

// The ellipsis that marks shortened text ("…", U+2026).
extern const char* const kEllipsis;

// `text` if it fits `max_width`; else its longest start ending at a word boundary (a space) that fits with
// "…" after it. Only a first word that does not fit on its own is cut inside, at a character boundary.
std::string fit_words(const std::string& text, double max_width, const TextWidth& width);

// `path` if it fits; else "…/" followed by its longest tail of whole folders that fits (the end of a path is
// what tells Homes and scripts apart); only a last component that does not fit on its own is cut inside.
std::string fit_path(const std::string& path, double max_width, const TextWidth& width);

struct EditorLine {
    std::string text;     // fitted to the width
    std::string tooltip;  // the full text, and what more there is to see
    bool shortened = false;
};

// The editor's four status lines, always in this order (an empty text when there is nothing to say):
// Home (path and Python version, or the check, or why none), Script (file and state), Error (the last
// error's exception line; the full traceback is behind the Error... button) and Block (script time per block
// against the budget).
struct EditorText {
    EditorLine home, script, error, block;
    bool has_error = false;  // enables the Error... button
};
EditorText editor_text(const StatusInfo& status, double max_width, const TextWidth& width);

}  // namespace oe_pyproc::adapter
